/**
 * Crash safety of the PostgreSQL store with a blob directory: a child process appends (fsync on) and
 * reports each committed UID; the parent SIGKILLs it at a random moment, twice. Afterwards every reported
 * message is present and byte-identical, no row lacks its blob, the child's maildrop lock died with it,
 * and the files the child wrote for transactions that never committed are swept.
 * Needs PostgreSQL (see support/postgres.ts).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { openPostgresStore } from '../src/store/postgres/index.js';
import { adminQuery, createTestDatabase, type TestDatabase } from '../support/postgres.js';
import { crashMessage } from './store-crash-message.js';
import { runAndKill as runChildAndKill } from './helpers/crash.js';

const CHILD = new URL('./postgres-crash-child.ts', import.meta.url).pathname;
const SCHEMA = 'crash';

let db: TestDatabase;
let blobDir: string;

before(async () => {
  db = await createTestDatabase();
  blobDir = mkdtempSync(join(tmpdir(), 'mailroom-pg-crash-'));
});
after(async () => {
  await db?.drop();
  rmSync(blobDir, { recursive: true, force: true });
});

/** Runs the child until it has reported `atLeast` commits, then SIGKILLs it (see helpers/crash.ts). */
function runAndKill(seedBase: number, atLeast: number): Promise<Map<number, number>> {
  return runChildAndKill(CHILD, [db.url, SCHEMA, blobDir, String(seedBase)], atLeast);
}

function files(): string[] {
  const out: string[] = [];
  for (const shard of readdirSync(blobDir)) for (const f of readdirSync(join(blobDir, shard))) out.push(f);
  return out;
}

test('SIGKILL during appends loses nothing reported committed and leaves no row without its blob', async () => {
  const reported = new Map<number, number>();
  for (const [round, base] of [0, 100_000].entries()) {
    for (const [uid, seed] of await runAndKill(base, 20 + round * 5)) reported.set(uid, seed);
    // The killed node's connections are gone: its session-level maildrop lock was released by the server.
    // (The next round's child takes the lock again, or fails to start.)
  }
  const store = await openPostgresStore({ url: db.url, schema: SCHEMA, blobDir, fsync: false, poolSize: 2, sweepAtOpen: false });
  try {
    const user = (await store.directory.getUser('crash@example.org'))!;
    const inbox = (await store.mail.getMailbox(user.id, 'INBOX'))!;
    const release = await store.maildrop.lock(user.id);
    assert.ok(release, 'lock of the killed child released');
    await release();
    const list = await store.mail.listMessages(inbox.id);
    const byUid = new Map(list.map((m) => [m.uid, m]));
    for (const [uid, seed] of reported) {
      const m = byUid.get(uid);
      assert.ok(m, `uid ${uid} reported committed but missing`);
      assert.deepEqual(await store.mail.readBytes(inbox.id, uid), crashMessage(seed), `uid ${uid} bytes`);
      assert.equal(m.flags.includes('\\Seen'), seed % 3 === 0);
    }
    // Every row has its file (committed rows beyond the reported ones included).
    for (const m of list) assert.equal((await store.mail.readBytes(inbox.id, m.uid)).length, m.size);
    const rows = await adminQuery<{ id: string }>(db.url, `SELECT id FROM ${SCHEMA}.blobs`);
    const onDisk = files();
    assert.ok(rows.every((r) => onDisk.includes(r.id)), 'every blob row has its file');
    const orphans = onDisk.filter((f) => !rows.some((r) => r.id === f));
    assert.equal(await store.sweepOrphanBlobs(0), orphans.length);
    assert.equal(files().length, rows.length, 'only referenced files remain');
    const st = await store.mail.status(inbox.id);
    assert.equal(st.messages, list.length);
    assert.ok(st.uidNext > Math.max(...reported.keys()));
  } finally {
    await store.close();
  }
});
