/**
 * Login hardening seen from the wire: APOP goes through the same throttle as USER/PASS, and submission
 * refuses a SASL PLAIN authorization identity other than the authenticating user (RFC 4616, 535 5.7.8).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { startPop3, RawPop3, USER } from './pop3-helpers.js';
import { createMailroom } from '../src/server/mailroom.js';
import { Pop3Client } from '../src/client/pop3/client.js';

test('APOP is throttled like USER/PASS: after too many failures from the address the right digest is refused', async (t) => {
  const f = await startPop3({ passwordHash: '{PLAIN}tanstaaf', authOptions: { maxFailures: 2, maxDelayMs: 0 } });
  t.after(() => f.close());
  const { c, greeting } = await RawPop3.open(f.port);
  const ts = /(<[^>]+@pop\.test>)$/.exec(greeting)?.[1];
  assert.ok(ts);
  const digest = (secret: string): string => createHash('md5').update(ts + secret).digest('hex');
  assert.equal(await c.cmd(`APOP ${USER} ${digest('wrong1')}`), '-ERR [AUTH] Authentication failed');
  assert.equal(await c.cmd(`APOP ${USER} ${digest('wrong2')}`), '-ERR [AUTH] Authentication failed');
  assert.equal(await c.cmd(`APOP ${USER} ${digest('tanstaaf')}`), '-ERR [SYS/TEMP] Too many failed logins; try again later');
  assert.equal(f.auth.addressFailures('127.0.0.1'), 2);
});

/** Minimal SMTP line client: sends a command, returns the last line of the reply. */
class RawSmtp {
  #buf = '';
  #waiters: Array<() => void> = [];
  constructor(readonly socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      this.#buf += d;
      for (const w of this.#waiters.splice(0)) w();
    });
  }
  static async open(port: number): Promise<RawSmtp> {
    const s = connect({ host: '127.0.0.1', port });
    await new Promise<void>((r, j) => s.once('connect', r).once('error', j));
    const c = new RawSmtp(s);
    await c.reply();
    return c;
  }
  async reply(): Promise<string> {
    for (;;) {
      const m = /^(\d{3}) .*\r\n/m.exec(this.#buf);
      if (m) {
        const end = m.index + m[0].length;
        const line = m[0].trimEnd();
        this.#buf = this.#buf.slice(end);
        return line;
      }
      await new Promise<void>((r) => this.#waiters.push(r));
    }
  }
  cmd(line: string): Promise<string> {
    this.socket.write(line + '\r\n');
    return this.reply();
  }
}

test('submission refuses an AUTH PLAIN authzid other than the user with 535 5.7.8; the same or empty authzid works', async (t) => {
  const m = createMailroom({ ports: { submission: 0 }, auth: { failureDelayMs: 0 } });
  await m.start();
  t.after(() => m.stop());
  await m.addUser('alice@example.org', 'alice-pw');
  await m.addUser('bob@example.org', 'bob-pw');
  const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');
  const c = await RawSmtp.open(m.ports.submission!);
  await c.cmd('EHLO client.test');
  assert.match(await c.cmd('AUTH PLAIN ' + b64('bob@example.org\0alice@example.org\0alice-pw')), /^535 5\.7\.8 /);
  assert.match(await c.cmd('AUTH PLAIN ' + b64('Alice@Example.org\0alice@example.org\0alice-pw')), /^235 /);
  c.socket.destroy();
  const d = await RawSmtp.open(m.ports.submission!);
  await d.cmd('EHLO client.test');
  assert.match(await d.cmd('AUTH PLAIN ' + b64('\0alice@example.org\0alice-pw')), /^235 /);
  d.socket.destroy();
});

test('a {PLAIN} password is upgraded to argon2id at login; an APOP client then falls back to the password and gets in', async (t) => {
  const f = await startPop3({ passwordHash: '{PLAIN}tanstaaf' });
  t.after(() => f.close());
  const first = await Pop3Client.connect({ host: '127.0.0.1', port: f.port, security: 'plain' });
  assert.ok(first.apopTimestamp, 'APOP offered: the user has a cleartext secret');
  assert.equal(await first.login(USER, 'tanstaaf'), 'APOP');
  await first.quit();
  // APOP checks the digest itself, so the upgrade happens on the first password login.
  const { c } = await RawPop3.open(f.port);
  assert.match(await c.cmd(`USER ${USER}`), /^\+OK/);
  assert.match(await c.cmd('PASS tanstaaf'), /^\+OK Logged in/);
  await c.cmd('QUIT');
  assert.match((await f.store.directory.getUser(USER))!.passwordHash, /^\$argon2id\$/);
  const again = await Pop3Client.connect({ host: '127.0.0.1', port: f.port, security: 'plain' });
  assert.ok(again.apopTimestamp, 'the greeting still offers APOP (decided for all users)');
  assert.notEqual(await again.login(USER, 'tanstaaf'), 'APOP');
  await again.quit();
  assert.equal(f.auth.addressFailures('127.0.0.1'), 0, 'the impossible APOP attempt is not counted');
});
