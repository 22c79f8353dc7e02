/**
 * Mailbox list events between store instances that do not share memory, as separate processes are:
 * - SQLite: two stores on one data directory with their own hubs (the second sees the first through the
 *   data_version poll and mailbox_list_log); with a link between the hubs as `serve --workers N` has, a
 *   change arriving both through the link and through the log is heard once; the log keeps its newest rows.
 * - PostgreSQL: two store instances (nodes) on one schema hear each other's changes through NOTIFY, and
 *   each its own once; a malformed list notification is ignored.
 * The single-store behaviour of both backends is in the store contract (store-contract/mailbox-list.ts).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { openSqliteStore } from '../src/store/sqlite/index.js';
import { SqliteHub } from '../src/store/sqlite/core.js';
import { LIST_LOG_KEEP } from '../src/store/sqlite/mailbox-list.js';
import { openPostgresStore } from '../src/store/postgres/index.js';
import type { ChangeEvent, MailboxListEvent } from '../src/store/types.js';
import type { LoggedListEvent, ProcessLink } from '../src/store/bus.js';
import { adminQuery, createTestDatabase, type TestDatabase } from '../support/postgres.js';
import { eventually } from './helpers/store.js';

/** kind:name(<-oldName)[@origin] per event, for compact assertions. */
function brief(evs: readonly MailboxListEvent[]): string[] {
  return evs.map((e) => `${e.kind}:${e.name}${e.oldName !== undefined ? `<-${e.oldName}` : ''}${e.origin !== null ? `@${e.origin}` : ''}`);
}

/** Waits a few poll intervals, so that anything still on its way would have arrived. */
const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 600));

describe('SQLite: mailbox list events across stores on one directory', () => {
  let dataDir: string;
  before(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'mailroom-mblist-'));
  });
  after(() => rmSync(dataDir, { recursive: true, force: true }));

  test('another store (another process) is heard through the log; each change once, in order', async () => {
    const here = await openSqliteStore({ dataDir, fsync: false });
    const there = await openSqliteStore({ dataDir, fsync: false });
    try {
      const user = await here.directory.createUser('list@example.org', 'x');
      const heard: MailboxListEvent[] = [];
      const off = here.mail.subscribeMailboxList(user.id, (ev) => heard.push(ev));
      await there.mail.createMailbox(user.id, 'Far', { origin: 'cli' });
      await there.mail.setSubscribed(user.id, 'Far', true);
      await there.mail.renameMailbox(user.id, 'Far', 'Farther');
      await here.mail.createMailbox(user.id, 'Near');
      await there.mail.setSubscribed(user.id, 'Farther', false);
      await there.mail.deleteMailbox(user.id, 'Farther');
      await there.mail.setSpecialUse((await there.mail.getMailbox(user.id, 'INBOX'))!.id, null);
      const sent = await there.mail.createMailbox(user.id, 'Outbox');
      await there.mail.setSpecialUse(sent.id, '\\Sent', { origin: 'jmap' });
      await eventually(() => heard.length >= 8, 'eight events');
      await settle();
      // "Near" was announced at its commit, the others at the next poll: order is per source.
      assert.deepEqual(brief(heard).filter((e) => !e.includes('Near')), ['create:Far@cli', 'subscribe:Far', 'rename:Farther<-Far', 'unsubscribe:Farther', 'delete:Farther', 'create:Outbox', 'special-use:Outbox@jmap']);
      assert.equal(brief(heard).filter((e) => e === 'create:Near').length, 1, 'the own commit is not heard again from the log');
      off();
    } finally {
      await here.close();
      await there.close();
    }
  });

  test('a change relayed by a link and found in the log is heard once; old log rows are pruned', async () => {
    const hubA = new SqliteHub();
    const hubB = new SqliteHub();
    const relayed: LoggedListEvent[] = [];
    // The link of serve --workers N, reduced to passing list changes from A to B at once.
    const link: ProcessLink = {
      publish: (_ev: ChangeEvent) => undefined,
      publishList: (ev) => {
        relayed.push(ev);
        hubB.lists.announce(ev);
      },
      lockMaildrop: async () => null,
    };
    hubA.link = link;
    const a = await openSqliteStore({ dataDir, fsync: false, hub: hubA });
    const b = await openSqliteStore({ dataDir, fsync: false, hub: hubB });
    try {
      const user = await a.directory.createUser('link@example.org', 'x');
      const heard: MailboxListEvent[] = [];
      b.mail.subscribeMailboxList(user.id, (ev) => heard.push(ev));
      await a.mail.createMailbox(user.id, 'Linked');
      await a.mail.renameMailbox(user.id, 'Linked', 'Relinked');
      await eventually(() => heard.length >= 2, 'two events');
      await settle();
      assert.deepEqual(brief(heard), ['create:Linked', 'rename:Relinked<-Linked']);
      assert.equal(relayed.length, 2);
      assert.ok(relayed[1]!.seq > relayed[0]!.seq, 'log seqs increase');
      // A relayed change the poll already announced is dropped.
      hubB.lists.announce(relayed[0]!);
      await settle();
      assert.equal(heard.length, 2);
      // The log keeps its newest rows only; events keep coming.
      for (let i = 0; i < LIST_LOG_KEEP / 8; i++) await a.mail.setSubscribed(user.id, `S${i % 4}`, i % 8 < 4);
      await eventually(() => heard.length === 2 + LIST_LOG_KEEP / 8, 'every subscription change');
      await settle();
      assert.equal(heard.length, 2 + LIST_LOG_KEEP / 8);
    } finally {
      await a.close();
      await b.close();
    }
  });
});

