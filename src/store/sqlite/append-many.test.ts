/**
 * appendMany of the SQLite store and its blob files (the contract suite covers the rest): a batch refused
 * inside its transaction (quota, a taken EMAILID, a simulated failure after its rows), or whose blob write
 * fails part-way, leaves no file; a successful batch mixes inline and file blobs; a process killed after
 * writing a batch's files and before its commit leaves no message, UID or file after the next open.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { sampleMessage } from '../../../test/helpers/store.js';
import { isStoreError, type AppendItem } from '../types.js';
import type { BlobWriter } from './commit.js';
import { openSqliteStore, type SqliteStore } from './index.js';

function blobFiles(dir: string): string[] {
  const root = join(dir, 'blobs');
  const out: string[] = [];
  for (const shard of readdirSync(root)) if (/^[0-9a-f]{2}$/.test(shard)) for (const f of readdirSync(join(root, shard))) out.push(f);
  return out.sort();
}

/** The parts of the store's core these tests reach into. */
interface CoreHooks {
  groupCommit<T>(fn: () => T, writer?: BlobWriter, durable?: boolean): Promise<T>;
  blobs: { write(id: string, data: Buffer): Promise<void> };
}
const coreOf = (s: SqliteStore): CoreHooks => (s as unknown as { core: CoreHooks }).core;

const big = (n: number): Buffer => sampleMessage(n, { body: `${'b'.repeat(2000)}\r\n` });
const items = (...raws: Buffer[]): AppendItem[] => raws.map((raw) => ({ raw }));

async function withStore(fn: (s: SqliteStore, dir: string, inbox: number, userId: number) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'mailroom-append-many-'));
  const s = await openSqliteStore({ dataDir: dir, fsync: true, inlineMax: 1024 });
  try {
    const user = await s.directory.createUser('m@example.org', 'h');
    await fn(s, dir, (await s.mail.getMailbox(user.id, 'INBOX'))!.id, user.id);
  } finally {
    await s.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('SQLite appendMany and blob files', () => {
  test('a batch refused inside its transaction leaves no file, no row and no UID; a good one mixes inline and files', async () => {
    await withStore(async (s, dir, inbox, userId) => {
      const status = async () => {
        const st = await s.mail.status(inbox);
        return [st.messages, st.uidNext, st.highestModseq];
      };
      const start = await status();
      // Over quota only with the whole batch: the check runs after the last row.
      await s.quota.setLimits(userId, { messages: 2 });
      await assert.rejects(s.mail.appendMany(inbox, items(big(1), sampleMessage(2), big(3))), (e: unknown) => isStoreError(e, 'OVER_QUOTA'));
      assert.deepEqual(blobFiles(dir), []);
      await s.quota.setLimits(userId, { messages: null });
      // The same EMAILID twice: the second row is refused inside the transaction.
      const twice = [{ raw: big(4), opts: { emailId: 'Mdup' } }, { raw: big(5), opts: { emailId: 'Mdup' } }];
      await assert.rejects(s.mail.appendMany(inbox, twice), (e: unknown) => isStoreError(e, 'EXISTS'));
      assert.deepEqual(blobFiles(dir), []);
      // Any failure after the rows were written (here one injected at the end of the batch's savepoint).
      const core = coreOf(s);
      const real = core.groupCommit.bind(core);
      core.groupCommit = (fn, writer, durable) =>
        real(
          () => {
            fn();
            throw new Error('simulated failure inside the transaction');
          },
          writer,
          durable,
        );
      try {
        await assert.rejects(s.mail.appendMany(inbox, items(big(6), big(7), sampleMessage(8))), /simulated failure/);
      } finally {
        core.groupCommit = real;
      }
      assert.deepEqual(blobFiles(dir), []);
      assert.deepEqual(await status(), start);
      // Succeeds whole: two files (the big ones), one inline message, all readable.
      const raws = [big(9), sampleMessage(10), big(11)];
      const r = await s.mail.appendMany(inbox, items(...raws));
      assert.deepEqual(
        r.map((x) => x.uid),
        [1, 2, 3],
      );
      assert.equal(blobFiles(dir).length, 2);
      for (const [i, raw] of raws.entries()) assert.deepEqual(await s.mail.readBytes(inbox, i + 1), raw);
    });
  });

  test('a blob write failing part-way through a batch removes the files already written', async () => {
    await withStore(async (s, dir, inbox) => {
      const blobs = coreOf(s).blobs;
      const real = blobs.write.bind(blobs);
      let n = 0;
      blobs.write = async (id, data) => {
        if (++n === 3) throw Object.assign(new Error('disk full'), { code: 'ENOSPC' });
        await real(id, data);
      };
      try {
        await assert.rejects(s.mail.appendMany(inbox, items(big(1), big(2), big(3), big(4))));
      } finally {
        blobs.write = real;
      }
      assert.deepEqual(blobFiles(dir), []);
      assert.equal((await s.mail.status(inbox)).uidNext, 1);
    });
  });

  test('killed after writing a batch and before its commit: after reopening, no message, no UID, no file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mailroom-append-many-crash-'));
    // The child writes a batch whose commit never comes (as if the process died just before it), says so
    // once the batch's files are on disk, and waits to be killed.
    const script = `
      import { openSqliteStore } from ${JSON.stringify(new URL('./index.ts', import.meta.url).pathname)};
      const s = await openSqliteStore({ dataDir: ${JSON.stringify(dir)}, fsync: true, inlineMax: 1024 });
      const user = await s.directory.createUser('m@example.org', 'h');
      const inbox = (await s.mail.getMailbox(user.id, 'INBOX')).id;
      await s.mail.append(inbox, Buffer.from('Subject: before\\r\\n\\r\\n' + 'a'.repeat(2000) + '\\r\\n'));
      s.core.groupCommit = () => {
        process.stdout.write('written\\n');
        return new Promise(() => undefined);
      };
      const big = (n) => ({ raw: Buffer.from('Subject: ' + n + '\\r\\n\\r\\n' + 'b'.repeat(2000) + '\\r\\n') });
      void s.mail.appendMany(inbox, [big(1), big(2), big(3)]);
      setInterval(() => undefined, 1000);
    `;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const exited = once(child, 'exit').then(() => ['(the child exited)']);
      const [line] = (await Promise.race([once(createInterface({ input: child.stdout }), 'line'), exited])) as [string];
      assert.equal(line, 'written');
      assert.equal(blobFiles(dir).length, 4, 'the committed message and the three of the batch');
      child.kill('SIGKILL');
      await once(child, 'exit');
      const s = await openSqliteStore({ dataDir: dir, fsync: false, inlineMax: 1024 });
      try {
        const user = (await s.directory.getUser('m@example.org'))!;
        const inbox = (await s.mail.getMailbox(user.id, 'INBOX'))!;
        const st = await s.mail.status(inbox.id);
        assert.deepEqual([st.messages, st.uidNext], [1, 2]);
        assert.equal(blobFiles(dir).length, 1, "the open-time sweep removed the dead writer's batch files");
        assert.equal((await s.mail.appendMany(inbox.id, items(big(5), big(6))))[0]!.uid, 2);
      } finally {
        await s.close();
      }
    } finally {
      child.kill();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
