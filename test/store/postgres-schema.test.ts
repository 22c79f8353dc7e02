/**
 * Schema migrations: versioned, recorded once in schema_migrations, idempotent, serialised between nodes
 * by an advisory lock, all-or-nothing per run, and tolerant of a database newer than the code.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { memoryLogger, type LogLine } from '../../src/lib/logger.js';
import { Db } from '../../src/store/postgres/db.js';
import { MIGRATIONS, migrate, type Migration } from '../../src/store/postgres/schema.js';
import { adminQuery, createTestDatabase, type TestDatabase } from '../../support/postgres.js';

let tdb: TestDatabase;
const lines: LogLine[] = [];
const pools: Db[] = [];

function node(schema: string): Db {
  const d = new Db({ url: tdb.url, schema, applicationName: 'migration-test', poolSize: 2, logger: memoryLogger(lines), durable: false });
  pools.push(d);
  return d;
}

before(async () => {
  tdb = await createTestDatabase();
});
after(async () => {
  await Promise.all(pools.map((p) => p.end().catch(() => undefined)));
  await tdb?.drop();
});

const V2: Migration = { version: 2, name: 'nicknames', sql: 'ALTER TABLE users ADD COLUMN nickname text' };
const V3_BROKEN: Migration = {
  version: 3,
  name: 'broken',
  sql: 'ALTER TABLE users ADD COLUMN half_done text; SELECT no_such_function()',
};

async function versions(schema: string): Promise<number[]> {
  return (await adminQuery<{ version: number }>(tdb.url, `SELECT version FROM ${schema}.schema_migrations ORDER BY version`)).map((r) => r.version);
}

async function columns(schema: string): Promise<string[]> {
  return (
    await adminQuery<{ column_name: string }>(
      tdb.url,
      "SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'users' ORDER BY column_name",
      [schema],
    )
  ).map((r) => r.column_name);
}

test('migrations apply once, in order, from racing nodes; a failing one leaves nothing behind', async () => {
  const schema = 'mig';
  assert.deepEqual(await migrate(node(schema), schema, memoryLogger(lines), [MIGRATIONS[0]!]), [1]);
  assert.deepEqual(await migrate(node(schema), schema, memoryLogger(lines), [MIGRATIONS[0]!]), [], 'idempotent');

  // Three nodes upgrade at once: exactly one applies version 2.
  const results = await Promise.all([1, 2, 3].map(() => migrate(node(schema), schema, memoryLogger(lines), [MIGRATIONS[0]!, V2])));
  assert.deepEqual(
    results.flat(),
    [2],
  );
  assert.deepEqual(await versions(schema), [1, 2]);
  assert.ok((await columns(schema)).includes('nickname'));

  // A broken migration: rejected, not recorded, and its first statement rolled back with it.
  await assert.rejects(migrate(node(schema), schema, memoryLogger(lines), [MIGRATIONS[0]!, V2, V3_BROKEN]), /no_such_function/);
  assert.deepEqual(await versions(schema), [1, 2]);
  assert.ok(!(await columns(schema)).includes('half_done'));

  // Older code on a newer database: nothing applied, a warning logged.
  const seen = lines.length;
  assert.deepEqual(await migrate(node(schema), schema, memoryLogger(lines), [MIGRATIONS[0]!]), []);
  assert.ok(lines.slice(seen).some((l) => l.level === 'warn' && /newer/.test(l.msg ?? '')));
});

test('a fresh schema from racing first starts: created once, every version recorded once', async () => {
  const schema = 'fresh_race';
  const results = await Promise.all([1, 2, 3, 4].map(() => migrate(node(schema), schema, memoryLogger(lines))));
  assert.equal(results.filter((r) => r.length > 0).length, 1, 'one node did the work');
  assert.deepEqual(await versions(schema), MIGRATIONS.map((m) => m.version));
});
