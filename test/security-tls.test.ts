/**
 * TLS on every listener: Mozilla's intermediate profile (a client offering only static-RSA AES128-SHA is
 * refused, a normal client gets TLS 1.3), and certificate renewal: `mailroom serve` re-reads
 * --tls-cert/--tls-key on SIGHUP, new connections (implicit TLS and STLS/STARTTLS) get the new
 * certificate and open sessions stay.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect as netConnect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { createMailroom } from '../src/server/mailroom.js';
import { generateSelfSigned } from '../src/server/tls.js';
import { freePorts } from '../support/net.js';
import { ROOT } from './helpers/cli.js';

function tlsOpen(port: number, extra: { ciphers?: string; maxVersion?: 'TLSv1.2' } = {}): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...extra }, () => resolve(s));
    s.once('error', reject);
  });
}

/** Reads from a socket until `re` matches what arrived; returns all of it. */
function readUntil(s: Socket, re: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = '';
    const onData = (d: Buffer): void => {
      got += d.toString('latin1');
      if (re.test(got)) {
        s.off('data', onData);
        resolve(got);
      }
    };
    s.on('data', onData);
    s.once('error', reject);
  });
}

test('every TLS listener refuses a client offering only AES128-SHA; a normal client gets TLS 1.3', async (t) => {
  const m = createMailroom({ ports: { imaps: 0, pop3s: 0, submissions: 0, pop3: 0 } });
  await m.start();
  t.after(() => m.stop());
  for (const name of ['imaps', 'pop3s', 'submissions'] as const) {
    const port = m.ports[name]!;
    await assert.rejects(tlsOpen(port, { ciphers: 'AES128-SHA', maxVersion: 'TLSv1.2' }), /handshake failure|alert/, `${name} accepted AES128-SHA`);
    const ok = await tlsOpen(port);
    assert.equal(ok.getProtocol(), 'TLSv1.3', name);
    await readUntil(ok, /^(\* OK|\+OK|220 ).*\r\n/);
    ok.destroy();
    const tls12 = await tlsOpen(port, { maxVersion: 'TLSv1.2' });
    assert.match(tls12.getCipher().name, /^ECDHE-.*(GCM|CHACHA20)/, `${name} TLS 1.2 suite`);
    await readUntil(tls12, /^(\* OK|\+OK|220 ).*\r\n/);
    tls12.destroy();
  }
  // STLS on the plain POP3 port uses the same profile
  const raw = netConnect({ host: '127.0.0.1', port: m.ports.pop3! });
  await readUntil(raw, /^\+OK.*\r\n/);
  raw.write('STLS\r\n');
  await readUntil(raw, /\+OK.*\r\n$/);
  await assert.rejects(
    new Promise<void>((resolve, reject) => {
      const s = tlsConnect({ socket: raw, rejectUnauthorized: false, ciphers: 'AES128-SHA', maxVersion: 'TLSv1.2' }, () => resolve());
      s.once('error', reject);
    }),
  );
  raw.destroy();
});

