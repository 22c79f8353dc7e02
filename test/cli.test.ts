import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { ImapFlow } from 'imapflow';
import { runCli, startCli } from './helpers/cli.js';

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'mailroom-cli-'));
  dirs.push(d);
  return d;
}
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('mailroom user', () => {
  test('add, list, passwd, del with clear one-line errors', async () => {
    const data = await tempDir();
    let r = await runCli(['user', 'add', 'Alice@Example.org', '--password-stdin', '--data', data], { input: 'pw1\n' });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'created alice@example.org\n');

    r = await runCli(['user', 'add', 'alice@example.org', '--password-stdin', '--data', data], { input: 'pw2\n' });
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'mailroom: user alice@example.org already exists\n');

    r = await runCli(['user', 'add', 'not an address', '--password-stdin', '--data', data], { input: 'pw\n' });
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'mailroom: invalid address: not an address\n');

    r = await runCli(['user', 'add', 'bob@example.org', '--password-stdin', '--data', data], { input: '' });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^mailroom: no password on standard input\n$/);

    // without --password-stdin a password is generated and printed once
    r = await runCli(['user', 'add', 'carol@example.net', '--data', data]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^created carol@example\.net\npassword: [A-Za-z0-9]{20}\n$/);

    r = await runCli(['user', 'list', '--json'], { env: { MAILROOM_DATA: data } });
    assert.equal(r.code, 0, r.stderr);
    const listed = (JSON.parse(r.stdout) as Array<{ address: string }>).map((u) => u.address).sort();
    assert.deepEqual(listed, ['alice@example.org', 'carol@example.net']);

    r = await runCli(['user', 'passwd', 'alice@example.org', '--password-stdin', '--data', data], { input: 'newpw\n' });
    assert.equal(r.code, 0, r.stderr);
    r = await runCli(['user', 'passwd', 'nobody@example.org', '--password-stdin', '--data', data], { input: 'x\n' });
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'mailroom: no such user: nobody@example.org\n');

    r = await runCli(['user', 'del', 'carol@example.net', '--data', data]);
    assert.equal(r.code, 0, r.stderr);
    r = await runCli(['user', 'del', 'carol@example.net', '--data', data]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'mailroom: no such user: carol@example.net\n');

    r = await runCli(['domain', 'list', '--data', data]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /example\.org/, 'user add created the domain');
  });

  test('an unusable data directory is one clear line and a non-zero exit', async () => {
    const base = await tempDir();
    const file = join(base, 'a-file');
    await writeFile(file, 'x');
    const r = await runCli(['user', 'list', '--data', join(file, 'data')]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^mailroom: cannot use data directory .*a-file\/data: ENOTDIR\n$/);
  });
});

describe('mailroom serve', () => {
  test('first start creates a user, prints client settings and ready; IMAP login works; SIGTERM stops cleanly', async () => {
    const data = await tempDir();
    const ports = ['--imap-port', '0', '--imaps-port', '0', '--pop3-port', '0', '--pop3s-port', 'off', '--lmtp-port', '0', '--smtp-port', 'off', '--submission-port', 'off', '--submissions-port', 'off', '--http-port', 'off', '--https-port', 'off', '--managesieve-port', 'off'];
    const s = await startCli(['serve', '--data', data, ...ports], /mailroom ready/);
    const out = s.output();
    const password = /password {2}(\S+)/.exec(out)?.[1];
    assert.ok(password, out);
    assert.match(out, /address {3}admin@localhost/);
    assert.match(out, /generated a self-signed certificate/);
    const imapPort = Number(/IMAP {8}127\.0\.0\.1 port (\d+) {2}\(STARTTLS\)/.exec(out)?.[1]);
    assert.ok(imapPort > 0, out);
    assert.match(out, /listener=imaps address=127\.0\.0\.1:\d+ tls=implicit/);
    assert.doesNotMatch(out, /listener=smtp /, 'off listeners do not start');

    const client = new ImapFlow({ host: '127.0.0.1', port: imapPort, secure: false, auth: { user: 'admin@localhost', pass: password }, logger: false, tls: { rejectUnauthorized: false } });
    await client.connect();
    const boxes = (await client.list()).map((b) => b.path).sort();
    assert.deepEqual(boxes, ['Archive', 'Drafts', 'INBOX', 'Junk', 'Sent', 'Trash']);
    await client.logout();

    s.child.kill('SIGTERM');
    assert.equal(await s.exited, 0, s.output());
    assert.match(s.output(), /stopped/);

    // second start: the user exists, no new password is printed, the certificate is reused
    const s2 = await startCli(['serve', '--data', data, ...ports], /mailroom ready/);
    assert.doesNotMatch(s2.output(), /password {2}/);
    assert.doesNotMatch(s2.output(), /generated a self-signed certificate/);
    s2.child.kill('SIGINT');
    assert.equal(await s2.exited, 0, s2.output());
  });

  test('a port in use and bad flag values are clear errors', async () => {
    const data = await tempDir();
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as { port: number }).port;
    try {
      const r = await runCli(['serve', '--data', data, '--imap-port', String(port), '--imaps-port', 'off', '--pop3-port', 'off', '--pop3s-port', 'off', '--lmtp-port', 'off', '--smtp-port', 'off', '--submission-port', 'off', '--submissions-port', 'off', '--http-port', 'off', '--https-port', 'off', '--managesieve-port', 'off']);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /^mailroom: address already in use/m);
    } finally {
      blocker.close();
    }
    const bad = await runCli(['serve', '--data', data, '--imap-port', 'seventy']);
    assert.equal(bad.code, 1);
    assert.equal(bad.stderr, 'mailroom: invalid --imap-port: seventy (expected 0-65535 or off)\n');
  });
});
