/**
 * mbsync (isync) against mailroom over IMAP: a full two-way sync of a small account with folders into Maildir,
 * local flag changes and a local append pushed back, server-side expunges pulled, and idempotent re-runs.
 * First run over cleartext IMAP on loopback, later runs over implicit TLS (IMAPS) verifying the server's
 * self-signed certificate.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, rename, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  ALICE,
  ALICE_PASS,
  describeRun,
  listMaildir,
  messageId,
  runTool,
  skipUnless,
  sortedFlags,
  startServer,
  tempDir,
  testMessage,
  toCrlf,
  toLf,
  type InteropServer,
  type MaildirEntry,
} from './helpers/interop.js';

/** A pulled Maildir file back in wire form: mbsync stores LF line ends and adds an X-TUID field while pulling. */
function wireForm(local: Buffer): Buffer {
  return toCrlf(Buffer.from(local.toString('latin1').replace(/^X-TUID: [^\n]*\n/m, ''), 'latin1'));
}

/** A message mbsync uploaded, minus the one X-TUID field it inserts at the end of the header. */
function withoutTuid(raw: Buffer): Buffer {
  const text = raw.toString('latin1');
  const tuids = text.match(/^X-TUID: [^\r\n]*\r\n/gm) ?? [];
  assert.equal(tuids.length, 1, 'one X-TUID field');
  return Buffer.from(text.replace(tuids[0]!, ''), 'latin1');
}

/** Maildir info letters for server flags, as mbsync writes them (sorted). */
function maildirLetters(flags: readonly string[]): string {
  const map: Record<string, string> = { '\\Draft': 'D', '\\Flagged': 'F', '\\Answered': 'R', '\\Seen': 'S', '\\Deleted': 'T' };
  return flags
    .map((f) => map[f] ?? '')
    .sort()
    .join('');
}

const FOLDERS: Record<string, number> = { INBOX: 16, Work: 6, 'Work/Projects': 4, Archive: 4 };

async function seed(s: InteropServer): Promise<void> {
  let n = 0;
  for (const [folder, count] of Object.entries(FOLDERS)) {
    for (let i = 0; i < count; i++) {
      n++;
      const flags = n % 4 === 1 ? ['\\Seen'] : n % 4 === 2 ? ['\\Seen', '\\Flagged'] : n % 9 === 0 ? ['\\Answered', '\\Seen'] : [];
      await s.append(folder, testMessage(n, { subject: `${folder} #${i + 1}`, attachment: n % 5 === 0 }), flags);
    }
  }
}

function rcFile(s: InteropServer, mail: string, tls: boolean): string {
  return [
    'IMAPAccount mailroom',
    'Host 127.0.0.1',
    `Port ${tls ? s.port('imaps') : s.port('imap')}`,
    `User ${ALICE}`,
    `Pass ${ALICE_PASS}`,
    ...(tls ? ['SSLType IMAPS', `CertificateFile ${s.certFile}`] : ['SSLType None']),
    '',
    'IMAPStore remote',
    'Account mailroom',
    '',
    'MaildirStore local',
    `Path ${mail}/`,
    `Inbox ${mail}/INBOX`,
    'SubFolders Verbatim',
    '',
    'Channel all',
    'Far :remote:',
    'Near :local:',
    'Patterns *',
    'Create Both',
    'Expunge Both',
    'SyncState *',
    '',
  ].join('\n');
}

