/**
 * kill -9 of one worker of `serve --workers 2` under load: LMTP deliveries and IMAP APPEND + STORE run from
 * several connections (spread over both workers, reconnecting when theirs dies); one worker is SIGKILLed
 * mid-stream. Every acknowledged delivery is stored exactly once, every acknowledged APPEND is there with the
 * flag its acknowledged STORE set, the server keeps serving (more acknowledgements after the kill) and
 * restarts the worker, and SIGTERM still ends it with 0. Needs the built CLI.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeEnv, RawSmtp } from './delivery/helpers.js';
import { RawClient } from './imap-helpers.js';
import { outputMatches, serveWorkers, workerOf } from './workers-helpers.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('kill -9 of one worker under load loses no acknowledged message or flag; the server keeps serving', { timeout: 120_000 }, async () => {
  const env = await makeEnv([
    ['alice@example.org', 'pw'],
    ['bob@example.org', 'pw'],
  ]);
  await env.store.close();
  const s = await serveWorkers(env.dir, 2);
  const delivered = new Set<string>(); // LMTP: acknowledged X-Seq values (to alice)
  const flagged = new Map<string, boolean>(); // IMAP: acknowledged APPEND X-Seq -> its STORE was acknowledged
  let stop = false;
  let seq = 0;
  const acks = (): number => delivered.size + flagged.size;

  const lmtpSender = async (): Promise<void> => {
    while (!stop) {
      try {
        const { client } = await RawSmtp.open(s.ports['lmtp']!);
        await client.cmd('LHLO crash.test');
        while (!stop) {
          const id = `l${seq++}`;
          if ((await client.cmd('MAIL FROM:<s@remote.test>')).code !== 250) break;
          await client.cmd('RCPT TO:<alice@example.org>');
          if ((await client.cmd('DATA')).code !== 354) break;
          client.write(`Subject: ${id}\r\nX-Seq: ${id}\r\nMessage-ID: <${id}@crash.test>\r\n\r\n${'payload line\r\n'.repeat(30)}.\r\n`);
          if ((await client.reply()).code === 250) delivered.add(id);
        }
        client.socket.destroy();
      } catch {
        await sleep(20); // its worker died: connect again (to the one alive, or the restarted one)
      }
    }
  };
  const imapWriter = async (): Promise<void> => {
    while (!stop) {
      try {
        const c = await RawClient.connect(s.ports['imap']!);
        await c.login('bob@example.org', 'pw');
        await c.cmd('SELECT INBOX');
        while (!stop) {
          const id = `i${seq++}`;
          const m = `Subject: ${id}\r\nX-Seq: ${id}\r\n\r\nbody\r\n`;
          const r = await c.cmd(`APPEND INBOX {${m.length}+}\r\n${m}`);
          const uid = / OK \[APPENDUID \d+ (\d+)\]/.exec(r)?.[1];
          if (!uid) break;
          flagged.set(id, false);
          if (/ OK /.test(await c.cmd(`UID STORE ${uid} +FLAGS (\\Flagged)`))) flagged.set(id, true);
        }
        c.close();
      } catch {
        await sleep(20);
      }
    }
  };
  const load = [lmtpSender(), lmtpSender(), lmtpSender(), imapWriter(), imapWriter()];
  try {
    for (let i = 0; acks() < 60 && i < 1500; i++) await sleep(20);
    const victim = 1 + Math.floor(Math.random() * 2);
    const pid = s.workerPids().get(victim)!;
    await sleep(Math.floor(Math.random() * 40));
    process.kill(pid, 'SIGKILL');
    const atKill = acks();
    await outputMatches(s, new RegExp(`worker ready .*worker=${victim} pid=(?!${pid}\\b)\\d+`), 60_000);
    for (let i = 0; acks() < atKill + 40 && i < 1500; i++) await sleep(20);
    assert.ok(acks() >= atKill + 40, `only ${acks() - atKill} acknowledgements after the kill`);
  } finally {
    stop = true;
    await Promise.all(load);
  }

  // Read back through the cluster: every acknowledged change is there, once.
  const alice = await storedSeqs(s.ports['imap']!, 'alice@example.org');
  for (const id of delivered) assert.ok(alice.has(id), `acknowledged delivery ${id} missing`);
  const bob = await storedSeqs(s.ports['imap']!, 'bob@example.org');
  for (const [id, stored] of flagged) {
    assert.ok(bob.has(id), `acknowledged APPEND ${id} missing`);
    if (stored) assert.match(bob.get(id)!, /\\Flagged/, `acknowledged STORE on ${id} lost`);
  }
  assert.ok(delivered.size > 0 && flagged.size > 0, `deliveries ${delivered.size}, appends ${flagged.size}`);
  assert.equal(await s.stop(), 0, s.output());
  await env.close();
});

/** X-Seq -> flags of every message in the user's INBOX, read over IMAP; fails on an X-Seq stored twice. */
async function storedSeqs(port: number, user: string): Promise<Map<string, string>> {
  const c = await RawClient.connect(port);
  try {
    assert.notEqual(await workerOf(c), '');
    await c.login(user, 'pw');
    await c.cmd('SELECT INBOX');
    const text = await c.cmd('FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (X-SEQ)])', 'f1');
    const out = new Map<string, string>();
    for (const m of text.matchAll(/FLAGS \(([^)]*)\) BODY\[HEADER\.FIELDS \(X-SEQ\)\] \{\d+\}\r\nX-Seq: (\S+)/g)) {
      assert.ok(!out.has(m[2]!), `${m[2]} stored twice`);
      out.set(m[2]!, m[1]!);
    }
    return out;
  } finally {
    c.close();
  }
}
