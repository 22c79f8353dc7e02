/**
 * The blob-directory mode of the PostgreSQL store (the contract suite runs in bytea mode): files appear,
 * are shared by copies, disappear with the last reference, are never left behind by a failed append or
 * a refused appendMany batch, and orphans are swept. Also: both modes on one schema, and data PostgreSQL
 * text cannot hold (NUL).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { envelopeImapText } from '../../src/imap/wire/envelope-text.js';
import { openPostgresStore, splitStoreUrl, type PostgresStore } from '../../src/store/postgres/index.js';
import { isStoreError, type AppendItem, type ChangeEvent } from '../../src/store/types.js';
import type { Queryable } from '../../src/store/postgres/db.js';
import type { PreparedBlob } from '../../src/store/postgres/blobs.js';
import { adminQuery, createTestDatabase, type TestDatabase } from '../../support/postgres.js';
import { assertEnvelopesMatch, assertHeadersMatch, bigHeaderMessage, collect, sampleMessage } from '../helpers/store.js';

let db: TestDatabase;
let n = 0;
const dirs: string[] = [];

before(async () => {
  db = await createTestDatabase();
});

after(async () => {
  await db?.drop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function blobFiles(dir: string): string[] {
  const out: string[] = [];
  if (!existsSync(dir)) return out;
  for (const sub of readdirSync(dir)) for (const f of readdirSync(join(dir, sub))) out.push(join(sub, f));
  return out.sort();
}

async function fresh(schema = `blob_${++n}`): Promise<{ s: PostgresStore; dir: string; schema: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'mailroom-pg-blobdir-'));
  dirs.push(dir);
  const s = await openPostgresStore({ url: db.url, schema, blobDir: dir, fsync: n % 2 === 0, poolSize: 3, sweepAtOpen: false, envelopeText: envelopeImapText });
  return { s, dir, schema };
}

/** The parts of the store's core the appendMany test reaches into. */
interface CoreHooks {
  db: { tx<T>(fn: (q: Queryable, after: Array<() => void>) => Promise<T>, opts?: object): Promise<T> };
  blobs: { prepare(data: Buffer): Promise<PreparedBlob> };
}
const coreOf = (s: PostgresStore): CoreHooks => (s.mail as unknown as { core: CoreHooks }).core;
const items = (...raws: Buffer[]): AppendItem[] => raws.map((raw) => ({ raw }));

