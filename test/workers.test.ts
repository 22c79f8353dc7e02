/**
 * `mailroom serve --workers 2` as a process, with raw protocol clients: connections opened together are
 * shared evenly between the workers, IDLE and NOTIFY in one worker hear an
 * APPEND made through another worker, NOTIFY hears mailbox list changes made through another worker and a JMAP
 * EventSource in either worker an IMAP CREATE, the POP3 maildrop lock holds across workers, /metrics adds up every
 * worker, a killed worker is restarted while the other keeps serving, SIGTERM drains every worker and
 * exits 0; --workers 1 is one process; bad --workers values are refused. Needs the built CLI.
 */
import { after, before, describe, test } from 'node:test';
import { connect } from 'node:net';
import assert from 'node:assert/strict';
import { makeEnv } from './delivery/helpers.js';
import { runCli } from './helpers/cli.js';
import { RawClient, message } from './imap-helpers.js';
import { RawPop3 } from './pop3-helpers.js';
import { imapOnWorkers, outputMatches, serveWorkers, workerOf, type Served } from './workers-helpers.js';

const ALICE = 'alice@example.org';
const BOB = 'bob@example.org';
const PW = 'pw';

function append(c: RawClient, mailbox: string, subject: string): Promise<string> {
  const m = message(subject);
  return c.cmd(`APPEND ${mailbox} {${Buffer.byteLength(m)}+}\r\n${m}`);
}