test('serve reloads --tls-cert/--tls-key on SIGHUP: new connections get the new certificate, open sessions stay', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'mailroom-tlsreload-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  const [a, b] = await Promise.all([generateSelfSigned('first.test'), generateSelfSigned('second.test')]);
  await writeFile(certFile, a.cert);
  await writeFile(keyFile, a.key);
  const [pop3, pop3s, submission, submissions, imap, imaps] = await freePorts(6);
  const args = ['--import', 'tsx', join(ROOT, 'src', 'cli', 'main.ts'), 'serve', '--data', join(dir, 'data'), '--tls-cert', certFile, '--tls-key', keyFile];
  args.push('--pop3-port', String(pop3), '--pop3s-port', String(pop3s), '--submission-port', String(submission), '--submissions-port', String(submissions));
  args.push('--imap-port', String(imap), '--imaps-port', String(imaps));
  for (const off of ['lmtp', 'smtp', 'http', 'https', 'managesieve']) args.push(`--${off}-port`, 'off');
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const seen = (re: RegExp): Promise<void> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${re}:\n${out}`)), 60_000);
      const check = (): void => {
        if (re.test(out)) {
          clearTimeout(timer);
          resolve();
        } else setTimeout(check, 50);
      };
      check();
    });
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
  t.after(async () => {
    child.kill('SIGTERM');
    await exited;
  });
  await seen(/mailroom ready/);

  const subject = (s: TLSSocket): string => String(s.getPeerCertificate().subject.CN);
  const open = await tlsOpen(pop3s);
  assert.equal(subject(open), 'first.test');
  await readUntil(open, /^\+OK.*\r\n/);

  await writeFile(certFile, b.cert);
  await writeFile(keyFile, b.key);
  child.kill('SIGHUP');
  await seen(/TLS certificate reloaded/);

  assert.doesNotMatch(out, /keep the old certificate/, 'every listener took the new certificate');
  // implicit TLS, IMAP, POP3 and submission
  for (const port of [imaps, pop3s, submissions]) {
    const s = await tlsOpen(port);
    assert.equal(subject(s), 'second.test', `port ${port}`);
    await readUntil(s, /^(\+OK|220 |\* OK).*\r\n/);
    s.destroy();
  }
  // IMAP STARTTLS
  const rawImap = netConnect({ host: '127.0.0.1', port: imap });
  await readUntil(rawImap, /^\* OK.*\r\n/);
  rawImap.write('a STARTTLS\r\n');
  await readUntil(rawImap, /a OK.*\r\n$/);
  const imapTls = await new Promise<TLSSocket>((resolve, reject) => {
    const s = tlsConnect({ socket: rawImap, rejectUnauthorized: false }, () => resolve(s));
    s.once('error', reject);
  });
  assert.equal(subject(imapTls), 'second.test');
  imapTls.destroy();
  // STLS
  const raw = netConnect({ host: '127.0.0.1', port: pop3 });
  await readUntil(raw, /^\+OK.*\r\n/);
  raw.write('STLS\r\n');
  await readUntil(raw, /\+OK.*\r\n$/);
  const upgraded = await new Promise<TLSSocket>((resolve, reject) => {
    const s = tlsConnect({ socket: raw, rejectUnauthorized: false }, () => resolve(s));
    s.once('error', reject);
  });
  assert.equal(subject(upgraded), 'second.test');
  upgraded.write('CAPA\r\n');
  await readUntil(upgraded, /\r\n\.\r\n/);
  upgraded.destroy();
  // STARTTLS on submission
  const smtp = netConnect({ host: '127.0.0.1', port: submission });
  await readUntil(smtp, /^220 .*\r\n/);
  smtp.write('EHLO client.test\r\n');
  await readUntil(smtp, /^250 .*\r\n/m);
  smtp.write('STARTTLS\r\n');
  await readUntil(smtp, /^220 .*\r\n/m);
  const smtpTls = await new Promise<TLSSocket>((resolve, reject) => {
    const s = tlsConnect({ socket: smtp, rejectUnauthorized: false }, () => resolve(s));
    s.once('error', reject);
  });
  assert.equal(subject(smtpTls), 'second.test');
  smtpTls.destroy();

  // the session opened before the reload is still there and answers
  open.write('CAPA\r\n');
  assert.match(await readUntil(open, /\r\n\.\r\n/), /^\+OK/);
  assert.equal(subject(open), 'first.test');
  open.destroy();
  assert.equal(child.exitCode, null, 'the server kept running');
});

test('POP3 over implicit TLS: a client that leaves right after its handshake does not hold up stopping the server', async () => {
  const m = createMailroom({ ports: { pop3s: 0 } });
  await m.start();
  const s = await tlsOpen(m.ports.pop3s!);
  s.destroy();
  await new Promise((r) => setTimeout(r, 200));
  const t0 = Date.now();
  await m.stop();
  assert.ok(Date.now() - t0 < 5000, `stop took ${Date.now() - t0} ms`);
});
