/** `mailroom export`, `import store|maildir|mbox`, `migrate`, `compact` as a user runs them (the built CLI). */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from './helpers/cli.js';
import { openServerStore } from '../src/server/store.js';
import { createTestDatabase } from '../support/postgres.js';

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'mailroom-cli-store-'));
  dirs.push(d);
  return d;
}

const msg = (n: number): Buffer => Buffer.from(`From: a@example.net\r\nTo: alice@example.org\r\nSubject: m${n}\r\nMessage-ID: <m${n}@example.net>\r\n\r\nbody ${n}\r\n`);

test('import maildir and mbox, export SQLite -> PostgreSQL -> SQLite keeps messages, flags and ids', async () => {
  const data = await tempDir();
  let r = await runCli(['user', 'add', 'alice@example.org', '--password-stdin', '--data', data], { input: 'pw\n' });
  assert.equal(r.code, 0, r.stderr);

  // a Maildir with a sub-folder and flags in file names
  const md = join(await tempDir(), 'Maildir');
  for (const sub of ['cur', 'new', 'tmp', '.Work/cur', '.Work/new', '.Work/tmp']) await mkdir(join(md, sub), { recursive: true });
  await writeFile(join(md, 'new', '1700000000.1.host'), msg(1));
  await writeFile(join(md, 'cur', '1700000000.2.host:2,FS'), msg(2));
  await writeFile(join(md, '.Work', 'cur', '1700000000.3.host:2,S'), msg(3));
  r = await runCli(['import', 'maildir', md, '--user', 'alice@example.org', '--data', data, '--json']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal((JSON.parse(r.stdout) as { messages: number }).messages, 3);

  // an mbox with a From_ line quoted body and a Status header
  const mbox = join(await tempDir(), 'old.mbox');
  await writeFile(mbox, 'From a@example.net Mon Jan  1 00:00:00 2024\nSubject: x1\nStatus: RO\n\n>From quoted\nline\n\nFrom b@example.net Tue Jan  2 00:00:00 2024\nSubject: x2\n\nsecond\n');
  r = await runCli(['import', 'mbox', mbox, '--user', 'alice@example.org', '--mailbox', 'Old', '--data', data]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^imported: 1 mailboxes, 2 messages/);

  r = await runCli(['import', 'mbox', mbox, '--user', 'nobody@example.org', '--data', data]);
  assert.equal(r.code, 1);
  assert.equal(r.stderr, 'mailroom: no such user: nobody@example.org\n');

  // snapshot of the source
  const snapshot = async (spec: { dataDir: string } | { url: string }): Promise<string[]> => {
    const s = await openServerStore(spec);
    try {
      const u = await s.directory.getUser('alice@example.org');
      assert.ok(u);
      const out: string[] = [];
      for (const mb of (await s.mail.listMailboxes(u.id)).sort((a, b) => a.name.localeCompare(b.name))) {
        for (const m of await s.mail.listMessages(mb.id)) {
          const raw = await s.mail.readBytes(mb.id, m.uid);
          out.push(`${mb.name} ${m.emailId} ${[...m.flags].sort().join(',')} ${m.internalDate.toISOString()} ${raw.toString('base64')}`);
        }
      }
      return out;
    } finally {
      await s.close();
    }
  };
  const before = await snapshot({ dataDir: data });
  assert.equal(before.length, 5);
  assert.ok(before.some((l) => l.startsWith('INBOX ') && l.includes('\\Flagged,\\Seen')), 'Maildir flags imported');
  assert.ok(before.some((l) => l.startsWith('Work ')), 'Maildir folder imported');
  assert.ok(before.some((l) => l.startsWith('Old ') && l.includes('\\Seen')), 'mbox Status: RO means seen');

  const db = await createTestDatabase();
  try {
    r = await runCli(['migrate', '--store', db.url]);
    assert.equal(r.code, 0, r.stderr);
    r = await runCli(['export', '--to', db.url, '--data', data]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^exported: 1 users, \d+ mailboxes, 5 messages/);
    assert.deepEqual(await snapshot({ url: db.url }), before);

    // exporting again without --merge refuses to touch the existing user
    r = await runCli(['export', '--to', db.url, '--data', data]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^mailroom: .*alice@example\.org.*\n$/);

    const back = await tempDir();
    r = await runCli(['import', 'store', db.url, '--data', back]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await snapshot({ dataDir: back }), before);
  } finally {
    await db.drop();
  }
});

test('compact returns the space of deleted mail (SQLite) and refuses PostgreSQL with a clear message', async () => {
  const data = await tempDir();
  let r = await runCli(['user', 'add', 'alice@example.org', '--password-stdin', '--data', data], { input: 'pw\n' });
  assert.equal(r.code, 0, r.stderr);
  const store = await openServerStore({ dataDir: data });
  let keep: Buffer;
  try {
    const u = (await store.directory.getUser('alice@example.org'))!;
    const inbox = (await store.mail.getMailbox(u.id, 'INBOX'))!;
    const big = (n: number) => Buffer.concat([msg(n), Buffer.from(`${'y'.repeat(70)}\r\n`.repeat(400))]);
    for (let n = 0; n < 150; n++) await store.mail.append(inbox.id, big(n), n === 0 ? {} : { flags: ['\\Deleted'] });
    assert.equal((await store.mail.expunge(inbox.id)).length, 149);
    keep = big(0);
  } finally {
    await store.close();
  }
  r = await runCli(['compact', '--data', data, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const sizes = JSON.parse(r.stdout) as { before: number; after: number };
  assert.ok(sizes.after < sizes.before / 4, r.stdout);
  r = await runCli(['compact', '--data', data]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^compacted: \d+\.\d MB -> \d+\.\d MB\n$/);
  const again = await openServerStore({ dataDir: data });
  try {
    const u = (await again.directory.getUser('alice@example.org'))!;
    const inbox = (await again.mail.getMailbox(u.id, 'INBOX'))!;
    assert.deepEqual(await again.mail.readBytes(inbox.id, 1), keep);
  } finally {
    await again.close();
  }

  const db = await createTestDatabase();
  try {
    r = await runCli(['compact', '--store', db.url]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'mailroom: compact applies to the SQLite store (PostgreSQL reclaims space with its own VACUUM)\n');
  } finally {
    await db.drop();
  }
});
