/**
 * Two complete mailroom servers ("nodes") sharing one PostgreSQL database: an IMAP IDLE on node A hears an
 * APPEND, a flag change and an expunge made through node B; the POP3 maildrop lock holds across nodes and
 * a POP3 session's deletions on one node reach an IMAP session on the other.
 * Needs PostgreSQL (see support/postgres.ts); fails with a clear message when it is unreachable.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ImapFlow } from 'imapflow';
import { createMailroom, type Mailroom } from '../src/server/mailroom.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';
import { RawPop3 } from './pop3-helpers.js';

const USER = 'alice@example.org';
const PASSWORD = 'correct horse';

let db: TestDatabase;
let nodeA: Mailroom;
let nodeB: Mailroom;

function imap(node: Mailroom): ImapFlow {
  return new ImapFlow({ host: '127.0.0.1', port: node.ports.imap!, secure: false, tls: { rejectUnauthorized: false }, auth: { user: USER, pass: PASSWORD }, logger: false });
}

function waitFor<T>(emitter: ImapFlow, event: string, pred: (v: T) => boolean = () => true, ms = 5000): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timeout waiting for ${event}`)), ms);
    const on = (v: T): void => {
      if (!pred(v)) return;
      clearTimeout(t);
      emitter.off(event, on);
      resolve(v);
    };
    emitter.on(event, on);
  });
}

function message(subject: string): string {
  return `From: Bob <bob@example.net>\r\nTo: ${USER}\r\nSubject: ${subject}\r\nMessage-ID: <${subject.replace(/\W/g, '')}@example.net>\r\n\r\nHello.\r\n`;
}

before(async () => {
  db = await createTestDatabase();
  const opts = { storeUrl: db.url, ports: { imap: 0, pop3: 0 } };
  nodeA = createMailroom(opts);
  nodeB = createMailroom(opts);
  // Both nodes start (and migrate) at once.
  await Promise.all([nodeA.start(), nodeB.start()]);
  await nodeA.addUser(USER, PASSWORD);
});

after(async () => {
  await Promise.allSettled([nodeA?.stop(), nodeB?.stop()]);
  await db?.drop();
});

describe('two mailroom nodes on one PostgreSQL database', () => {
  test('IMAP IDLE on node A hears APPEND, STORE and EXPUNGE made on node B', async () => {
    const a = imap(nodeA);
    const b = imap(nodeB);
    await a.connect();
    await b.connect();
    try {
      const mb = await a.mailboxOpen('INBOX');
      const start = mb.exists;
      const exists = waitFor<{ count: number }>(a, 'exists', (e) => e.count === start + 1);
      void a.idle();
      const appended = await b.append('INBOX', message('cross node'), ['\\Flagged']);
      assert.ok(appended && typeof appended.uid === 'number');
      assert.equal((await exists).count, start + 1);

      const flags = waitFor<{ uid?: number; flags: Set<string> }>(a, 'flags', (f) => f.flags.has('\\Seen'));
      await b.mailboxOpen('INBOX');
      await b.messageFlagsAdd(String(appended.uid), ['\\Seen'], { uid: true });
      const f = await flags;
      assert.ok(f.flags.has('\\Flagged') && f.flags.has('\\Seen'));

      const expunge = waitFor<{ seq: number }>(a, 'expunge');
      await b.messageDelete(String(appended.uid), { uid: true });
      assert.equal((await expunge).seq, start + 1);
    } finally {
      await Promise.allSettled([a.logout(), b.logout()]);
    }
  });

  test('POP3: a maildrop locked on node A is [IN-USE] on node B; QUIT on B expunges for an IMAP session on A', async () => {
    const b = imap(nodeB);
    await b.connect();
    await b.append('INBOX', message('for pop'));
    await b.logout();

    const { c: p1, greeting } = await RawPop3.open(nodeA.ports.pop3!);
    assert.match(greeting, /^\+OK/);
    assert.match(await p1.login(USER, PASSWORD), /^\+OK/);
    const { c: p2 } = await RawPop3.open(nodeB.ports.pop3!);
    const refused = await p2.login(USER, PASSWORD);
    assert.match(refused, /^-ERR \[IN-USE\]/);
    p2.destroy();
    assert.match(await p1.cmd('QUIT'), /^\+OK/);
    p1.destroy();

    const a = imap(nodeA);
    await a.connect();
    try {
      const mb = await a.mailboxOpen('INBOX');
      assert.ok(mb.exists >= 1);
      const expunged = waitFor<{ seq: number }>(a, 'expunge');
      void a.idle();
      // The lock is free again: a session on node B deletes everything.
      const { c: p3 } = await RawPop3.open(nodeB.ports.pop3!);
      assert.match(await p3.login(USER, PASSWORD), /^\+OK/);
      const stat = await p3.cmd('STAT');
      const n = Number(/^\+OK (\d+)/.exec(stat)?.[1]);
      assert.ok(n >= 1, stat);
      for (let i = 1; i <= n; i++) assert.match(await p3.cmd(`DELE ${i}`), /^\+OK/);
      assert.match(await p3.cmd('QUIT'), /^\+OK/);
      p3.destroy();
      await expunged;
    } finally {
      await a.logout().catch(() => undefined);
    }
  });
});