describe('serve --workers 2', () => {
  let s: Served;
  let close: () => Promise<void>;
  before(async () => {
    const env = await makeEnv([
      [ALICE, PW],
      [BOB, PW],
    ]);
    await env.store.close();
    close = env.close;
    s = await serveWorkers(env.dir, 2);
  });
  after(async () => {
    if (s.child.exitCode === null) await s.stop();
    await close();
  });

  test('the primary reports the shared ports once and both workers are ready', () => {
    for (const l of ['imap', 'pop3', 'lmtp', 'http']) assert.ok(s.ports[l]! > 0, `${l} port in:\n${s.output()}`);
    assert.equal(s.workerPids().size, 2, s.output());
    assert.match(s.output(), /mailroom ready .*workers=2/);
  });

  test('ten IMAP connections opened at once are shared five and five: each goes to the worker with fewer open', async () => {
    const conns = await Promise.all(Array.from({ length: 10 }, () => RawClient.connect(s.ports['imap']!)));
    try {
      const served = await Promise.all(conns.map((c) => workerOf(c)));
      const per = new Map<string, number>();
      for (const w of served) per.set(w, (per.get(w) ?? 0) + 1);
      assert.deepEqual([...per.values()], [5, 5], served.join(','));
      // Both workers serve the protocol on the connections they were passed.
      for (const c of conns) {
        await c.login(ALICE, PW);
        assert.match(await c.cmd('NOOP'), /OK/);
      }
    } finally {
      for (const c of conns) c.close();
    }
  });

  test('a POP3 client that shuts down its side after QUIT still gets every reply, on either worker', async () => {
    for (let i = 0; i < 2; i++) {
      const sock = connect(s.ports['pop3']!, '127.0.0.1');
      const got: Buffer[] = [];
      sock.on('data', (b: Buffer) => got.push(b));
      await new Promise<void>((r) => sock.once('data', () => r()));
      sock.end(`USER ${BOB}\r\nPASS ${PW}\r\nQUIT\r\n`);
      await new Promise<void>((r) => sock.once('close', () => r()));
      const lines = Buffer.concat(got).toString('latin1').split('\r\n').filter(Boolean);
      assert.equal(lines.length, 4, lines.join(' | '));
      for (const l of lines) assert.match(l, /^\+OK/, lines.join(' | '));
    }
  });

  test('IDLE in one worker hears an APPEND made through another', async (t) => {
    const [a, b] = await imapOnWorkers(s.ports['imap']!, 2, ALICE, PW);
    assert.notEqual(await workerOf(a!), await workerOf(b!));
    assert.match(await a!.cmd('SELECT INBOX'), /\* 0 EXISTS/);
    a!.write('i1 IDLE\r\n');
    await a!.readUntil((x) => x.includes('+ idling'));
    a!.take();
    assert.match(await append(b!, 'INBOX', 'across'), /OK \[APPENDUID/);
    const t0 = Date.now();
    await a!.readUntil((x) => x.includes('* 1 EXISTS'));
    t.diagnostic(`EXISTS seen ${Date.now() - t0} ms after the APPEND completed in the other worker`);
    a!.write('DONE\r\n');
    await a!.waitTagged('i1');
    // The flag change made in one worker reaches the other's view too.
    a!.write('i2 IDLE\r\n');
    await a!.readUntil((x) => x.includes('+ idling'));
    a!.take();
    await b!.cmd('SELECT INBOX');
    await b!.cmd('STORE 1 +FLAGS (\\Flagged)');
    assert.match(await a!.readUntil((x) => x.includes('FETCH')), /\* 1 FETCH \(.*FLAGS \([^)]*\\Flagged/);
    a!.write('DONE\r\n');
    await a!.waitTagged('i2');
    a!.close();
    b!.close();
  });

  test('NOTIFY in one worker hears a change to another mailbox made through another worker', async () => {
    const [a, b] = await imapOnWorkers(s.ports['imap']!, 2, BOB, PW);
    assert.match(await a!.cmd('NOTIFY SET STATUS (personal (MessageNew MessageExpunge))', 'n1'), /\* STATUS "Archive" \(MESSAGES 0 /);
    a!.write('i1 IDLE\r\n');
    await a!.readUntil((x) => x.includes('+ idling'));
    a!.take();
    await append(b!, 'Archive', 'notified');
    assert.match(await a!.readUntil((x) => x.includes('\r\n')), /^\* STATUS "Archive" \(MESSAGES 1 UIDNEXT 2 /);
    a!.write('DONE\r\n');
    await a!.waitTagged('i1');
    a!.close();
    b!.close();
  });

  test('NOTIFY in one worker hears CREATE, SUBSCRIBE, RENAME, UNSUBSCRIBE and DELETE made through another, each once', async () => {
    const [a, b] = await imapOnWorkers(s.ports['imap']!, 2, BOB, PW);
    assert.equal(await a!.cmd('NOTIFY SET (personal (MailboxName SubscriptionChange))', 'n1'), 'n1 OK NOTIFY completed\r\n');
    a!.write('i1 IDLE\r\n');
    await a!.readUntil((x) => x.includes('+ idling'));
    a!.take();
    for (const cmd of ['CREATE Moving', 'SUBSCRIBE Moving', 'RENAME Moving Moved', 'UNSUBSCRIBE Moved', 'DELETE Moved']) assert.match(await b!.cmd(cmd, 'c'), /^c OK/, cmd);
    const want = [
      '* LIST () "/" "Moving"',
      '* LIST (\\Subscribed) "/" "Moving"',
      '* LIST () "/" "Moved" ("OLDNAME" ("Moving"))',
      '* LIST () "/" "Moved"',
      '* LIST (\\NonExistent) "/" "Moved"',
    ];
    assert.equal(await a!.readUntil((x) => x.split('\r\n').length > want.length), want.map((l) => l + '\r\n').join(''));
    a!.take();
    a!.write('DONE\r\n');
    assert.equal(await a!.waitTagged('i1'), 'i1 OK IDLE terminated\r\n');
    // Heard once although each change reached the worker twice (relayed at once, and found by its poll).
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(await a!.cmd('NOOP', 'z'), 'z OK NOOP completed\r\n');
    a!.close();
    b!.close();
  });

  test('JMAP EventSource streams in both workers hear an IMAP CREATE: the Mailbox state changes', async () => {
    const headers = { Authorization: `Basic ${Buffer.from(`${ALICE}:${PW}`).toString('base64')}` };
    const streams = [await eventStream(s.ports['http']!, headers), await eventStream(s.ports['http']!, headers)];
    try {
      const first: Array<Record<string, string>> = [];
      for (const es of streams) first.push(Object.values((await es.next())['changed'] as Record<string, Record<string, string>>)[0]!);
      const c = await RawClient.connect(s.ports['imap']!);
      await c.login(ALICE, PW);
      assert.match(await c.cmd('CREATE Pushed', 'c'), /^c OK/);
      c.close();
      for (const [i, es] of streams.entries()) {
        const changed = Object.values((await es.next())['changed'] as Record<string, Record<string, string>>)[0]!;
        assert.ok(changed['Mailbox'] && changed['Mailbox'] !== first[i]!['Mailbox'], JSON.stringify(changed));
      }
    } finally {
      for (const es of streams) es.close();
    }
  });

  test('JMAP EventSource streams (one per worker: the cluster hands connections in turn) hear an IMAP APPEND', async () => {
    const headers = { Authorization: `Basic ${Buffer.from(`${ALICE}:${PW}`).toString('base64')}` };
    const streams = [await eventStream(s.ports['http']!, headers), await eventStream(s.ports['http']!, headers)];
    try {
      for (const es of streams) await es.next(); // the initial state
      const c = await RawClient.connect(s.ports['imap']!);
      await c.login(ALICE, PW);
      assert.match(await append(c, 'INBOX', 'pushed over JMAP'), /OK/);
      c.close();
      for (const es of streams) assert.ok(Object.keys(await es.next()).includes('changed'));
    } finally {
      for (const es of streams) es.close();
    }
  });

  test('the POP3 maildrop lock holds across workers and is free again after QUIT', async () => {
    const holder = await RawPop3.open(s.ports['pop3']!);
    assert.match(await holder.c.login(BOB, PW), /^\+OK/);
    // Connections go to the workers in turn: some of these land on the other worker.
    for (let i = 0; i < 4; i++) {
      const other = await RawPop3.open(s.ports['pop3']!);
      assert.match(await other.c.login(BOB, PW), /^-ERR \[IN-USE\]/);
      other.c.destroy();
    }
    assert.match(await holder.c.cmd('QUIT'), /^\+OK/);
    const next = await RawPop3.open(s.ports['pop3']!);
    assert.match(await next.c.login(BOB, PW), /^\+OK/);
    await next.c.cmd('QUIT');
  });

  test('/metrics adds up the connections of every worker', async () => {
    const conns = await imapOnWorkers(s.ports['imap']!, 2, ALICE, PW);
    for (const c of conns) c.close();
    const r = await fetch(`http://127.0.0.1:${s.ports['http']}/metrics`);
    assert.equal(r.status, 200);
    const text = await r.text();
    const imap = Number(/^mailroom_connections_total\{protocol="imap"\} (\d+)/m.exec(text)?.[1]);
    // The tests above made at least 6 IMAP connections spread over both workers (one alone saw fewer).
    assert.ok(imap >= 6, text.slice(0, 2000));
  });

  test('a killed worker is restarted; the other serves meanwhile; nothing committed is lost', async () => {
    const [a, b] = await imapOnWorkers(s.ports['imap']!, 2, ALICE, PW);
    const victim = await workerOf(a!);
    assert.match(await append(a!, 'INBOX', 'before the kill'), /OK/);
    const n = Number(/MESSAGES (\d+)\)/.exec(await a!.cmd('STATUS INBOX (MESSAGES)'))?.[1]);
    assert.ok(n > 0);
    const pid = s.workerPids().get(Number(victim))!;
    process.kill(pid, 'SIGKILL');
    await a!.readUntil(() => a!.closed).catch(() => undefined);
    assert.match(await b!.cmd('STATUS INBOX (MESSAGES)'), new RegExp(`MESSAGES ${n}\\)`));
    await outputMatches(s, new RegExp(`worker died; restarting it .*worker=${victim}`));
    await outputMatches(s, new RegExp(`worker ready .*worker=${victim} pid=(?!${pid}\\b)\\d+`));
    const again = await imapOnWorkers(s.ports['imap']!, 2, ALICE, PW);
    for (const c of again) {
      assert.match(await c.cmd('SELECT INBOX'), new RegExp(`\\* ${n} EXISTS`));
      c.close();
    }
    b!.close();
  });

  test('SIGTERM drains every worker and the primary exits 0', async () => {
    const [a, b] = await imapOnWorkers(s.ports['imap']!, 2, BOB, PW);
    assert.equal(await s.stop(), 0, s.output());
    for (const c of [a!, b!]) assert.match(await c.readUntil(() => c.closed).catch((e: Error) => e.message), /\* BYE/);
    assert.match(s.output(), /stopped role=primary/);
    assert.equal((s.output().match(/INFO stopped worker=/g) ?? []).length, 2, s.output());
  });
});

test('serve --workers 1 runs one process with no primary', async () => {
  const env = await makeEnv([[ALICE, PW]]);
  await env.store.close();
  const s = await serveWorkers(env.dir, 1);
  try {
    assert.doesNotMatch(s.output(), /role=primary|worker ready/);
    const c = await RawClient.connect(s.ports['imap']!);
    assert.equal(await workerOf(c), '');
    c.close();
  } finally {
    assert.equal(await s.stop(), 0);
    await env.close();
  }
});

test('serve refuses --workers below 1 or not a number', async () => {
  for (const [v, msg] of [
    ['0', 'mailroom: invalid --workers: 0 is below the minimum 1\n'],
    ['two', 'mailroom: invalid --workers: two (expected a whole number)\n'],
  ] as const) {
    const r = await runCli(['serve', '--data', '/nonexistent/never', '--workers', v]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, msg);
  }
});

/** An EventSource over fetch (RFC 8620 7.3): next() resolves with the data of the next "state" event. */
async function eventStream(port: number, headers: Record<string, string>): Promise<{ next(): Promise<Record<string, unknown>>; close(): void }> {
  const ac = new AbortController();
  const r = await fetch(`http://127.0.0.1:${port}/jmap/eventsource?types=*&closeafter=no&ping=0`, { headers, signal: ac.signal });
  assert.equal(r.status, 200);
  const reader = r.body!.getReader();
  const dec = new TextDecoder();
  let buf = '';
  return {
    async next() {
      const deadline = Date.now() + 10_000;
      for (;;) {
        const i = buf.indexOf('\n\n');
        if (i >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (/^event: state$/m.test(block) && data) return JSON.parse(data) as Record<string, unknown>;
          continue;
        }
        if (Date.now() > deadline) throw new Error('no state event in time');
        const chunk = await reader.read();
        if (chunk.done) throw new Error('stream ended');
        buf += dec.decode(chunk.value, { stream: true });
      }
    },
    close: () => ac.abort(),
  };
}
