/**
 * Several "nodes" (store instances with their own pools and LISTEN connections) on one PostgreSQL database:
 * concurrent migrations, UID/MODSEQ allocation under concurrent writers, cross-node wake-ups (also across a
 * lost LISTEN connection), the POP3 maildrop lock and outbound claims across nodes.
 * Needs PostgreSQL (see support/postgres.ts); fails with a clear message when it is unreachable.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { openPostgresStore, type PostgresStore } from '../src/store/postgres/index.js';
import { adminQuery, createTestDatabase, type TestDatabase } from '../support/postgres.js';
import type { ChangeEvent } from '../src/store/types.js';
import { isStoreError } from '../src/store/types.js';
import { eventually, sampleMessage } from './helpers/store.js';

let db: TestDatabase;
let schemaCounter = 0;

before(async () => {
  db = await createTestDatabase();
});

after(async () => {
  await db?.drop();
});

/** Two nodes on a fresh schema; both closed by the returned function. */
async function twoNodes(
  extra: { outboundLeaseMs?: number; listenBackoffMs?: { min: number; max: number } } = {},
): Promise<{ a: PostgresStore; b: PostgresStore; close(): Promise<void> }> {
  const schema = `nodes_${++schemaCounter}`;
  const common = { url: db.url, schema, fsync: false, poolSize: 4, listenBackoffMs: { min: 20, max: 200 }, ...extra };
  const a = await openPostgresStore({ ...common, nodeName: `node-a-${schemaCounter}` });
  const b = await openPostgresStore({ ...common, nodeName: `node-b-${schemaCounter}` });
  return {
    a,
    b,
    async close() {
      await Promise.all([a.close(), b.close()]);
    },
  };
}

