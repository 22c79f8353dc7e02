/**
 * Client sync with folder names that do not fit a file name as they are: a 30-character Japanese folder
 * (270 bytes percent-encoded) gets a shortened, stable local Maildir name, and one folder that cannot be
 * synchronised is reported while the others are.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { existsSync, readdirSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createImapService } from '../src/imap-server/index.js';
import { openSqliteStore } from '../src/store/sqlite/index.js';
import { Authenticator } from '../src/auth/index.js';
import { encodeFolderName } from '../src/client/engine.js';
import type { ImapReport } from '../src/client/imap/syncer.js';
import { tempProfile, engine, sampleMessage, PASSWORD_ENV } from './helpers/client.js';

const LONG = '日本語のとても長いフォルダ名前です日本語のとても長いフォルダ名前です日本語'.slice(0, 30);
const USER = 'longnames@example.org';
const PW = 'secret';

async function server(folders: string[]): Promise<{ port: number; close: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'mailroom-longnames-'));
  const store = await openSqliteStore({ dataDir: dir });
  await store.directory.addDomain('example.org');
  const user = await store.directory.createUser(USER, `{PLAIN}${PW}`);
  for (const f of folders) {
    const mb = f === 'INBOX' ? (await store.mail.getMailbox(user.id, 'INBOX'))! : await store.mail.createMailbox(user.id, f);
    await store.mail.append(mb.id, sampleMessage(`in ${f}`));
  }
  const auth = new Authenticator(store.directory, { failureDelayMs: 0 });
  const imap = createImapService({ store, auth, hostname: 'imap.test' });
  const port = (await imap.listen({ host: '127.0.0.1', port: 0, implicitTls: false })).port;
  return {
    port,
    close: async () => {
      await imap.close();
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

test('encodeFolderName keeps every name within one path component, stable and without collisions', () => {
  assert.equal(Buffer.byteLength(LONG, 'utf8'), 90);
  const a = encodeFolderName(LONG);
  assert.ok(Buffer.byteLength(a) <= 255, `${Buffer.byteLength(a)} bytes`);
  assert.equal(encodeFolderName(LONG), a, 'same input, same name');
  assert.notEqual(encodeFolderName(LONG + 'x'), a);
  assert.notEqual(encodeFolderName(LONG.slice(0, 29) + 'ト'), a, 'names sharing the kept prefix still differ');
  assert.match(a, /~[0-9a-f]{16}$/);
  assert.doesNotMatch(a, /%[0-9A-F]?~/, 'no escape cut in half');
  assert.equal(encodeFolderName('Work/2024'), 'Work%2F2024', 'short names unchanged');
  for (let n = 60; n < 120; n++) assert.ok(Buffer.byteLength(encodeFolderName('é'.repeat(n))) <= 255);
});

test('a 30-character Japanese folder syncs into a local Maildir and does not stop the other folders', async (t) => {
  const srv = await server(['INBOX', LONG, 'Work']);
  t.after(() => srv.close());
  const p = tempProfile();
  t.after(p.cleanup);
  const e = engine(p.dir, PW);
  t.after(() => e.close());
  e.addAccount({ name: 'jp', protocol: 'imap', host: '127.0.0.1', port: srv.port, user: USER, password: { kind: 'env', name: PASSWORD_ENV } });
  const r = (await e.syncAccount('jp')) as ImapReport;
  assert.deepEqual(r.failed, []);
  assert.ok(r.folders >= 3, String(r.folders));
  const local = readdirSync(join(p.dir, 'mail', 'imap', 'jp'));
  assert.ok(local.includes(encodeFolderName(LONG)), local.join(' | '));
  assert.ok(local.every((n) => Buffer.byteLength(n) <= 255));
  for (const f of ['INBOX', LONG, 'Work']) assert.equal(e.list({ account: 'jp', folder: f }).length, 1, f);
});

test('a folder whose local Maildir cannot be created is reported; the other folders are synchronised', async (t) => {
  const srv = await server(['INBOX', 'Blocked', 'Work']);
  t.after(() => srv.close());
  const p = tempProfile();
  t.after(p.cleanup);
  // A plain file where the folder's Maildir directory would go.
  mkdirSync(join(p.dir, 'mail', 'imap', 'jp'), { recursive: true });
  writeFileSync(join(p.dir, 'mail', 'imap', 'jp', 'Blocked'), 'not a directory');
  const e = engine(p.dir, PW);
  t.after(() => e.close());
  e.addAccount({ name: 'jp', protocol: 'imap', host: '127.0.0.1', port: srv.port, user: USER, password: { kind: 'env', name: PASSWORD_ENV } });
  const r = (await e.syncAccount('jp')) as ImapReport;
  assert.deepEqual(r.failed.map((f) => f.folder), ['Blocked']);
  assert.equal(e.list({ account: 'jp', folder: 'INBOX' }).length, 1);
  assert.equal(e.list({ account: 'jp', folder: 'Work' }).length, 1);
  assert.ok(existsSync(join(p.dir, 'mail', 'imap', 'jp', 'Work', 'cur')) || existsSync(join(p.dir, 'mail', 'imap', 'jp', 'Work', 'new')));
});
