/**
 * The WAL checkpointer (checkpointer.ts): its checkpoints reach the database file itself, it follows other
 * connections' commits when told to watch them, a reader's snapshot is never overwritten, and it fails
 * cleanly on a file that is not there.
 */
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { Checkpointer } from './checkpointer.js';

function withDb(fn: (file: string, db: Database.Database) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'mailroom-ckpt-'));
  const file = join(dir, 'mail.db');
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('wal_autocheckpoint = 0'); // only the checkpointer copies pages into the database file
  db.exec('CREATE TABLE t (x TEXT)');
  return fn(file, db).finally(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });
}

async function until(cond: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!cond()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Rows in the database file alone: a copy of it without its WAL. */
function rowsInFile(file: string): number {
  const copy = `${file}.copy`;
  copyFileSync(file, copy);
  const db = new Database(copy, { readonly: true });
  try {
    const table = db.prepare("SELECT 1 FROM sqlite_master WHERE name = 't'").get();
    return table ? (db.prepare('SELECT count(*) FROM t').pluck().get() as number) : -1;
  } finally {
    db.close();
    for (const f of [copy, `${copy}-wal`, `${copy}-shm`]) rmSync(f, { force: true });
  }
}

/** Frames in the WAL and frames of it copied into the database, as a passive checkpoint reports them. */
function walState(db: Database.Database): { log: number; checkpointed: number } {
  const [r] = db.pragma('wal_checkpoint(PASSIVE)') as Array<{ log: number; checkpointed: number }>;
  return r!;
}

describe('WAL checkpointer', () => {
  test('commits it is told of reach the database file; close stops it', async () => {
    await withDb(async (file, db) => {
      const c = new Checkpointer(file);
      try {
        await until(() => c.runs > 0, 'the first checkpoint');
        const insert = db.prepare('INSERT INTO t VALUES (?)');
        for (let i = 0; i < 50; i++) insert.run(`row ${i}`);
        assert.equal(rowsInFile(file), 0, 'the rows committed since are in the WAL only');
        const before = c.runs;
        c.committed();
        await until(() => c.runs > before, 'a checkpoint after the commits');
        assert.equal(rowsInFile(file), 50);
      } finally {
        await c.close();
      }
      await c.close(); // twice is harmless
      const after = c.runs;
      db.prepare('INSERT INTO t VALUES (?)').run('late');
      c.committed(); // after close: nothing runs
      await new Promise((r) => setTimeout(r, 400));
      assert.equal(c.runs, after);
      assert.equal(rowsInFile(file), 50);
    });
  });

  test('watching others, it checkpoints commits nobody signalled', async () => {
    await withDb(async (file, db) => {
      const c = new Checkpointer(file, true);
      try {
        await until(() => c.runs > 0, 'the first checkpoint');
        db.prepare('INSERT INTO t VALUES (?)').run('from another connection');
        await until(() => rowsInFile(file) === 1, 'the row in the database file');
      } finally {
        await c.close();
      }
    });
  });

  test("a reader's snapshot bounds the copy, and the reader still sees it", async () => {
    await withDb(async (file, db) => {
      const insert = db.prepare('INSERT INTO t VALUES (?)');
      insert.run('first');
      const reader = new Database(file, { readonly: true });
      const c = new Checkpointer(file, true);
      try {
        await until(() => c.runs > 0, 'the first checkpoint');
        reader.prepare('BEGIN').run();
        assert.equal(reader.prepare('SELECT count(*) FROM t').pluck().get(), 1);
        for (let i = 0; i < 20; i++) insert.run(`more ${i}`);
        const seen = c.runs;
        await until(() => c.runs > seen, 'a checkpoint after the inserts');
        const mid = walState(db);
        assert.ok(mid.checkpointed < mid.log, 'frames past the open snapshot stay in the WAL only');
        assert.equal(reader.prepare('SELECT count(*) FROM t').pluck().get(), 1, 'the snapshot is intact');
        reader.prepare('COMMIT').run();
        insert.run('last');
        await until(() => rowsInFile(file) === 22, 'everything once the reader is gone');
      } finally {
        await c.close();
        reader.close();
      }
    });
  });

  test('a database file that does not exist is an error at once, leaving nothing open', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mailroom-ckpt-'));
    try {
      assert.throws(() => new Checkpointer(join(dir, 'missing.db')));
      assert.equal(existsSync(join(dir, 'missing.db')), false, 'not created');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
