/**
 * The library API (createMailroom) end to end: one in-process server, mail delivered over LMTP, read back
 * byte-exact over POP3 and IMAP, a POP3 deletion seen by an IMAP session in IDLE.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { ImapFlow } from 'imapflow';
import { createMailroom } from '../src/index.js';
import { textLogger } from '../src/server/log.js';

/** A line-oriented raw socket conversation for LMTP/POP3. */
class Wire {
  #buf = Buffer.alloc(0);
  #waiters: Array<() => void> = [];
  constructor(readonly sock: Socket) {
    sock.on('data', (d: Buffer) => {
      this.#buf = Buffer.concat([this.#buf, d]);
      for (const w of this.#waiters.splice(0)) w();
    });
  }
  static open(port: number): Promise<Wire> {
    return new Promise((resolve, reject) => {
      const s = connect(port, '127.0.0.1', () => resolve(new Wire(s)));
      s.once('error', reject);
    });
  }
  /** Resolves with everything up to and including the first match of `end`. */
  async until(end: RegExp): Promise<string> {
    for (;;) {
      const text = this.#buf.toString('latin1');
      const m = end.exec(text);
      if (m) {
        const upto = m.index + m[0].length;
        const out = this.#buf.subarray(0, upto);
        this.#buf = this.#buf.subarray(upto);
        return out.toString('latin1');
      }
      await new Promise<void>((r) => this.#waiters.push(r));
    }
  }
  /** Raw bytes up to and including `end`. */
  async untilBytes(end: RegExp): Promise<Buffer> {
    const s = await this.until(end);
    return Buffer.from(s, 'latin1');
  }
  send(line: string | Buffer): void {
    this.sock.write(line);
  }
}

const MESSAGE = Buffer.from(
  'From: Bob <bob@example.net>\r\nTo: alice@example.org\r\nSubject: hello \xe4\r\nMessage-ID: <m1@example.net>\r\n\r\nline one\r\n.dot line\r\n\r\nlast\r\n',
  'latin1',
);

test('createMailroom: LMTP in, POP3 and IMAP out, POP3 deletion seen by IMAP IDLE', async () => {
  const server = createMailroom({ ports: { imap: 0, pop3: 0, lmtp: 0 }, auth: { failureDelayMs: 0 }, hostname: 'mx.test', ...(process.env['DEBUG_LOG'] ? { logger: textLogger('debug', process.stderr) } : {}) });
  await server.start();
  try {
    await server.addUser('alice@example.org', 'secret');
    const ports = server.ports;
    assert.ok(ports.imap && ports.pop3 && ports.lmtp);
    assert.equal(server.ports.smtp, undefined, 'listeners not asked for are off');

    // LMTP delivery
    const lmtp = await Wire.open(ports.lmtp);
    assert.match(await lmtp.until(/\r\n/), /^220 /);
    lmtp.send('LHLO client.test\r\n');
    await lmtp.until(/250 [^\r]*\r\n/);
    lmtp.send('MAIL FROM:<bob@example.net>\r\n');
    assert.match(await lmtp.until(/\r\n/), /^250/);
    lmtp.send('RCPT TO:<alice@example.org>\r\n');
    assert.match(await lmtp.until(/\r\n/), /^250/);
    lmtp.send('RCPT TO:<nobody@example.org>\r\n');
    assert.match(await lmtp.until(/\r\n/), /^550/);
    lmtp.send('DATA\r\n');
    assert.match(await lmtp.until(/\r\n/), /^354/);
    lmtp.send(Buffer.concat([Buffer.from(MESSAGE.toString('latin1').replace(/(^|\r\n)\./g, '$1..'), 'latin1'), Buffer.from('.\r\n')]));
    assert.match(await lmtp.until(/\r\n/), /^250/, 'one reply for the one accepted recipient');
    lmtp.send('QUIT\r\n');
    await lmtp.until(/^221[^\r]*\r\n/m);
    lmtp.sock.destroy();

    // IMAP session in IDLE on INBOX
    const imap = new ImapFlow({ host: '127.0.0.1', port: ports.imap, secure: false, auth: { user: 'alice@example.org', pass: 'secret' }, logger: false, doSTARTTLS: false });
    await imap.connect();
    const lock = await imap.getMailboxLock('INBOX');
    const fetched = await imap.fetchOne('1', { source: true, uid: true });
    assert.ok(fetched && fetched.source);
    const delivered = fetched.source;
    assert.ok(delivered.subarray(delivered.length - MESSAGE.length).equals(MESSAGE), 'IMAP body ends with the exact delivered bytes');
    assert.match(delivered.toString('latin1'), /^Return-Path: <bob@example\.net>\r\n/, 'LMTP adds Return-Path');

    const expunged = new Promise<void>((resolve) => imap.on('expunge', () => resolve()));
    const idling = imap.idle();

    // POP3: the same bytes, then delete
    const pop = await Wire.open(ports.pop3);
    assert.match(await pop.until(/\r\n/), /^\+OK/);
    pop.send('USER alice@example.org\r\n');
    assert.match(await pop.until(/\r\n/), /^\+OK/);
    pop.send('PASS secret\r\n');
    assert.match(await pop.until(/\r\n/), /^\+OK/);
    pop.send('STAT\r\n');
    const stat = await pop.until(/\r\n/);
    assert.equal(stat, `+OK 1 ${delivered.length}\r\n`, 'STAT octets equal the stored size');
    pop.send('RETR 1\r\n');
    const retr = await pop.untilBytes(/\r\n\.\r\n/);
    const body = retr.subarray(retr.indexOf('\r\n') + 2, retr.length - 3);
    assert.equal(body.toString('latin1'), delivered.toString('latin1').replace(/\r\n\./g, '\r\n..'), 'RETR sends the stored bytes, dot-stuffed');
    pop.send('DELE 1\r\nQUIT\r\n');
    await pop.until(/\+OK[^\r]*\r\n\+OK[^\r]*\r\n/);
    pop.sock.destroy();

    await expunged;
    lock.release();
    // the next command ends IDLE (imapflow sends DONE first)
    const status = await imap.status('INBOX', { messages: true });
    await idling;
    assert.ok(status && status.messages === 0, 'INBOX is empty after the POP3 QUIT');
    await imap.logout();
  } finally {
    await server.stop();
  }
});