test('mbsync: pull folders, push flags/expunge/append, pull server changes, idempotent re-runs (IMAP then IMAPS)', { skip: skipUnless('mbsync') }, async (t) => {
  const s = await startServer(t);
  await seed(s);
  const dir = await tempDir(t, 'mbsync');
  const home = join(dir, 'home');
  const mail = join(dir, 'mail');
  await mkdir(home);
  await mkdir(mail);
  const rcPlain = join(dir, 'mbsyncrc-plain');
  const rcTls = join(dir, 'mbsyncrc-tls');
  await writeFile(rcPlain, rcFile(s, mail, false));
  await writeFile(rcTls, rcFile(s, mail, true));

  async function sync(rc: string): Promise<string> {
    const r = await runTool('mbsync', ['-V', '-c', rc, 'all'], { home, timeoutMs: 60_000 });
    assert.equal(r.code, 0, describeRun('mbsync', r));
    return r.stdout + r.stderr;
  }
  const folderDir = (f: string): string => join(mail, f);
  async function snapshot(): Promise<Record<string, string[]>> {
    const out: Record<string, string[]> = {};
    for (const f of [...Object.keys(FOLDERS), 'Drafts', 'Sent', 'Trash', 'Junk', 'Local']) out[f] = (await listMaildir(folderDir(f))).map((e) => `${e.sub}/${e.name}`);
    return out;
  }
  /** Every local file of `folder` matches a server message byte for byte (in wire form) and by flags. */
  async function assertMirrors(folder: string): Promise<MaildirEntry[]> {
    const server = await s.messages(folder);
    const local = await listMaildir(folderDir(folder));
    assert.equal(local.length, server.length, `${folder}: local ${local.length} files vs server ${server.length} messages`);
    const byId = new Map(server.map((m) => [messageId(m.raw), m]));
    for (const e of local) {
      const body = await readFile(e.path);
      const m = byId.get(messageId(body));
      assert.ok(m, `${folder}: local ${e.name} has no server counterpart`);
      // Messages mbsync uploaded carry its X-TUID on the server; pulled ones carry it locally.
      const serverForm = Buffer.from(m.raw.toString('latin1').replace(/^X-TUID: [^\r\n]*\r\n/m, ''), 'latin1');
      assert.deepEqual(wireForm(body), serverForm, `${folder}: ${e.name} differs from server UID ${m.uid}`);
      assert.equal(e.flags, maildirLetters(m.flags), `${folder}: flags of ${e.name} vs server ${m.flags.join(' ')}`);
      byId.delete(messageId(body));
    }
    return local;
  }

  // 1. First sync over cleartext loopback IMAP: everything comes down.
  const log1 = await sync(rcPlain);
  for (const f of Object.keys(FOLDERS)) await assertMirrors(f);
  const total = (await Promise.all(Object.keys(FOLDERS).map(async (f) => (await listMaildir(folderDir(f))).length))).reduce((a, b) => a + b, 0);
  assert.equal(total, 30, log1);
  for (const special of ['Drafts', 'Sent', 'Trash', 'Junk']) {
    assert.deepEqual(await listMaildir(folderDir(special)), [], `${special} mirrored empty`);
  }

  // 2. Second run over IMAPS (certificate verified against the generated CA file): nothing changes.
  const before = await snapshot();
  await sync(rcTls);
  assert.deepEqual(await snapshot(), before, 'a second sync re-downloads or renames nothing');

  // 3. Local changes: flags by renaming, a deletion mark, a new message in a folder, a new folder.
  const inbox = await listMaildir(folderDir('INBOX'));
  const serverInbox = await s.messages('INBOX');
  const unflagged = inbox.filter((e) => e.flags === '');
  assert.ok(unflagged.length >= 5, 'fixture has enough unflagged INBOX messages');
  const [toSeen, toFlag, toAnswer, toTrash, toLeave] = unflagged as [MaildirEntry, MaildirEntry, MaildirEntry, MaildirEntry, MaildirEntry];
  const idOf = async (e: MaildirEntry): Promise<string> => messageId(await readFile(e.path));
  const ids = { seen: await idOf(toSeen), flag: await idOf(toFlag), answer: await idOf(toAnswer), trash: await idOf(toTrash), leave: await idOf(toLeave) };
  const base = (e: MaildirEntry): string => e.name.replace(/:2,.*$/, '');
  await rename(toSeen.path, join(folderDir('INBOX'), 'cur', `${base(toSeen)}:2,S`));
  await rename(toFlag.path, join(folderDir('INBOX'), 'cur', `${base(toFlag)}:2,F`));
  await rename(toAnswer.path, join(folderDir('INBOX'), 'cur', `${base(toAnswer)}:2,RS`));
  await rename(toTrash.path, join(folderDir('INBOX'), 'cur', `${base(toTrash)}:2,T`));
  // A message already \Seen on the server loses the flag locally.
  const seenLocal = inbox.find((e) => e.flags === 'S');
  assert.ok(seenLocal);
  const unseenId = await idOf(seenLocal);
  await rename(seenLocal.path, join(folderDir('INBOX'), 'cur', `${base(seenLocal)}:2,`));

  const composed = toCrlf(Buffer.from('From: Alice <alice@example.org>\nTo: Bob <bob@example.org>\nSubject: written offline\nMessage-ID: <offline-1@example.org>\nDate: Tue, 3 Mar 2026 09:00:00 +0000\n\nDrafted without a connection.\n.leading dot\n', 'utf8'));
  await writeFile(join(folderDir('Work'), 'new', '1700000000.offline1.host'), composed.toString('latin1').replace(/\r\n/g, '\n'), 'latin1');
  for (const sub of ['cur', 'new', 'tmp']) await mkdir(join(folderDir('Local'), sub), { recursive: true });
  const localOnly = testMessage(900, { subject: 'made in a local folder' });
  await writeFile(join(folderDir('Local'), 'cur', '1700000001.local1.host:2,S'), localOnly.toString('latin1').replace(/\r\n/g, '\n'), 'latin1');

  // Server-side changes made at the same time by another client.
  const goneOnServer = serverInbox.find((m) => messageId(m.raw) === ids.leave);
  assert.ok(goneOnServer);
  const inboxBox = await s.mailbox('INBOX');
  await s.m.store.mail.storeFlags(inboxBox.id, [goneOnServer.uid], { op: 'add', flags: ['\\Deleted'] });
  assert.deepEqual(await s.m.store.mail.expunge(inboxBox.id, [goneOnServer.uid]), [goneOnServer.uid]);
  const archived = testMessage(901, { subject: 'arrived in Archive meanwhile' });
  await s.append('Archive', archived, ['\\Flagged']);

  const log3 = await sync(rcTls);

  const flagsById = async (folder: string): Promise<Map<string, string[]>> => new Map((await s.messages(folder)).map((m) => [messageId(m.raw), sortedFlags(m.flags)]));
  const inboxFlags = await flagsById('INBOX');
  assert.deepEqual(inboxFlags.get(ids.seen), ['\\Seen']);
  assert.deepEqual(inboxFlags.get(ids.flag), ['\\Flagged']);
  assert.deepEqual(inboxFlags.get(ids.answer), ['\\Answered', '\\Seen']);
  assert.deepEqual(inboxFlags.get(unseenId), [], 'a \\Seen removed locally is removed on the server');
  assert.equal(inboxFlags.has(ids.trash), false, 'the T-marked message was expunged on the server (Expunge Both)');
  assert.equal(inboxFlags.has(ids.leave), false, 'expunged on the server, not re-uploaded');
  assert.equal(inboxFlags.size, 14, log3);
  // ... and the local side mirrors the server exactly again: the expunged message's file is gone.
  await assertMirrors('INBOX');

  const work = await s.messages('Work');
  const pushed = work.find((m) => messageId(m.raw) === '<offline-1@example.org>');
  assert.ok(pushed, 'the locally added message was uploaded');
  // mbsync tags every message it propagates with an X-TUID field (its recovery key); otherwise byte for byte.
  assert.deepEqual(withoutTuid(pushed.raw), composed, 'uploaded byte for byte (LF -> CRLF, plus X-TUID only)');
  assert.deepEqual(pushed.flags, []);
  await assertMirrors('Work');

  const localBox = await s.messages('Local');
  assert.equal(localBox.length, 1, 'Create Both made the new local folder on the server');
  assert.deepEqual(withoutTuid(localBox[0]!.raw), localOnly);
  assert.deepEqual(localBox[0]!.flags, ['\\Seen']);

  const archive = await assertMirrors('Archive');
  assert.equal(archive.length, 5);
  assert.ok(archive.some((e) => e.flags === 'F'));

  // 4. Idempotence: another run changes nothing on either side.
  const after = await snapshot();
  const serverBefore = await Promise.all(['INBOX', 'Work', 'Work/Projects', 'Archive', 'Local'].map(async (f) => (await s.messages(f)).map((m) => [m.uid, m.modseq, m.flags])));
  await sync(rcPlain);
  assert.deepEqual(await snapshot(), after);
  const serverAfter = await Promise.all(['INBOX', 'Work', 'Work/Projects', 'Archive', 'Local'].map(async (f) => (await s.messages(f)).map((m) => [m.uid, m.modseq, m.flags])));
  assert.deepEqual(serverAfter, serverBefore, 'no flag writes or uploads on an idle re-run');

  // Without the CA file, the self-signed certificate is refused: the IMAPS runs above really verified it.
  const rcNoCa = join(dir, 'mbsyncrc-noca');
  await writeFile(rcNoCa, rcFile(s, mail, true).replace(/^CertificateFile .*\n/m, ''));
  const refused = await runTool('mbsync', ['-c', rcNoCa, 'all'], { home, timeoutMs: 30_000 });
  assert.notEqual(refused.code, 0, describeRun('mbsync', refused));
  assert.match(refused.stdout + refused.stderr, /certificate/i);
});

