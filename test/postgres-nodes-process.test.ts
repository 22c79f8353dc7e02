/**
 * Two mailroom server processes (`mailroom --store postgres://... serve`) on one PostgreSQL database:
 * a client on each; an APPEND on node B reaches an IDLE session on node A; node B is SIGKILLed in the middle
 * of a stream of APPENDs, node A keeps serving, and every APPEND that node B acknowledged is present exactly once.
 * Needs PostgreSQL (see support/postgres.ts) and the built CLI.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:net';
import { ImapFlow } from 'imapflow';
import { runCli, startCli } from './helpers/cli.js';
import { createTestDatabase } from '../support/postgres.js';

const OFF = ['--imaps-port', 'off', '--pop3-port', 'off', '--pop3s-port', 'off', '--lmtp-port', 'off', '--smtp-port', 'off', '--submission-port', 'off', '--submissions-port', 'off', '--http-port', 'off', '--https-port', 'off', '--managesieve-port', 'off'];

function imapPort(output: string): number {
  const m = /listener=imap address=127\.0\.0\.1:(\d+)/.exec(output);
  assert.ok(m, output);
  return Number(m[1]);
}

const message = (n: number): string => `From: b@example.org\r\nTo: alice@example.org\r\nSubject: n${n}\r\nMessage-ID: <n${n}@nodes.test>\r\n\r\nbody ${n}\r\n`;

test('two server processes on one PostgreSQL database: IDLE across nodes; a node killed mid-APPEND loses nothing acknowledged', { timeout: 120_000 }, async (t) => {
  const db = await createTestDatabase();
  const dirs = [await mkdtemp(join(tmpdir(), 'mailroom-node-a-')), await mkdtemp(join(tmpdir(), 'mailroom-node-b-'))];
  const nodes: Array<Awaited<ReturnType<typeof startCli>>> = [];
  let client: ImapFlow | null = null;
  try {
    const add = await runCli(['--store', db.url, 'user', 'add', 'alice@example.org', '--password-stdin'], { input: 'pw\n' });
    assert.equal(add.code, 0, add.stderr);
    for (const dir of dirs) nodes.push(await startCli(['--store', db.url, 'serve', '--data', dir, '--imap-port', '0', ...OFF], /mailroom ready/));
    const [a, b] = nodes as [(typeof nodes)[0], (typeof nodes)[0]];
    const portA = imapPort(a.output());
    const portB = imapPort(b.output());
    assert.notEqual(portA, portB);

    // client on node A in IDLE
    client = new ImapFlow({ host: '127.0.0.1', port: portA, secure: false, doSTARTTLS: false, auth: { user: 'alice@example.org', pass: 'pw' }, logger: false });
    await client.connect();
    const lock = await client.getMailboxLock('INBOX');
    let exists = 0;
    client.on('exists', (d: { count: number }) => (exists = d.count));
    const idling = client.idle();

    // a raw client on node B: one APPEND, then a pipelined stream of LITERAL+ APPENDs
    const sock = connect(portB, '127.0.0.1');
    let text = '';
    sock.on('data', (d: Buffer) => (text += d.toString('latin1')));
    sock.on('error', () => undefined);
    const waitFor = async (re: RegExp): Promise<void> => {
      for (let i = 0; i < 400 && !re.test(text); i++) await new Promise((r) => setTimeout(r, 25));
      assert.match(text, re);
    };
    await waitFor(/^\* OK/);
    sock.write('l LOGIN alice@example.org pw\r\n');
    await waitFor(/l OK/);
    const first = message(0);
    sock.write(`a0 APPEND INBOX {${Buffer.byteLength(first)}+}\r\n${first}\r\n`);
    await waitFor(/a0 OK/);
    for (let i = 0; i < 200 && exists < 1; i++) await new Promise((r) => setTimeout(r, 25));
    assert.equal(exists, 1, 'the IDLE session on node A saw the APPEND made on node B');

    // stream APPENDs and kill node B once some are acknowledged
    for (let n = 1; n <= 400; n++) {
      const m = message(n);
      sock.write(`a${n} APPEND INBOX {${Buffer.byteLength(m)}+}\r\n${m}\r\n`);
    }
    for (let i = 0; i < 400 && (text.match(/a\d+ OK/g) ?? []).length < 20; i++) await new Promise((r) => setTimeout(r, 10));
    b.child.kill('SIGKILL');
    await b.exited;
    sock.destroy();
    const acked = [...text.matchAll(/\r\na(\d+) OK/g)].map((m) => Number(m[1]));
    assert.ok(acked.length >= 20, `acknowledged: ${acked.length}`);
    t.diagnostic(`acknowledged before the kill: ${acked.length} of 401`);

    // node A keeps serving: end IDLE, look at the mailbox
    lock.release();
    const status = await client.status('INBOX', { messages: true });
    await idling;
    assert.ok(status, 'STATUS on node A');
    const count = status.messages ?? 0;
    assert.ok(count >= acked.length, `messages ${count} >= acked ${acked.length}`);
    await client.mailboxOpen('INBOX');
    const subjects = new Map<string, number>();
    for await (const msg of client.fetch('1:*', { envelope: true })) {
      const s = msg.envelope?.subject ?? '';
      subjects.set(s, (subjects.get(s) ?? 0) + 1);
    }
    for (const n of acked) assert.equal(subjects.get(`n${n}`), 1, `acknowledged APPEND a${n} present exactly once`);
    for (const [s, count] of subjects) assert.equal(count, 1, `${s} stored once`);
    // and still accepts new mail
    const after = await client.append('INBOX', Buffer.from(message(999)));
    assert.ok(after && after.uid, 'APPEND on the surviving node');
    await client.logout();
    client = null;
  } finally {
    if (client) await client.logout().catch(() => undefined);
    for (const n of nodes) {
      n.child.kill('SIGTERM');
      await n.exited;
    }
    await db.drop();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  }
});
