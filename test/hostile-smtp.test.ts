/**
 * Hostile input over raw LMTP and submission sockets: each attack gets a 4xx/5xx reply (421 and a close
 * only for a line that cannot be framed), nothing half-delivered, and a normal delivery still works after.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { createMailroom, type Mailroom } from '../src/server/mailroom.js';

let m: Mailroom;
before(async () => {
  m = createMailroom({ ports: { lmtp: 0, submission: 0 }, auth: { failureDelayMs: 0 } });
  await m.start();
  await m.addUser('alice@example.org', 'alice-pw');
});
after(async () => {
  await m.stop();
});

/** A line client: send() writes, replies() reads the final lines of the next `n` replies. */
class Smtp {
  #buf = '';
  #closed = false;
  #waiters: Array<() => void> = [];
  private constructor(readonly socket: Socket) {
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => {
      this.#buf += d;
      this.#wake();
    });
    socket.on('close', () => {
      this.#closed = true;
      this.#wake();
    });
    socket.on('error', () => undefined);
  }
  #wake(): void {
    for (const w of this.#waiters.splice(0)) w();
  }
  static async open(port: number): Promise<Smtp> {
    const s = connect({ host: '127.0.0.1', port });
    await new Promise<void>((r, j) => s.once('connect', r).once('error', j));
    const c = new Smtp(s);
    await c.reply();
    return c;
  }
  /** The final line of the next reply (multi-line replies skipped to their last line); 'CLOSED' at the end. */
  async reply(): Promise<string> {
    for (;;) {
      const mm = /^(\d{3}) [^\r\n]*\r\n/m.exec(this.#buf);
      if (mm) {
        this.#buf = this.#buf.slice(mm.index + mm[0].length);
        return mm[0].trimEnd();
      }
      if (this.#closed) return 'CLOSED';
      await new Promise<void>((r) => this.#waiters.push(r));
    }
  }
  send(s: string): void {
    this.socket.write(s);
  }
  cmd(s: string): Promise<string> {
    this.send(s + '\r\n');
    return this.reply();
  }
}

async function delivers(): Promise<void> {
  const c = await Smtp.open(m.ports.lmtp!);
  assert.match(await c.cmd('LHLO client.test'), /^250 /);
  assert.match(await c.cmd('MAIL FROM:<bob@example.net>'), /^250 /);
  assert.match(await c.cmd('RCPT TO:<alice@example.org>'), /^250 /);
  assert.match(await c.cmd('DATA'), /^354 /);
  assert.match(await c.cmd('Subject: still here\r\n\r\nhello\r\n.'), /^250 /);
  c.socket.destroy();
}

test('LMTP: commands out of order and NUL octets are 5xx; the session goes on', async () => {
  const c = await Smtp.open(m.ports.lmtp!);
  assert.match(await c.cmd('MAIL FROM:<a@b.c>'), /^503 /, 'before LHLO');
  assert.match(await c.cmd('LHLO client.test'), /^250 /);
  assert.match(await c.cmd('RCPT TO:<alice@example.org>'), /^503 /, 'RCPT without MAIL');
  assert.match(await c.cmd('DATA'), /^503 /);
  assert.match(await c.cmd('XCLIENT ADDR=1.2.3.4'), /^5\d\d /);
  assert.match(await c.cmd('MAIL FROM:<a\0@b.c>'), /^501 /);
  assert.match(await c.cmd('MAIL FROM:<a@b.c>'), /^250 /);
  assert.match(await c.cmd('RCPT TO:<alice@example.org>'), /^250 /);
  assert.match(await c.cmd('DATA'), /^354 /);
  assert.match(await c.cmd('Subject: nul\r\n\r\nbad\0byte\r\n.'), /^554 /);
  assert.match(await c.cmd('NOOP'), /^250 /);
  c.socket.destroy();
  await delivers();
});

test('LMTP: 10 000 RCPTs, a 1 MB command line, a 10 MB header without a blank line, MIME nested 1000 deep', async () => {
  const c = await Smtp.open(m.ports.lmtp!);
  await c.cmd('LHLO client.test');
  await c.cmd('MAIL FROM:<a@b.c>');
  c.send(Array.from({ length: 10000 }, (_, i) => `RCPT TO:<alice+${i}@example.org>\r\n`).join(''));
  const replies: string[] = [];
  for (let i = 0; i < 10000; i++) replies.push(await c.reply());
  assert.ok(replies.some((r) => r.startsWith('452 ')), 'too many recipients is 452');
  assert.match(await c.cmd('RSET'), /^250 /);
  await c.cmd('MAIL FROM:<a@b.c>');
  await c.cmd('RCPT TO:<alice@example.org>');
  await c.cmd('DATA');
  assert.match(await c.cmd('X-H: ' + 'y'.repeat(10 << 20) + '\r\n.'), /^[245]\d\d /);
  await c.cmd('MAIL FROM:<a@b.c>');
  await c.cmd('RCPT TO:<alice@example.org>');
  await c.cmd('DATA');
  let deep = 'Subject: deep\r\n';
  for (let i = 0; i < 1000; i++) deep += `Content-Type: multipart/mixed; boundary=b${i}\r\n\r\n--b${i}\r\n`;
  deep += '\r\nleaf\r\n';
  for (let i = 999; i >= 0; i--) deep += `--b${i}--\r\n`;
  assert.match(await c.cmd(deep + '.'), /^250 /);
  assert.match(await c.cmd('MAIL FROM:<' + 'a'.repeat(1 << 20) + '@b.c>'), /^(421|500) /);
  c.socket.destroy();
  await delivers();
});

test('submission: AUTH garbage is 5xx; mail before AUTH is 530', async () => {
  const c = await Smtp.open(m.ports.submission!);
  await c.cmd('EHLO client.test');
  assert.match(await c.cmd('MAIL FROM:<alice@example.org>'), /^530 /);
  assert.match(await c.cmd('AUTH PLAIN !!!!'), /^501 /);
  assert.match(await c.cmd('AUTH XYZ'), /^504 /);
  assert.match(await c.cmd('AUTH LOGIN'), /^334 /);
  assert.match(await c.cmd('*'), /^501 /);
  assert.match(await c.cmd('AUTH PLAIN ' + Buffer.from('\0alice@example.org\0alice-pw').toString('base64')), /^235 /);
  c.socket.destroy();
  await delivers();
});
