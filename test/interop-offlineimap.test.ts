/**
 * offlineimap (Debian package offlineimap3) against mailroom: pull folders into Maildir, push local flag
 * changes, a local deletion and a local new message, pull a server-side arrival, then an idle re-run; the later
 * runs over IMAPS with compression (COMPRESS=DEFLATE).
 * Skipped when offlineimap is not installed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ALICE, ALICE_PASS, describeRun, listMaildir, messageId, runTool, skipUnless, sortedFlags, startServer, tempDir, testMessage, toCrlf, toLf } from './helpers/interop.js';

const FOLDERS: Record<string, { local: string; count: number }> = {
  INBOX: { local: 'INBOX', count: 6 },
  Work: { local: 'Work', count: 3 },
  'Work/Projects': { local: 'Work.Projects', count: 2 },
};

test('offlineimap: pull folders, push flags/deletion/new message, pull server arrivals, idle re-run', { skip: skipUnless('offlineimap') }, async (t) => {
  const s = await startServer(t);
  let n = 0;
  for (const [folder, { count }] of Object.entries(FOLDERS)) {
    for (let i = 0; i < count; i++) {
      n++;
      await s.append(folder, testMessage(n, { attachment: n % 3 === 0 }), n % 2 === 0 ? ['\\Seen'] : n === 5 ? ['\\Flagged'] : []);
    }
  }
  const dir = await tempDir(t, 'offlineimap');
  const home = join(dir, 'home');
  const mail = join(dir, 'mail');
  await mkdir(home);
  await mkdir(mail);
  const rc = join(dir, 'offlineimaprc');
  const rcTls = join(dir, 'offlineimaprc-tls');
  const config = (tls: boolean): string =>
    [
      '[general]',
      'accounts = test',
      `metadata = ${join(dir, 'metadata')}`,
      'ui = basic',
      '',
      '[Account test]',
      'localrepository = local',
      'remoterepository = remote',
      '',
      '[Repository local]',
      'type = Maildir',
      `localfolders = ${mail}`,
      '',
      '[Repository remote]',
      'type = IMAP',
      // imaplib2 matches the certificate by DNS name only (not IP address entries): use "localhost" for TLS.
      `remotehost = ${tls ? 'localhost' : '127.0.0.1'}`,
      `remoteport = ${tls ? s.port('imaps') : s.port('imap')}`,
      `remoteuser = ${ALICE}`,
      `remotepass = ${ALICE_PASS}`,
      ...(tls ? ['ssl = yes', `sslcacertfile = ${s.certFile}`, 'usecompression = yes'] : ['ssl = no', 'starttls = no']),
      "folderfilter = lambda f: f in ['INBOX', 'Work', 'Work/Projects']",
      '',
    ].join('\n');
  await writeFile(rc, config(false));
  await writeFile(rcTls, config(true));
  async function sync(file = rc, debug = false): Promise<string> {
    const r = await runTool('offlineimap', ['-c', file, '-o', '-u', 'basic', ...(debug ? ['-d', 'imap'] : [])], { home, timeoutMs: 60_000 });
    assert.equal(r.code, 0, describeRun('offlineimap', r));
    assert.doesNotMatch(r.stdout + r.stderr, /ERROR/, describeRun('offlineimap', r));
    return r.stdout + r.stderr;
  }
  const letters = (flags: readonly string[]): string => {
    const map: Record<string, string> = { '\\Draft': 'D', '\\Flagged': 'F', '\\Answered': 'R', '\\Seen': 'S', '\\Deleted': 'T' };
    return flags.map((f) => map[f] ?? '').sort().join('');
  };
  async function assertMirrors(folder: string): Promise<void> {
    const server = await s.messages(folder);
    const local = await listMaildir(join(mail, FOLDERS[folder]!.local));
    assert.equal(local.length, server.length, `${folder}: ${local.length} local vs ${server.length} on the server`);
    const byId = new Map(server.map((m) => [messageId(m.raw), m]));
    for (const e of local) {
      const body = await readFile(e.path);
      const m = byId.get(messageId(body));
      assert.ok(m, `${folder}: ${e.name} not on the server`);
      // offlineimap stores LF line ends.
      assert.deepEqual(toCrlf(body), m.raw, `${folder}: ${e.name} differs from UID ${m.uid}`);
      assert.equal(e.flags, letters(m.flags), `${folder}: flags of ${e.name}`);
    }
  }

  await sync();
  for (const folder of Object.keys(FOLDERS)) await assertMirrors(folder);

  // Local changes: flag one, mark one read, delete one, add one.
  const inboxDir = join(mail, 'INBOX');
  const local = await listMaildir(inboxDir);
  const byId = new Map(await Promise.all(local.map(async (e) => [messageId(await readFile(e.path)), e] as const)));
  const e1 = byId.get('<interop-1@example.org>')!;
  const e3 = byId.get('<interop-3@example.org>')!;
  const e4 = byId.get('<interop-4@example.org>')!;
  assert.ok(e1 && e3 && e4);
  const base = (name: string): string => name.replace(/:2,.*$/, '');
  await rename(e1.path, join(inboxDir, 'cur', `${base(e1.name)}:2,F`));
  await rename(e3.path, join(inboxDir, 'cur', `${base(e3.name)}:2,RS`));
  await unlink(e4.path);
  const composed = testMessage(70, { subject: 'written locally' });
  await writeFile(join(inboxDir, 'new', '1700000000.local70.host'), toLf(composed));
  const arrived = testMessage(71, { subject: 'arrived on the server' });
  await s.append('Work', arrived);

  // This run goes over IMAPS (certificate checked against the generated one) with COMPRESS=DEFLATE (RFC 4978).
  const log = await sync(rcTls, true);
  assert.match(log, /COMPRESS DEFLATE\\r\\n/);
  assert.match(log, /OK [^'\n]*DEFLATE active/i, 'the server accepted COMPRESS and the session went on compressed');
  const flags = new Map((await s.messages('INBOX')).map((m) => [messageId(m.raw), sortedFlags(m.flags)]));
  assert.deepEqual(flags.get('<interop-1@example.org>'), ['\\Flagged']);
  assert.deepEqual(flags.get('<interop-3@example.org>'), ['\\Answered', '\\Seen']);
  assert.equal(flags.has('<interop-4@example.org>'), false, 'the locally deleted message was expunged on the server');
  const uploaded = (await s.messages('INBOX')).find((m) => messageId(m.raw) === '<interop-70@example.org>');
  assert.ok(uploaded, 'the local message was uploaded');
  // offlineimap may add its X-OfflineIMAP field when it cannot learn the new UID; with UIDPLUS it must not.
  assert.deepEqual(uploaded.raw, composed, 'uploaded byte for byte');
  for (const folder of Object.keys(FOLDERS)) await assertMirrors(folder);

  // An idle re-run changes nothing on either side.
  const snapshot = async (): Promise<unknown> => ({
    local: await Promise.all(Object.values(FOLDERS).map(async (f) => (await listMaildir(join(mail, f.local))).map((e) => e.name))),
    server: await Promise.all(Object.keys(FOLDERS).map(async (f) => (await s.messages(f)).map((m) => [m.uid, m.modseq]))),
  });
  const before = await snapshot();
  await sync(rcTls);
  assert.deepEqual(await snapshot(), before);
});
