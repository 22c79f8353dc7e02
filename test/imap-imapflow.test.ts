/**
 * imapflow as a real client against the IMAP server: the full workflow (list, select, header overview,
 * body download, flags, move, expunge, append, search, IDLE) and a QRESYNC resync after changes made
 * while the client was offline.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ImapFlow } from 'imapflow';
import { startImap, USER, PASSWORD, message, type ImapFixture } from './imap-helpers.js';

function client(port: number, extra: Record<string, unknown> = {}): ImapFlow {
  return new ImapFlow({ host: '127.0.0.1', port, secure: false, auth: { user: USER, pass: PASSWORD }, logger: false, ...extra });
}

function waitFor<T>(emitter: ImapFlow, event: string, pred: (v: T) => boolean = () => true, ms = 3000): Promise<T> {
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

describe('imapflow', () => {
  let f: ImapFixture;
  before(async () => {
    f = await startImap();
    for (let i = 1; i <= 5; i++) await f.append(message(`Message ${i}`, `Body of message ${i}\r\nsecond line`), i === 1 ? ['\\Seen'] : []);
  });
  after(async () => {
    await f.close();
  });

  test('full workflow', async () => {
    const c = client(f.port);
    await c.connect();
    try {
      const list = await c.list();
      const paths = list.map((m) => m.path).sort();
      assert.deepEqual(paths, ['Archive', 'Drafts', 'INBOX', 'Junk', 'Sent', 'Trash']);
      assert.equal(list.find((m) => m.path === 'Sent')?.specialUse, '\\Sent');

      const mb = await c.mailboxOpen('INBOX');
      assert.equal(mb.exists, 5);

      // Header overview.
      const overview: Array<{ uid: number; subject: string | undefined; seen: boolean }> = [];
      for await (const m of c.fetch('1:*', { uid: true, flags: true, envelope: true, size: true, bodyStructure: true, headers: ['subject'] })) {
        overview.push({ uid: m.uid, subject: m.envelope?.subject, seen: m.flags?.has('\\Seen') ?? false });
        assert.ok(m.headers?.toString().startsWith('Subject: Message'));
        assert.equal(m.bodyStructure?.type, 'text/plain');
      }
      assert.deepEqual(
        overview.map((o) => o.subject),
        ['Message 1', 'Message 2', 'Message 3', 'Message 4', 'Message 5'],
      );
      assert.deepEqual(
        overview.map((o) => o.seen),
        [true, false, false, false, false],
      );

      // Body on demand.
      const one = await c.fetchOne('2', { source: true, uid: true });
      assert.ok(one && one.source?.toString().includes('Body of message 2'));
      const dl = await c.download('3', '1', { uid: true });
      const chunks: Buffer[] = [];
      assert.ok(dl.content);
      for await (const ch of dl.content) chunks.push(ch as Buffer);
      assert.equal(Buffer.concat(chunks).toString(), 'Body of message 3\r\nsecond line\r\n');

      // Flags.
      await c.messageFlagsAdd('2:3', ['\\Flagged', '$Important'], { uid: true });
      await c.messageFlagsRemove('1', ['\\Seen'], { uid: true });
      const flags = new Map<number, string[]>();
      for await (const m of c.fetch('1:3', { uid: true, flags: true }, { uid: true })) flags.set(m.uid, [...(m.flags ?? [])].sort());
      assert.deepEqual(flags.get(1), []);
      assert.deepEqual(flags.get(2), ['$Important', '\\Flagged']);

      // Search.
      const found = await c.search({ flagged: true }, { uid: true });
      assert.deepEqual(found, [2, 3]);
      const bodyHit = await c.search({ body: 'message 4' }, { uid: true });
      assert.deepEqual(bodyHit, [4]);

      // Move with COPYUID.
      const moved = await c.messageMove('4', 'Archive', { uid: true });
      assert.ok(moved);
      assert.equal(moved.uidMap?.get(4), 1);
      assert.equal(c.mailbox && typeof c.mailbox !== 'boolean' ? c.mailbox.exists : -1, 4);

      // Delete (flag + expunge).
      await c.messageDelete('5', { uid: true });
      const left = await c.search({ all: true }, { uid: true });
      assert.deepEqual(left, [1, 2, 3]);

      // Append with APPENDUID.
      const app = await c.append('INBOX', Buffer.from(message('Appended', 'appended body')), ['\\Seen'], new Date('2024-01-02T03:04:05Z'));
      assert.ok(app);
      assert.equal(app.uid, 6);
      const st = await c.status('INBOX', { messages: true, unseen: true, uidNext: true, highestModseq: true });
      assert.ok(st);
      assert.equal(st.messages, 4);
      assert.equal(st.uidNext, 7);
      assert.ok(st.highestModseq && st.highestModseq > 0n);

      // Mailbox management.
      await c.mailboxCreate(['Projects', 'Alpha']);
      await c.mailboxRename('Projects/Alpha', 'Projects/Beta');
      const l2 = await c.list();
      assert.ok(l2.some((m) => m.path === 'Projects/Beta'));
      await c.mailboxDelete('Projects/Beta');
    } finally {
      await c.logout();
    }
  });

  test('IDLE: a second client sees EXISTS, flag changes and expunges', async () => {
    const watcher = client(f.port);
    const actor = client(f.port);
    await watcher.connect();
    await actor.connect();
    try {
      await watcher.mailboxOpen('INBOX');
      const startExists = watcher.mailbox && typeof watcher.mailbox !== 'boolean' ? watcher.mailbox.exists : 0;
      const idling = watcher.idle();
      await new Promise((r) => setTimeout(r, 50));

      const exists = waitFor<{ count: number }>(watcher, 'exists');
      await actor.append('INBOX', Buffer.from(message('Pushed')));
      assert.equal((await exists).count, startExists + 1);

      await actor.mailboxOpen('INBOX');
      const flagsEv = waitFor<{ uid: number; flags: Set<string> }>(watcher, 'flags', (e) => e.flags.has('\\Answered'));
      await actor.messageFlagsAdd('1', ['\\Answered'], { uid: true });
      assert.equal((await flagsEv).uid, 1);

      const expunge = waitFor<{ seq?: number; uid?: number }>(watcher, 'expunge');
      await actor.messageDelete('1', { uid: true });
      const ex = await expunge;
      assert.ok(ex.seq === 1 || ex.uid === 1);
      await watcher.noop();
      void idling;
    } finally {
      await actor.logout();
      await watcher.logout();
    }
  });

  test('QRESYNC: resync after changes made while offline', async () => {
    const c1 = client(f.port, { qresync: true });
    await c1.connect();
    const mb = await c1.mailboxOpen('INBOX');
    const uidValidity = mb.uidValidity;
    const modseq = mb.highestModseq;
    assert.ok(modseq);
    const uids = await c1.search({ all: true }, { uid: true });
    assert.ok(Array.isArray(uids) && uids.length >= 2);
    await c1.logout();

    // Offline: another client changes flags, expunges one message, appends one.
    const other = client(f.port);
    await other.connect();
    await other.mailboxOpen('INBOX');
    await other.messageFlagsAdd(String(uids[0]), ['$Offline'], { uid: true });
    await other.messageDelete(String(uids[1]), { uid: true });
    await other.append('INBOX', Buffer.from(message('While offline')));
    await other.logout();

    const c2 = client(f.port, { qresync: true });
    const vanished: number[] = [];
    const flagged: number[] = [];
    c2.on('expunge', (e: { uid?: number; vanished?: boolean }) => {
      if (e.vanished && e.uid) vanished.push(e.uid);
    });
    c2.on('flags', (e: { uid?: number; flags: Set<string> }) => {
      if (e.uid && e.flags.has('$Offline')) flagged.push(e.uid);
    });
    await c2.connect();
    try {
      const mb2 = await c2.mailboxOpen('INBOX', { uidValidity, changedSince: modseq } as Record<string, unknown>);
      assert.ok(mb2.highestModseq && mb2.highestModseq > modseq);
      assert.deepEqual(vanished, [uids[1]]);
      assert.deepEqual(flagged, [uids[0]]);
      // New messages since the old modseq, via CHANGEDSINCE.
      const changed: string[] = [];
      for await (const m of c2.fetch('1:*', { uid: true, envelope: true }, { uid: true, changedSince: modseq })) changed.push(m.envelope?.subject ?? '');
      assert.ok(changed.includes('While offline'));
    } finally {
      await c2.logout();
    }
  });
});