describe('PostgreSQL store across nodes', () => {
  test('two nodes migrating a fresh schema at once: both start, each version recorded once, re-running is a no-op', async () => {
    const schema = 'race_migrate';
    const opts = { url: db.url, schema, fsync: false, poolSize: 2 };
    const stores = await Promise.all([openPostgresStore(opts), openPostgresStore(opts), openPostgresStore(opts)]);
    try {
      const rows = await adminQuery<{ version: number; n: string }>(
        db.url,
        `SELECT version, count(*) AS n FROM ${schema}.schema_migrations GROUP BY version ORDER BY version`,
      );
      assert.ok(rows.length >= 1);
      assert.ok(rows.every((r) => r.n === '1'), 'each migration applied exactly once');
      await stores[0]!.migrate();
      const again = await adminQuery<{ n: string }>(db.url, `SELECT count(*) AS n FROM ${schema}.schema_migrations`);
      assert.equal(Number(again[0]!.n), rows.length);
      // The schema works from every node.
      const u = await stores[1]!.directory.createUser('m@example.org', 'x');
      assert.equal((await stores[2]!.directory.getUserById(u.id))?.address, 'm@example.org');
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });

  test('concurrent appends and flag changes from two nodes never duplicate a UID; MODSEQs are unique and increasing', async () => {
    const { a, b, close } = await twoNodes();
    try {
      const user = await a.directory.createUser('alice@example.org', 'x');
      const inboxA = (await a.mail.getMailbox(user.id, 'INBOX'))!;
      const inboxB = (await b.mail.getMailbox(user.id, 'INBOX'))!;
      assert.equal(inboxA.id, inboxB.id);
      const worker = async (s: PostgresStore, w: number): Promise<Array<{ uid: number; modseq: number }>> => {
        const out: Array<{ uid: number; modseq: number }> = [];
        for (let i = 0; i < 12; i++) {
          const r = await s.mail.append(inboxA.id, sampleMessage(w * 100 + i));
          out.push({ uid: r.uid, modseq: r.modseq });
          const f = await s.mail.storeFlags(inboxA.id, [r.uid], { op: 'add', flags: [`k${w}`] });
          out.push({ uid: r.uid, modseq: f.changed[0]!.modseq });
        }
        return out;
      };
      const results = (await Promise.all([0, 1, 2, 3].map((w) => worker(w % 2 === 0 ? a : b, w)))).flat();
      const appendUids = [...new Set(results.map((r) => r.uid))];
      assert.equal(appendUids.length, 48, 'every append got its own UID');
      assert.deepEqual(
        appendUids.sort((x, y) => x - y),
        Array.from({ length: 48 }, (_, i) => i + 1),
      );
      const modseqs = results.map((r) => r.modseq);
      assert.equal(new Set(modseqs).size, modseqs.length, 'one MODSEQ per committed transaction');
      const st = await b.mail.status(inboxA.id);
      assert.equal(st.messages, 48);
      assert.equal(st.uidNext, 49);
      assert.equal(st.highestModseq, Math.max(...modseqs));
      // Every message kept its keyword: no lost update between nodes.
      const list = await a.mail.listMessages(inboxA.id);
      assert.ok(list.every((m) => m.flags.some((f) => /^k\d$/.test(f))));
    } finally {
      await close();
    }
  });

  test('a subscriber on node A hears a change committed on node B within 200 ms', async () => {
    const { a, b, close } = await twoNodes();
    try {
      const user = await a.directory.createUser('bob@example.org', 'x');
      const inbox = (await a.mail.getMailbox(user.id, 'INBOX'))!;
      const heard: Array<{ ev: ChangeEvent; at: number }> = [];
      const off = a.mail.subscribe(inbox.id, (ev) => heard.push({ ev, at: Date.now() }));
      for (let i = 1; i <= 3; i++) {
        const r = await b.mail.append(inbox.id, sampleMessage(i));
        const committed = Date.now();
        await eventually(() => heard.length === i, `wake-up ${i}`, 2000);
        const h = heard[i - 1]!;
        assert.deepEqual(h.ev, { userId: user.id, mailboxId: inbox.id, highestModseq: r.modseq });
        assert.ok(h.at - committed < 200, `wake-up arrived ${h.at - committed} ms after commit`);
      }
      // The wake-up is truthful: the change log on A already has the change.
      const ch = await a.mail.changesSince(inbox.id, heard[2]!.ev.highestModseq - 1);
      assert.deepEqual(
        ch.changed.map((m) => m.uid),
        [3],
      );
      off();
    } finally {
      await close();
    }
  });

  test('mailbox list changes another node makes while the LISTEN connection is down are heard after the reconnect, each once, in order', async () => {
    const { a, b, close } = await twoNodes({ listenBackoffMs: { min: 400, max: 1000 } });
    try {
      const user = await a.directory.createUser('lists@example.org', 'x');
      const other = await a.directory.createUser('other@example.org', 'x');
      const heard: string[] = [];
      const off = a.mail.subscribeMailboxList(user.id, (ev) => heard.push(`${ev.kind}:${ev.name}${ev.oldName ? `<-${ev.oldName}` : ''}`));
      await b.mail.createMailbox(user.id, 'Before');
      await eventually(() => heard.length === 1, 'the change before the loss');
      const pid1 = a.listenerPid;
      assert.ok(pid1, 'listener connected');
      await adminQuery(db.adminUrl, 'SELECT pg_terminate_backend($1)', [pid1]);
      await eventually(() => a.listenerPid === null, 'node A noticed the loss');
      // Made on B while A is not listening: their NOTIFYs never reach A.
      await b.mail.createMailbox(user.id, 'During');
      await b.mail.setSubscribed(user.id, 'During', true);
      await b.mail.renameMailbox(user.id, 'During', 'Renamed');
      await b.mail.createMailbox(other.id, 'NotWatched');
      assert.equal(a.listenerReconnects, 0, 'the changes were made while node A was not listening');
      // A's own change while down is announced at its commit, and not again by the replay.
      await a.mail.createMailbox(user.id, 'Mine');
      await eventually(() => heard.length >= 5, 'the missed changes after the reconnect');
      await a.listenerSettled();
      await b.mail.deleteMailbox(user.id, 'Before');
      await eventually(() => heard.length >= 6, 'a change over the new LISTEN');
      await new Promise((r) => setTimeout(r, 300));
      assert.deepEqual(heard, ['create:Before', 'create:Mine', 'create:During', 'subscribe:During', 'rename:Renamed<-During', 'delete:Before']);
      off();
    } finally {
      await close();
    }
  });

  test('LISTEN connection killed with pg_terminate_backend: reconnects, and a change committed meanwhile is still heard', async () => {
    // A first reconnect attempt 200-400 ms after the loss leaves a window in which B commits for sure.
    const { a, b, close } = await twoNodes({ listenBackoffMs: { min: 400, max: 1000 } });
    try {
      const user = await a.directory.createUser('carol@example.org', 'x');
      const inbox = (await a.mail.getMailbox(user.id, 'INBOX'))!;
      const heard: ChangeEvent[] = [];
      const off = a.mail.subscribe(inbox.id, (ev) => heard.push(ev));
      const pid1 = a.listenerPid;
      assert.ok(pid1, 'listener connected');
      const killed = await adminQuery<{ ok: boolean }>(db.adminUrl, 'SELECT pg_terminate_backend($1) AS ok', [pid1]);
      assert.equal(killed[0]!.ok, true);
      await eventually(() => a.listenerPid === null, 'node A noticed the loss');
      // Committed on B while A's listener is down: its NOTIFY never reaches A; the wake-up that follows
      // the reconnect must still tell A's subscriber.
      const r = await b.mail.append(inbox.id, sampleMessage(1));
      assert.equal(a.listenerReconnects, 0, 'the change committed while node A was not listening');
      assert.equal(heard.length, 0);
      await eventually(() => heard.some((ev) => ev.highestModseq >= r.modseq), 'wake-up after reconnect');
      await a.listenerSettled();
      assert.ok(a.listenerReconnects >= 1, 'listener reconnected');
      const pid2 = a.listenerPid;
      assert.ok(pid2 && pid2 !== pid1, 'new LISTEN backend');
      // The restored LISTEN carries later changes as usual.
      const r2 = await b.mail.storeFlags(inbox.id, [r.uid], { op: 'add', flags: ['\\Seen'] });
      await eventually(() => heard.some((ev) => ev.highestModseq === r2.changed[0]!.modseq), 'wake-up over the new LISTEN');
      const ch = await a.mail.changesSince(inbox.id, 0);
      assert.deepEqual(
        ch.changed.map((m) => [m.uid, m.flags]),
        [[1, ['\\Seen']]],
      );

      // Killed twice in a row while idle: still exactly one working LISTEN afterwards.
      for (let i = 0; i < 2; i++) {
        const pid = a.listenerPid;
        if (pid) await adminQuery(db.adminUrl, 'SELECT pg_terminate_backend($1)', [pid]);
        await eventually(() => a.listenerPid !== null && a.listenerPid !== pid, 'listener back');
      }
      const listeners = await adminQuery<{ n: string }>(
        db.adminUrl,
        "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = $1 AND application_name = $2",
        [db.name, 'node-a-' + String(schemaCounter) + ':listen'],
      );
      assert.equal(listeners[0]!.n, '1', 'one LISTEN connection per store');
      const before = heard.length;
      await b.mail.append(inbox.id, sampleMessage(2));
      await eventually(() => heard.length > before, 'wake-up after repeated kills');
      off();
    } finally {
      await close();
    }
  });

  test('LISTEN backend frozen (SIGSTOP, like a half-open connection): the heartbeat notices, reconnects, wakes', async () => {
    const schema = `nodes_${++schemaCounter}`;
    const common = { url: db.url, schema, fsync: false, poolSize: 2, listenBackoffMs: { min: 20, max: 200 } };
    const a = await openPostgresStore({ ...common, listenHeartbeatMs: 150 });
    const b = await openPostgresStore(common);
    const frozen = a.listenerPid;
    assert.ok(frozen);
    try {
      const user = await a.directory.createUser('gina@example.org', 'x');
      const inbox = (await a.mail.getMailbox(user.id, 'INBOX'))!;
      const heard: ChangeEvent[] = [];
      const off = a.mail.subscribe(inbox.id, (ev) => heard.push(ev));
      process.kill(frozen, 'SIGSTOP');
      const r = await b.mail.append(inbox.id, sampleMessage(1));
      await eventually(() => a.listenerPid !== null && a.listenerPid !== frozen, 'listener replaced');
      await eventually(() => heard.some((ev) => ev.highestModseq >= r.modseq), 'wake-up despite the frozen backend');
      const r2 = await b.mail.append(inbox.id, sampleMessage(2));
      await eventually(() => heard.some((ev) => ev.highestModseq >= r2.modseq), 'notifications over the new connection');
      off();
    } finally {
      process.kill(frozen, 'SIGCONT');
      await Promise.all([a.close(), b.close()]);
    }
  });

  test('every connection of node A terminated (as in a server restart): A recovers, hears B, and keeps working', async () => {
    const { a, b, close } = await twoNodes();
    try {
      const user = await a.directory.createUser('erin@example.org', 'x');
      const inbox = (await a.mail.getMailbox(user.id, 'INBOX'))!;
      await a.mail.append(inbox.id, sampleMessage(1)); // warm A's pool
      const heard: ChangeEvent[] = [];
      const off = a.mail.subscribe(inbox.id, (ev) => heard.push(ev));
      const oldPid = a.listenerPid;
      const killed = await adminQuery<{ pid: number }>(
        db.adminUrl,
        `SELECT pid FROM pg_stat_activity WHERE datname = $1 AND application_name LIKE $2 AND pg_terminate_backend(pid)`,
        [db.name, `node-a-${schemaCounter}:%`],
      );
      assert.ok(killed.length >= 2, 'pool and LISTEN connections terminated');
      const r = await b.mail.append(inbox.id, sampleMessage(2));
      await eventually(() => heard.some((ev) => ev.highestModseq >= r.modseq), 'wake-up after the outage');
      await eventually(() => a.listenerPid !== null && a.listenerPid !== oldPid, 'listener back');
      // A's pool replaced its dead connections: reads and writes work again (a call that raced the
      // outage may fail with TEMPORARY, never crash the process).
      await eventually(async () => {
        try {
          await a.mail.append(inbox.id, sampleMessage(3));
          return true;
        } catch (e) {
          assert.ok(isStoreError(e, 'TEMPORARY'), String(e));
          return false;
        }
      }, 'node A writes again');
      assert.equal((await a.mail.listMessages(inbox.id)).length, 3);
      off();
    } finally {
      await close();
    }
  });

  test('a mailbox locked by a stuck transaction elsewhere: writes fail TEMPORARY after the lock timeout, then work', async () => {
    const schema = `nodes_${++schemaCounter}`;
    const s = await openPostgresStore({ url: db.url, schema, fsync: false, poolSize: 2, lockTimeoutMs: 300 });
    const stuck = new pg.Client({ connectionString: db.url });
    stuck.on('error', () => undefined);
    await stuck.connect();
    try {
      const user = await s.directory.createUser('frank@example.org', 'x');
      const inbox = (await s.mail.getMailbox(user.id, 'INBOX'))!;
      await stuck.query('BEGIN');
      await stuck.query(`SELECT 1 FROM ${schema}.mailboxes WHERE id = $1 FOR UPDATE`, [inbox.id]);
      await assert.rejects(s.mail.append(inbox.id, sampleMessage(1)), (e: unknown) => isStoreError(e, 'TEMPORARY'));
      await assert.rejects(s.mail.storeFlags(inbox.id, [1], { op: 'add', flags: ['\\Seen'] }), (e: unknown) => isStoreError(e, 'TEMPORARY'));
      // Readers are not blocked by the lock.
      assert.equal((await s.mail.status(inbox.id)).messages, 0);
      await stuck.query('ROLLBACK');
      assert.equal((await s.mail.append(inbox.id, sampleMessage(2))).uid, 1, 'the failed append used no UID');
    } finally {
      await stuck.end().catch(() => undefined);
      await s.close();
    }
  });

  test('POP3 maildrop lock is exclusive across nodes and released when the holder connection dies', async () => {
    const { a, b, close } = await twoNodes();
    try {
      const user = await a.directory.createUser('dave@example.org', 'x');
      const relA = await a.maildrop.lock(user.id);
      assert.ok(relA);
      assert.equal(await b.maildrop.lock(user.id), null, 'node B sees the lock of node A');
      assert.equal(await a.maildrop.lock(user.id), null, 'and so does node A itself');
      await relA();
      const relB = await b.maildrop.lock(user.id);
      assert.ok(relB, 'free again after release');
      // Node B "dies": its lock connection is terminated; PostgreSQL releases the session lock.
      const holders = await adminQuery<{ pid: number }>(
        db.adminUrl,
        'SELECT pid FROM pg_stat_activity WHERE datname = $1 AND application_name = $2',
        [db.name, `node-b-${schemaCounter}:maildrop`],
      );
      assert.equal(holders.length, 1);
      await adminQuery(db.adminUrl, 'SELECT pg_terminate_backend($1)', [holders[0]!.pid]);
      await eventually(async () => {
        const r = await a.maildrop.lock(user.id);
        if (r) await r();
        return r !== null;
      }, 'lock freed by the dead connection');
      await relB(); // releasing after the connection died is harmless
      // Closing a node releases the locks it holds.
      const relA2 = await a.maildrop.lock(user.id);
      assert.ok(relA2);
      await a.close();
      await eventually(async () => {
        const r = await b.maildrop.lock(user.id);
        if (r) await r();
        return r !== null;
      }, 'lock freed by close');
    } finally {
      await close();
    }
  });

  test('outbound: concurrent claims from two nodes are disjoint; a lease expires; update releases it', async () => {
    const { a, b, close } = await twoNodes({ outboundLeaseMs: 60_000 });
    try {
      const ids: string[] = [];
      for (let i = 0; i < 20; i++) ids.push(await a.queue.enqueue('s@example.org', [`r${i}@example.net`], Buffer.from(`m${i}\r\n`)));
      const now = new Date(Date.now() + 1000);
      const [ca, cb] = await Promise.all([a.queue.due(now, 12), b.queue.due(now, 12)]);
      const claimedA = new Set(ca.map((m) => m.id));
      const claimedB = new Set(cb.map((m) => m.id));
      assert.ok([...claimedA].every((id) => !claimedB.has(id)), 'no message claimed by both nodes');
      assert.equal(claimedA.size + claimedB.size, 20, 'together they claimed everything due');
      // A node still sees its own claims (plain queue semantics for one node), not the other's.
      assert.deepEqual(new Set((await a.queue.due(now, 50)).map((m) => m.id)), claimedA);
      // After the lease, the other node may take over (node A died mid-delivery).
      const later = new Date(now.getTime() + 61_000);
      const takeover = await b.queue.due(later, 50);
      assert.equal(takeover.length, 20);
      // updateOutbound (a failed attempt rescheduled) releases the claim.
      const first = ca[0]!;
      await a.queue.update(first.id, { recipients: first.recipients, attempts: 1, nextAttemptAt: now, lastError: '451 later' });
      const afterUpdate = await a.queue.due(now, 50);
      assert.ok(afterUpdate.some((m) => m.id === first.id));
      for (const id of ids) await b.queue.remove(id);
      assert.deepEqual(await a.queue.list(), []);
    } finally {
      await close();
    }
  });

  test('a node refuses to start with a clear error when PostgreSQL is unreachable; bad options are INVALID', async () => {
    await assert.rejects(openPostgresStore({ url: 'postgres://postgres@127.0.0.1:1/none' }), (e: unknown) => {
      assert.ok(isStoreError(e, 'TEMPORARY'), String(e));
      return true;
    });
    await assert.rejects(openPostgresStore({ url: db.url, schema: 'bad-name; drop' }), (e: unknown) => isStoreError(e, 'INVALID'));
    const prev = process.env['MAILROOM_TEST_PG_URL'];
    process.env['MAILROOM_TEST_PG_URL'] = 'postgres://postgres@127.0.0.1:1/postgres';
    try {
      await assert.rejects(createTestDatabase(), /PostgreSQL is required/);
    } finally {
      if (prev === undefined) delete process.env['MAILROOM_TEST_PG_URL'];
      else process.env['MAILROOM_TEST_PG_URL'] = prev;
    }
  });
});