test('mbsync over STARTTLS: CopyArrivalDate keeps INTERNALDATE both ways, MaxSize leaves a placeholder for a big message', { skip: skipUnless('mbsync') }, async (t) => {
  const s = await startServer(t);
  const dir = await tempDir(t, 'mbsync-dates');
  const home = join(dir, 'home');
  const mail = join(dir, 'mail');
  await mkdir(home);
  await mkdir(mail);
  const dates = [new Date('2024-01-02T03:04:05Z'), new Date('2025-06-07T08:09:10Z')];
  const small = [testMessage(1), testMessage(2)];
  const box = await s.mailbox('INBOX');
  for (const [i, raw] of small.entries()) await s.m.store.mail.append(box.id, raw, { internalDate: dates[i]! });
  const big = testMessage(3, { body: Array.from({ length: 100 }, (_, i) => `filler line ${i} ${'z'.repeat(60)}`) });
  assert.ok(big.length > 4096);
  await s.append('INBOX', big);
  const rc = join(dir, 'mbsyncrc');
  await writeFile(
    rc,
    rcFile(s, mail, false)
      .replace('SSLType None', `SSLType STARTTLS\nCertificateFile ${s.certFile}\nPipelineDepth 1`)
      .replace('IMAPStore remote\n', 'IMAPStore remote\nMaxSize 4k\n')
      .replace('MaildirStore local\n', 'MaildirStore local\nMaxSize 4k\n') + 'CopyArrivalDate yes\n',
  );
  const sync = async (): Promise<string> => {
    const r = await runTool('mbsync', ['-V', '-c', rc, 'all'], { home, timeoutMs: 60_000 });
    assert.equal(r.code, 0, describeRun('mbsync', r));
    return r.stdout + r.stderr;
  };
  const log = await sync();
  assert.match(log, /Connection is now encrypted/);
  const local = await listMaildir(join(mail, 'INBOX'));
  assert.equal(local.length, 3);
  const byId = new Map(await Promise.all(local.map(async (e) => [messageId(await readFile(e.path)), e] as const)));
  // Over MaxSize, mbsync stores only a placeholder built from the header (BODY.PEEK[HEADER]) and the RFC822.SIZE.
  const placeholder = (await readFile(byId.get(messageId(big))!.path, 'utf8'));
  assert.match(placeholder, /^Subject: \[placeholder\] Interop message 3$/m);
  assert.match(placeholder, /this message is over the MaxSize limit/);
  assert.ok(placeholder.length < 2000);
  for (const [i, raw] of small.entries()) {
    const e = byId.get(messageId(raw));
    assert.ok(e);
    assert.equal((await stat(e.path)).mtime.getTime(), dates[i]!.getTime(), 'file time = INTERNALDATE');
  }

  const when = new Date('2020-09-13T12:26:40Z');
  const file = join(mail, 'INBOX', 'new', '1600000000.dated.host');
  await writeFile(file, toLf(testMessage(4, { subject: 'dated upload' })));
  await utimes(file, when, when);
  await sync();
  const uploaded = (await s.messages('INBOX')).find((m) => messageId(m.raw) === '<interop-4@example.org>');
  assert.ok(uploaded);
  assert.equal(uploaded.internalDate.getTime(), when.getTime(), 'APPEND carried the file time as INTERNALDATE');
  const server = await s.messages('INBOX');
  assert.equal(server.length, 4, 'the placeholder is not uploaded');
  assert.deepEqual(server.find((m) => messageId(m.raw) === messageId(big))?.raw, big);
});