describe('PostgreSQL: mailbox list events across nodes', () => {
  let db: TestDatabase;
  before(async () => {
    db = await createTestDatabase();
  });
  after(async () => {
    await db?.drop();
  });

  test('two store instances hear each other through NOTIFY, and themselves once', async () => {
    const common = { url: db.url, schema: 'mblist', fsync: false, poolSize: 3 };
    const a = await openPostgresStore({ ...common, nodeName: 'mblist-a' });
    const b = await openPostgresStore({ ...common, nodeName: 'mblist-b' });
    try {
      const user = await a.directory.createUser('pg-list@example.org', 'x');
      const atA: MailboxListEvent[] = [];
      const atB: MailboxListEvent[] = [];
      a.mail.subscribeMailboxList(user.id, (ev) => atA.push(ev));
      b.mail.subscribeMailboxList(user.id, (ev) => atB.push(ev));
      // Each change is heard at both nodes before the next (a node hears its own at once, the other's later).
      let n = 0;
      const step = async (change: Promise<unknown>): Promise<void> => {
        await change;
        n++;
        await eventually(() => atA.length >= n && atB.length >= n, `event ${n} at both nodes`);
      };
      await step(a.mail.createMailbox(user.id, 'Node', { origin: 'imap-1' }));
      await step(a.mail.setSubscribed(user.id, 'Node', true));
      await step(b.mail.renameMailbox(user.id, 'Node', 'Knot'));
      await step(a.mail.renameMailbox(user.id, 'INBOX', 'Moved'));
      await step(b.mail.setSubscribed(user.id, 'Knot', false));
      await step(a.mail.deleteMailbox(user.id, 'Knot'));
      const moved = (await b.mail.listMailboxes(user.id)).find((m) => m.name === 'Moved')!;
      await step(b.mail.setSpecialUse(moved.id, '\\Archive', { origin: 'jmap-2' }));
      const want = ['create:Node@imap-1', 'subscribe:Node', 'rename:Knot<-Node', 'create:Moved', 'unsubscribe:Knot', 'delete:Knot', 'special-use:Moved@jmap-2'];
      // A malformed list notification (as anyone with access to the database could send) is ignored.
      await adminQuery(db.url, `SELECT pg_notify('mailroom_mblist', 'L{"kind":"create","userId":${user.id}}')`);
      await adminQuery(db.url, `SELECT pg_notify('mailroom_mblist', 'L{not json')`);
      await adminQuery(db.url, `SELECT pg_notify('mailroom_mblist', 'L{"tag":"t","seq":-4,"kind":"create","userId":${user.id},"name":"Bad"}')`);
      await b.mail.createMailbox(user.id, 'Last');
      await eventually(() => atA.length === want.length + 1, 'the last event at a');
      await settle();
      assert.deepEqual(brief(atA), [...want, 'create:Last']);
      assert.deepEqual(brief(atB), [...want, 'create:Last']);
    } finally {
      await a.close();
      await b.close();
    }
  });
});
