import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir, homedir } from 'node:os';
import { join } from 'node:path';
import { ClientEngine, encodeFolderName, defaultProfileDir } from './engine.js';
import { ClientError } from './errors.js';
import { resolvePassword } from './credentials.js';

function withEngine(fn: (e: ClientEngine, dir: string) => Promise<void> | void): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'mailroom-engine-'));
  const e = new ClientEngine({ profileDir: dir });
  return Promise.resolve(fn(e, dir)).finally(() => {
    e.close();
    rmSync(dir, { recursive: true, force: true });
  });
}

const base = { user: 'u', password: { kind: 'env' as const, name: 'PW' } };

test('account defaults: TLS and standard ports off loopback, plain only on loopback or when asked', () =>
  withEngine((e) => {
    assert.deepEqual([e.addAccount({ ...base, name: 'a', protocol: 'imap', host: 'imap.example.org' })].map((a) => [a.security, a.port]), [['tls', 993]]);
    assert.deepEqual([e.addAccount({ ...base, name: 'b', protocol: 'pop3', host: 'pop.example.org' })].map((a) => [a.security, a.port, a.policy]), [['tls', 995, { kind: 'delete' }]]);
    assert.equal(e.addAccount({ ...base, name: 'c', protocol: 'pop3', host: '127.0.0.1' }).security, 'plain');
    assert.deepEqual([e.addAccount({ ...base, name: 'd', protocol: 'imap', host: 'imap.example.org', starttls: true })].map((a) => [a.security, a.port]), [['starttls', 143]]);
    assert.equal(e.addAccount({ ...base, name: 'e', protocol: 'imap', host: 'imap.example.org', insecurePlain: true }).security, 'plain');
    assert.deepEqual(e.addAccount({ ...base, name: 'f', protocol: 'pop3', host: 'h', leaveOnServer: true, keepDays: 5 }).policy, { kind: 'keep-days', days: 5 });
    assert.deepEqual(e.addAccount({ ...base, name: 'g', protocol: 'pop3', host: 'h', leaveOnServer: true }).policy, { kind: 'keep' });
    assert.deepEqual(e.addAccount({ ...base, name: 'h', protocol: 'imap', host: 'h', cache: 'recent:7' }).cache, { kind: 'recent', days: 7 });
    assert.deepEqual(e.addAccount({ ...base, name: 'i', protocol: 'imap', host: 'h', smtpHost: 'smtp.example.org' }).smtp, { host: 'smtp.example.org', port: 587, security: 'starttls' });
    assert.deepEqual(e.listAccounts().map((a) => a.name), ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i']);
  }));

test('account validation errors are CONFIG errors with a reason', () =>
  withEngine((e) => {
    const bad: Array<[Parameters<ClientEngine['addAccount']>[0], RegExp]> = [
      [{ ...base, name: '../x', protocol: 'imap', host: 'h' }, /account name/],
      [{ ...base, name: 'x', protocol: 'imap', host: '' }, /--host/],
      [{ ...base, name: 'x', protocol: 'imap', host: 'h', tls: true, starttls: true }, /choose one of/],
      [{ ...base, name: 'x', protocol: 'imap', host: 'h', port: 70000 }, /invalid port/],
      [{ ...base, name: 'x', protocol: 'pop3', host: 'h', keepDays: 3 }, /need --leave-on-server/],
      [{ ...base, name: 'x', protocol: 'pop3', host: 'h', cache: 'all' }, /--cache applies to IMAP/],
      [{ ...base, name: 'x', protocol: 'imap', host: 'h', leaveOnServer: true }, /apply to POP3/],
      [{ ...base, name: 'x', protocol: 'imap', host: 'h', cache: 'recent:x' }, /cache policy/],
      [{ ...base, name: 'x', protocol: 'imap', host: 'h', caFile: '/nonexistent/ca.pem' }, /does not exist/],
      [{ ...base, name: 'x', protocol: 'imap', host: 'h', password: { kind: 'env', name: 'A B' } }, /environment variable name/],
      [{ ...base, name: 'x', protocol: 'imap', host: 'h', smtpPort: 25 }, /need --smtp-host/],
    ];
    for (const [input, re] of bad) assert.throws(() => e.addAccount(input), (err: ClientError) => err.code === 'CONFIG' && re.test(err.message), String(re));
    e.addAccount({ ...base, name: 'x', protocol: 'imap', host: 'h' });
    assert.throws(() => e.addAccount({ ...base, name: 'x', protocol: 'imap', host: 'h' }), /already exists/);
    assert.throws(() => e.account('nope'), (err: ClientError) => err.code === 'NOT_FOUND');
    assert.throws(() => e.message(42), /no message with id 42/);
    e.removeAccount('x');
    assert.deepEqual(e.listAccounts(), []);
  }));

test('the profile stores no secret: only the reference to the password source', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mailroom-engine-'));
  try {
    const e = new ClientEngine({ profileDir: dir, passwords: { env: { MR_PW: 'env-secret-value' } } });
    e.addAccount({ name: 'c', protocol: 'imap', host: 'h', user: 'u', password: { kind: 'command', command: 'printf command-secret-value' } });
    e.addAccount({ name: 'v', protocol: 'imap', host: 'h', user: 'u', password: { kind: 'env', name: 'MR_PW' } });
    e.addAccount({ name: 's', protocol: 'pop3', host: 'h', user: 'u', password: { kind: 'stdin' } });
    assert.equal(await resolvePassword(e.account('c')), 'command-secret-value');
    assert.equal(await resolvePassword(e.account('v'), { env: { MR_PW: 'env-secret-value' } }), 'env-secret-value');
    await assert.rejects(resolvePassword(e.account('s')), (err: ClientError) => err.code === 'CREDENTIALS' && /--password-stdin/.test(err.message));
    assert.equal(await resolvePassword(e.account('s'), { stdin: async () => 'typed\n' }), 'typed');
    await assert.rejects(resolvePassword({ ...e.account('c'), password: { kind: 'command', command: 'exit 3' } }), /exited with 3/);
    await assert.rejects(resolvePassword({ ...e.account('c'), password: { kind: 'env', name: 'MAILROOM_SURELY_UNSET' } }, { env: {} }), /is not set/);
    e.close();
    const db = Buffer.concat([readFileSync(join(dir, 'state.sqlite')), ...(existsSync(join(dir, 'state.sqlite-wal')) ? [readFileSync(join(dir, 'state.sqlite-wal'))] : [])]);
    assert.equal(db.includes(Buffer.from('env-secret-value')), false, 'no password value in the state file');
    assert.ok(db.includes(Buffer.from('MR_PW')), 'only the variable name');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('folder names become safe single directory names', () => {
  assert.equal(encodeFolderName('INBOX'), 'INBOX');
  assert.equal(encodeFolderName('../etc'), '%2E%2E%2Fetc');
  assert.equal(encodeFolderName('Work/2024'), 'Work%2F2024');
  assert.equal(encodeFolderName('.hidden'), '%2Ehidden');
  assert.equal(encodeFolderName('Entwürfe'), 'Entw%C3%BCrfe');
  assert.equal(encodeFolderName(''), '%00');
  assert.equal(defaultProfileDir(undefined, {}), join(homedir(), '.mailroom'));
  assert.equal(defaultProfileDir(undefined, { MAILROOM_PROFILE: '/p' }), '/p');
  assert.equal(defaultProfileDir('/x', { MAILROOM_PROFILE: '/p' }), '/x');
});

test('offline local operations on POP3 mail: flag, move to a local folder, delete', () =>
  withEngine((e) => {
    e.addAccount({ ...base, name: 'p', protocol: 'pop3', host: '127.0.0.1' });
    const raw = Buffer.from('From: a@b.example\r\nSubject: local\r\n\r\nbody\r\n');
    const file = e.inbox.deliver(raw, { asNew: true });
    const id = e.state.insertMessage({
      account: 'p', folder: 'INBOX', uid: null, uidl: 'U1', messageId: null, flags: [], summary: { subject: 'local', from: 'a@b.example', to: '', date: null, messageId: null },
      internalDate: 1, size: raw.length, maildir: e.inbox.root, fileKey: file.key, filePath: file.path, bodyCached: true, cachedAt: 1,
    });
    e.state.recordUidl('p', 'U1', false);
    assert.deepEqual(e.flag(id, 'flagged').flags, ['\\Flagged']);
    assert.deepEqual(e.flag(id, 'seen').flags, ['\\Flagged', '\\Seen']);
    assert.ok(e.message(id).filePath?.endsWith(':2,FS'));
    const moved = e.move(id, 'Archive');
    assert.equal(moved.folder, 'Archive');
    assert.ok(moved.filePath && existsSync(moved.filePath));
    assert.ok(!existsSync(file.path));
    assert.deepEqual(e.list({ folder: 'Archive' }).map((r) => r.id), [id]);
    assert.equal(e.state.queueSize(), 0, 'POP3 changes are local only');
    e.delete(id);
    assert.equal(e.list({ folder: 'Archive' }).length, 0);
    assert.equal(e.state.knownUidls('p').get('U1')?.locallyDeleted, true);
  }));

test('move targets resolve by path, case-insensitively, or by special use', () =>
  withEngine((e) => {
    e.addAccount({ ...base, name: 'g', protocol: 'imap', host: 'h' });
    e.state.upsertFolder('g', 'INBOX', '/', '\\Inbox');
    e.state.upsertFolder('g', '[Gmail]/Bin', '/', '\\Trash');
    e.state.upsertFolder('g', 'Projects', '/', null);
    assert.equal(e.resolveFolder('g', 'Projects'), 'Projects');
    assert.equal(e.resolveFolder('g', 'projects'), 'Projects');
    assert.equal(e.resolveFolder('g', 'Trash'), '[Gmail]/Bin');
    assert.equal(e.resolveFolder('g', '\\Trash'), '[Gmail]/Bin');
    assert.equal(e.resolveFolder('g', 'Nowhere'), null);
  }));