describe('PostgreSQL store with a blob directory', () => {
  test('append writes one file; reads and ranges come from it; copies share it; the last expunge removes it', async () => {
    const { s, dir } = await fresh();
    try {
      assert.equal(s.blobMode, 'dir');
      const u = await s.directory.createUser('a@example.org', 'x');
      const inbox = (await s.mail.getMailbox(u.id, 'INBOX'))!;
      const other = await s.mail.createMailbox(u.id, 'Other');
      const raw = Buffer.from('Subject: lf\nFrom: a@example.org\n\nline one\nline two\n');
      const r = await s.mail.append(inbox.id, raw, { flags: ['\\Deleted'] });
      const crlf = Buffer.from(raw.toString('latin1').replace(/\n/g, '\r\n'), 'latin1');
      assert.equal(blobFiles(dir).length, 1);
      assert.deepEqual(await s.mail.readBytes(inbox.id, r.uid), crlf);
      assert.deepEqual(await s.mail.readBytes(inbox.id, r.uid, { start: 2, end: 9 }), crlf.subarray(2, 9));
      assert.deepEqual(await s.mail.readBytes(inbox.id, r.uid, { start: 10, end: 1e12 }), crlf.subarray(10));
      assert.equal((await s.mail.readBytes(inbox.id, r.uid, { start: 1e12, end: 2e12 })).length, 0);
      await assert.rejects(s.mail.readBytes(inbox.id, r.uid, { start: Number.NaN, end: 3 }), (e: unknown) => isStoreError(e, 'INVALID'));

      const c = await s.mail.copy(inbox.id, [r.uid], other.id);
      assert.equal(blobFiles(dir).length, 1, 'a copy shares the file');
      await s.mail.expunge(inbox.id);
      assert.equal(blobFiles(dir).length, 1, 'still referenced by the copy');
      await assert.rejects(s.mail.readBytes(inbox.id, r.uid), (e: unknown) => isStoreError(e, 'NOT_FOUND'));
      assert.deepEqual(await s.mail.readBytes(other.id, c.pairs[0]![1]), crlf);
      await s.mail.storeFlags(other.id, [c.pairs[0]![1]], { op: 'add', flags: ['\\Deleted'] });
      await s.mail.expunge(other.id);
      assert.deepEqual(blobFiles(dir), [], 'last reference gone: file unlinked');

      // Mailbox and user deletion release their files too.
      await s.mail.append(other.id, sampleMessage(1));
      await s.mail.append(inbox.id, sampleMessage(2));
      assert.equal(blobFiles(dir).length, 2);
      await s.mail.deleteMailbox(u.id, 'Other');
      assert.equal(blobFiles(dir).length, 1);
      await s.directory.deleteUser('a@example.org');
      assert.deepEqual(blobFiles(dir), []);
    } finally {
      await s.close();
    }
  });

  test('a failed append leaves no file behind; outbound blobs live and die with their queue entry', async () => {
    const { s, dir } = await fresh();
    try {
      // The mailbox is only checked inside the transaction (after the blob was written): the file of a
      // failed transaction must be removed.
      await assert.rejects(s.mail.append(987654, sampleMessage(1)), (e: unknown) => isStoreError(e, 'NOT_FOUND'));
      const u = await s.directory.createUser('b@example.org', 'x');
      const junk = (await s.mail.getMailbox(u.id, 'Junk'))!;
      await s.mail.deleteMailbox(u.id, 'Junk');
      await assert.rejects(s.mail.append(junk.id, sampleMessage(2)), (e: unknown) => isStoreError(e, 'NOT_FOUND'));
      assert.deepEqual(blobFiles(dir), []);

      const raw = Buffer.from('From: a@example.org\r\n\r\nqueued\r\n');
      const id = await s.queue.enqueue('a@example.org', ['x@example.net'], raw);
      assert.equal(blobFiles(dir).length, 1);
      assert.deepEqual(await s.queue.read(id), raw);
      await s.queue.remove(id);
      assert.deepEqual(blobFiles(dir), []);
    } finally {
      await s.close();
    }
  });

  test('appendMany: refused batches (quota, EMAILID, a failure inside the transaction, a file not written) leave no file, row, UID or wake-up; a good one wakes another node once', async () => {
    const { s, dir, schema } = await fresh();
    const other = await openPostgresStore({ url: db.url, schema, blobDir: dir, fsync: false, poolSize: 2, sweepAtOpen: false });
    try {
      const u = await s.directory.createUser('m@example.org', 'x');
      const inbox = (await s.mail.getMailbox(u.id, 'INBOX'))!;
      await other.listenerSettled();
      const heard: ChangeEvent[] = [];
      const off = other.mail.subscribe(inbox.id, (ev) => heard.push(ev));
      const status = async () => {
        const st = await s.mail.status(inbox.id);
        return [st.messages, st.uidNext, st.highestModseq];
      };
      const start = await status();

      await s.quota.setLimits(u.id, { messages: 2 });
      await assert.rejects(s.mail.appendMany(inbox.id, items(sampleMessage(1), sampleMessage(2), sampleMessage(3))), (e: unknown) =>
        isStoreError(e, 'OVER_QUOTA'),
      );
      await s.quota.setLimits(u.id, { messages: null });
      const twice = [{ raw: sampleMessage(4), opts: { emailId: 'Mdup' } }, { raw: sampleMessage(5), opts: { emailId: 'Mdup' } }];
      await assert.rejects(s.mail.appendMany(inbox.id, twice), (e: unknown) => isStoreError(e, 'EXISTS'));

      // Any failure after the rows were written, before COMMIT (injected at the end of the transaction).
      const core = coreOf(s);
      const realTx = core.db.tx.bind(core.db);
      core.db.tx = (fn, o) =>
        realTx(async (q, after) => {
          await fn(q, after);
          throw new Error('simulated failure inside the transaction');
        }, o);
      try {
        await assert.rejects(s.mail.appendMany(inbox.id, items(sampleMessage(6), sampleMessage(7))), /simulated failure/);
      } finally {
        core.db.tx = realTx;
      }

      // One file cannot be written: the others of the batch go too, and no transaction runs.
      const realPrepare = core.blobs.prepare.bind(core.blobs);
      let n = 0;
      core.blobs.prepare = async (data) => {
        if (++n === 2) throw new Error('disk full');
        return realPrepare(data);
      };
      try {
        await assert.rejects(s.mail.appendMany(inbox.id, items(sampleMessage(8), sampleMessage(9), sampleMessage(10))), /disk full/);
      } finally {
        core.blobs.prepare = realPrepare;
      }
      assert.deepEqual(blobFiles(dir), []);
      assert.deepEqual(await status(), start);

      const raws = [sampleMessage(11), sampleMessage(12), sampleMessage(13)];
      const r = await s.mail.appendMany(inbox.id, items(...raws));
      assert.deepEqual(
        r.map((x) => x.uid),
        [1, 2, 3],
      );
      assert.equal(blobFiles(dir).length, 3);
      for (const [i, raw] of raws.entries()) assert.deepEqual(await other.mail.readBytes(inbox.id, i + 1), raw);
      const until = Date.now() + 5000;
      while (heard.length === 0 && Date.now() < until) await new Promise((res) => setTimeout(res, 10));
      // A later single append: its wake-up arrives after any (wrong) second one of the batch would have.
      await s.mail.append(inbox.id, sampleMessage(14));
      while (heard.length < 2 && Date.now() < until) await new Promise((res) => setTimeout(res, 10));
      off();
      assert.deepEqual(
        heard.map((ev) => ev.highestModseq),
        [r[0]!.modseq, r[0]!.modseq + 1],
        'the other node heard one wake-up per write and none of the refused batches',
      );
    } finally {
      await other.close();
      await s.close();
    }
  });

  test('sweepOrphanBlobs removes old unreferenced files only', async () => {
    const { s, dir, schema } = await fresh();
    try {
      const u = await s.directory.createUser('c@example.org', 'x');
      const inbox = (await s.mail.getMailbox(u.id, 'INBOX'))!;
      const r = await s.mail.append(inbox.id, sampleMessage(1));
      const kept = blobFiles(dir);
      assert.equal(kept.length, 1);
      mkdirSync(join(dir, 'ab'), { recursive: true });
      const oldOrphan = join(dir, 'ab', 'ab' + '0'.repeat(30));
      const newOrphan = join(dir, 'ab', 'ab' + '1'.repeat(30));
      const notABlob = join(dir, 'ab', 'README');
      writeFileSync(oldOrphan, 'crash leftover');
      writeFileSync(newOrphan, 'being written');
      writeFileSync(notABlob, 'not ours');
      const past = new Date(Date.now() - 2 * 3600_000);
      utimesSync(oldOrphan, past, past);
      utimesSync(join(dir, kept[0]!), past, past);
      assert.equal(await s.sweepOrphanBlobs(3600_000), 1);
      assert.equal(existsSync(oldOrphan), false);
      assert.equal(existsSync(newOrphan), true, 'within the grace period');
      assert.equal(existsSync(notABlob), true, 'foreign names are never touched');
      assert.ok((await s.mail.readBytes(inbox.id, r.uid)).length > 0, 'referenced blob kept');

      // A node opening on the same directory sweeps by itself (in the background).
      writeFileSync(oldOrphan, 'another crash leftover');
      utimesSync(oldOrphan, past, past);
      const other = await openPostgresStore({ url: db.url, schema, blobDir: dir, fsync: false, poolSize: 2 });
      try {
        const until = Date.now() + 5000;
        while (existsSync(oldOrphan) && Date.now() < until) await new Promise((res) => setTimeout(res, 10));
        assert.equal(existsSync(oldOrphan), false, 'swept at open');
        assert.equal(existsSync(newOrphan), true);
        assert.ok((await other.mail.readBytes(inbox.id, r.uid)).length > 0);
      } finally {
        await other.close();
      }
    } finally {
      await s.close();
    }
  });

  test('bytea and directory nodes on one schema: a directory node reads both forms', async () => {
    const { s: dirNode, schema } = await fresh();
    const byteaNode = await openPostgresStore({ url: db.url, schema, fsync: false, poolSize: 2 });
    try {
      assert.equal(byteaNode.blobMode, 'bytea');
      const u = await dirNode.directory.createUser('d@example.org', 'x');
      const inbox = (await dirNode.mail.getMailbox(u.id, 'INBOX'))!;
      const m1 = sampleMessage(1, { body: 'stored as a file\r\n' });
      const m2 = sampleMessage(2, { body: 'stored in bytea\r\n' });
      const r1 = await dirNode.mail.append(inbox.id, m1);
      const r2 = await byteaNode.mail.append(inbox.id, m2);
      // A directory node reads rows of both forms (e.g. after switching a database from bytea to files).
      assert.deepEqual(await dirNode.mail.readBytes(inbox.id, r1.uid), m1);
      assert.deepEqual(await dirNode.mail.readBytes(inbox.id, r2.uid), m2);
      assert.deepEqual(await dirNode.mail.readBytes(inbox.id, r2.uid, { start: 5, end: 15 }), m2.subarray(5, 15));
      assert.deepEqual(await dirNode.mail.readBytes(inbox.id, r1.uid, { start: 5, end: 15 }), m1.subarray(5, 15));
      // A node without the directory reads bytea rows and reports file rows as a configuration problem.
      assert.deepEqual(await byteaNode.mail.readBytes(inbox.id, r2.uid), m2);
      await assert.rejects(byteaNode.mail.readBytes(inbox.id, r1.uid), (e: unknown) => isStoreError(e, 'TEMPORARY') && /blobDir/.test(e.message));
    } finally {
      await Promise.all([dirNode.close(), byteaNode.close()]);
    }
  });

  test('schema and blobDir may ride in the store URL', async () => {
    assert.deepEqual(splitStoreUrl('postgres://u@h:5/db'), { url: 'postgres://u@h:5/db' });
    assert.deepEqual(splitStoreUrl('postgres://u@h:5/db?schema=s1&blobDir=%2Fsrv%2Fblobs&sslmode=disable'), {
      url: 'postgres://u@h:5/db?sslmode=disable',
      schema: 's1',
      blobDir: '/srv/blobs',
    });
    assert.throws(() => splitStoreUrl('not a url'), (e: unknown) => isStoreError(e, 'INVALID'));
    const dir = mkdtempSync(join(tmpdir(), 'mailroom-pg-urlblobs-'));
    dirs.push(dir);
    const s = await openPostgresStore({ url: `${db.url}?schema=from_url&blobDir=${encodeURIComponent(dir)}`, fsync: false, poolSize: 2 });
    try {
      assert.equal(s.blobMode, 'dir');
      const u = await s.directory.createUser('url@example.org', 'x');
      await s.mail.append((await s.mail.getMailbox(u.id, 'INBOX'))!.id, sampleMessage(1));
      assert.equal(blobFiles(dir).length, 1);
      const rows = await adminQuery<{ address: string }>(db.url, 'SELECT address FROM from_url.users');
      assert.deepEqual(rows, [{ address: 'url@example.org' }]);
    } finally {
      await s.close();
    }
  });

  test('NUL bytes in headers and body: stored, indexed, searchable', async () => {
    const { s } = await fresh();
    try {
      const u = await s.directory.createUser('e@example.org', 'x');
      const inbox = (await s.mail.getMailbox(u.id, 'INBOX'))!;
      // RFC 2231 lets a parameter decode to U+0000, which jsonb cannot store.
      const raw = Buffer.from(
        "Subject: bad\u0000subject\r\nFrom: a@example.org\r\nContent-Type: text/plain; name*=utf-8''a%00b\r\n\r\nbody with \u0000 nul and findme\r\n",
        'latin1',
      );
      const r = await s.mail.append(inbox.id, raw);
      assert.deepEqual(await s.mail.readBytes(inbox.id, r.uid), raw);
      const recs = await collect(s.mail.readMessages(inbox.id, [r.uid], { index: true }));
      assert.equal(recs.length, 1);
      assert.deepEqual(recs[0]!.index.root.params[0], ['name', 'a\u0000b'], 'index kept exactly');
      // The envelope read takes the JSON-text form too (a NUL cannot be sent quoted: no IMAP text).
      const plain = await s.mail.append(inbox.id, sampleMessage(7, { subject: 'envelope only' }));
      const full = await collect(s.mail.readMessages(inbox.id, [plain.uid], { index: true }));
      const envs = await collect(s.mail.readMessages(inbox.id, [plain.uid, r.uid, 999], { envelope: true, envelopeText: true }));
      assert.equal(envelopeImapText(recs[0]!.index.envelope), null);
      assert.deepEqual(
        envs.map((e) => [e.uid, e.envelope, e.envelopeText]),
        [
          [r.uid, recs[0]!.index.envelope, null],
          [plain.uid, full[0]!.index.envelope, envelopeImapText(full[0]!.index.envelope)],
        ],
      );
      assert.match(String(envs[1]!.envelopeText), /^\(".*" "envelope only" /);
      // The header block of a message whose index is kept as JSON text, alone and with the other parts.
      const heads = await collect(s.mail.readMessages(inbox.id, [r.uid], { header: true }));
      assert.deepEqual(heads[0]?.header, raw.subarray(0, recs[0]!.index.root.headerEnd));
      const withEnvelope = await collect(s.mail.readMessages(inbox.id, [r.uid], { header: true, envelope: true }));
      assert.deepEqual(withEnvelope[0]?.header, heads[0]?.header);
      assert.deepEqual(await s.mail.searchText(inbox.id, [r.uid], 'FINDME', 'body'), [r.uid]);
      assert.deepEqual(await s.mail.searchText(inbox.id, [r.uid], 'nothere', 'text'), []);
    } finally {
      await s.close();
    }
  });
  test('header blocks and envelope text: kept per blob, shared by copies, gone with the blob; older rows read the blob and index', async () => {
    const { s, schema } = await fresh();
    const count = async (sql: string): Promise<number> => Number((await adminQuery<{ n: string }>(db.url, sql))[0]!.n);
    try {
      const u = await s.directory.createUser('h@example.org', 'x');
      const inbox = (await s.mail.getMailbox(u.id, 'INBOX'))!;
      const arch = (await s.mail.getMailbox(u.id, 'Archive'))!;
      const nul = Buffer.from('Subject: nul\u0000here\r\nFrom: a@example.org\r\n\r\nbody\r\n', 'latin1');
      const eightBit = Buffer.from('Subject: caf\u00e9\r\nFrom: a@b.example\r\n\r\nx\r\n', 'utf8');
      const raws = [sampleMessage(1), bigHeaderMessage(2), Buffer.from('Subject: no body\r\nFrom: a@b.example'), nul, eightBit, sampleMessage(6)];
      for (const raw of raws) await s.mail.append(inbox.id, raw);
      const uids = [1, 2, 3, 4, 5, 6];
      await s.mail.copy(inbox.id, uids, arch.id);
      const check = async (why: string, boxes = [inbox.id, arch.id], textOf: typeof envelopeImapText | null = envelopeImapText): Promise<void> => {
        for (const box of boxes) {
          assert.equal(await assertHeadersMatch(s.mail, box, [...uids, 99], why), 6);
          const env = await assertEnvelopesMatch(s.mail, box, uids, why, textOf);
          assert.equal(env.text + env.none, 6);
        }
      };
      await check('as written');
      assert.deepEqual(await assertEnvelopesMatch(s.mail, inbox.id, uids, 'text', envelopeImapText), { text: 4, none: 2 }, 'NUL and 8-bit envelopes have no text form');
      assert.equal(await count(`SELECT count(*) AS n FROM ${schema}.blob_headers`), 5, 'one row per blob, none for the big header');
      assert.equal(await count(`SELECT count(*) AS n FROM ${schema}.blob_meta WHERE envelope_text IS NOT NULL`), 4);

      // Blobs written before migration 2: no header rows (all but uid 1's), no envelope text. Read from the
      // files and the indexes (uid 4's kept as JSON text: its subject holds a NUL).
      await adminQuery(db.url, `DELETE FROM ${schema}.blob_headers WHERE blob_id IN (SELECT blob_id FROM ${schema}.messages WHERE uid <> 1)`);
      assert.equal(await count(`SELECT count(*) AS n FROM ${schema}.blob_headers`), 1);
      await adminQuery(db.url, `UPDATE ${schema}.blob_meta SET envelope_text = NULL`);
      await check('rows from before migration 2', [inbox.id, arch.id], null);
      assert.deepEqual(await assertEnvelopesMatch(s.mail, inbox.id, uids, 'no text', null), { text: 0, none: 6 });

      // The rows go with the last reference to their blob.
      await s.mail.storeFlags(inbox.id, uids, { op: 'add', flags: ['\\Deleted'] });
      await s.mail.expunge(inbox.id);
      assert.equal(await count(`SELECT count(*) AS n FROM ${schema}.blob_headers`), 1, 'still referenced by the copies');
      await check('after expunging the originals', [arch.id], null);
      await s.mail.storeFlags(arch.id, uids, { op: 'add', flags: ['\\Deleted'] });
      await s.mail.expunge(arch.id);
      assert.equal(await count(`SELECT count(*) AS n FROM ${schema}.blob_headers`), 0);
      assert.equal(await count(`SELECT count(*) AS n FROM ${schema}.blob_meta`), 0);
    } finally {
      await s.close();
    }
  });
});
