/**
 * LMTP delivery throughput of mailroom alone: `node --import tsx bench/lmtp.ts [--messages N] [--senders N]
 * [--recipients N] [--rcpts-per-message N] [--no-fsync]`.
 * A fresh SQLite store in a temp dir, ten users, one LMTP listener on loopback; `senders` parallel LMTP
 * connections (default 10) deliver `messages` messages of mixed sizes (70% ~2 KB, 25% ~30 KB, 5% ~300 KB),
 * each to one recipient (or --rcpts-per-message of them). Time runs from the first MAIL FROM to the last 250. Prints messages/second and MB/s,
 * then checks that every message is in the store exactly once.
 */
import { parseArgs } from 'node:util';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type Socket } from 'node:net';
import { openServerStore } from '../src/server/store.js';
import { Authenticator } from '../src/auth/index.js';
import { createLmtpService } from '../src/delivery/index.js';

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '2000' },
    senders: { type: 'string', default: '10' },
    recipients: { type: 'string', default: '10' },
    'rcpts-per-message': { type: 'string', default: '1' },
    'no-fsync': { type: 'boolean', default: false },
  },
});
const MESSAGES = Number(values.messages);
const SENDERS = Number(values.senders);
const RECIPIENTS = Number(values.recipients);
const PER_MESSAGE = Math.min(RECIPIENTS, Math.max(1, Number(values['rcpts-per-message'])));

function message(i: number): Buffer {
  const r = (i * 2654435761) % 100;
  const size = r < 70 ? 2_000 : r < 95 ? 30_000 : 300_000;
  const line = `line ${i} ${'lorem ipsum dolor sit amet '.repeat(3)}`.slice(0, 76) + '\r\n';
  const body = line.repeat(Math.ceil(size / line.length));
  return Buffer.from(`From: bench@remote.test\r\nTo: u${i % RECIPIENTS}@bench.test\r\nSubject: bench ${i}\r\nMessage-ID: <bench-${i}@remote.test>\r\n\r\n${body}`);
}

class Client {
  #buf = '';
  #waiters: Array<() => void> = [];
  constructor(readonly sock: Socket) {
    sock.on('data', (d: Buffer) => {
      this.#buf += d.toString('latin1');
      const w = this.#waiters;
      this.#waiters = [];
      for (const f of w) f();
    });
  }
  async reply(): Promise<number> {
    for (;;) {
      const m = /^(\d{3}) [^\r\n]*\r\n/m.exec(this.#buf);
      if (m) {
        this.#buf = this.#buf.slice(m.index + m[0].length);
        return Number(m[1]);
      }
      await new Promise<void>((r) => this.#waiters.push(r));
    }
  }
  async cmd(line: string): Promise<number> {
    this.sock.write(line + '\r\n');
    return this.reply();
  }
}

const dir = await mkdtemp(join(tmpdir(), 'mailroom-bench-lmtp-'));
const store = await openServerStore({ dataDir: dir, ...(values['no-fsync'] ? { fsync: false } : {}) });
await store.directory.addDomain('bench.test');
for (let k = 0; k < RECIPIENTS; k++) await store.directory.createUser(`u${k}@bench.test`, '{PLAIN}x');
const svc = createLmtpService({ store, auth: new Authenticator(store.directory), hostname: 'bench' });
const { port } = await svc.listen({ host: '127.0.0.1', port: 0, implicitTls: false });
const corpus = Array.from({ length: MESSAGES }, (_, i) => message(i));
const totalBytes = corpus.reduce((a, b) => a + b.length, 0);

let next = 0;
let failures = 0;
async function sender(): Promise<void> {
  const sock = connect(port, '127.0.0.1');
  await new Promise<void>((r) => sock.once('connect', () => r()));
  sock.setNoDelay(true);
  const c = new Client(sock);
  await c.reply();
  await c.cmd('LHLO bench');
  for (let i = next++; i < MESSAGES; i = next++) {
    let envelope = 'MAIL FROM:<bench@remote.test>\r\n';
    for (let k = 0; k < PER_MESSAGE; k++) envelope += `RCPT TO:<u${(i + k) % RECIPIENTS}@bench.test>\r\n`;
    sock.write(envelope + 'DATA\r\n');
    const codes: number[] = [];
    for (let k = 0; k < PER_MESSAGE + 2; k++) codes.push(await c.reply());
    if (codes[codes.length - 1] !== 354) throw new Error(`unexpected replies ${codes.join(' ')}`);
    sock.write(Buffer.concat([corpus[i]!, Buffer.from('.\r\n')]));
    for (let k = 0; k < PER_MESSAGE; k++) if ((await c.reply()) !== 250) failures++;
  }
  await c.cmd('QUIT');
  sock.destroy();
}

const t0 = process.hrtime.bigint();
await Promise.all(Array.from({ length: SENDERS }, () => sender()));
const secs = Number(process.hrtime.bigint() - t0) / 1e9;

let stored = 0;
for (let k = 0; k < RECIPIENTS; k++) {
  const u = (await store.directory.getUser(`u${k}@bench.test`))!;
  stored += (await store.mail.listMessages((await store.mail.getMailbox(u.id, 'INBOX'))!.id)).length;
}
await svc.close();
await store.close();
await rm(dir, { recursive: true, force: true });

const result = {
  messages: MESSAGES,
  recipientsPerMessage: PER_MESSAGE,
  copiesPerSecond: Number(((MESSAGES * PER_MESSAGE) / secs).toFixed(1)),
  senders: SENDERS,
  fsync: !values['no-fsync'],
  seconds: Number(secs.toFixed(3)),
  messagesPerSecond: Number((MESSAGES / secs).toFixed(1)),
  megabytesPerSecond: Number((totalBytes / 1e6 / secs).toFixed(2)),
  averageSizeBytes: Math.round(totalBytes / MESSAGES),
  stored,
  failures,
};
console.log(JSON.stringify(result, null, 2));
if (stored !== MESSAGES * PER_MESSAGE || failures) {
  console.error('consistency check failed');
  process.exitCode = 1;
}
