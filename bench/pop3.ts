/**
 * POP3 throughput: one client logs in and does STAT, UIDL, RETR of every message, DELE of every message,
 * QUIT (commit), over N messages in a fresh SQLite store on loopback. Prints messages/second and MB/second
 * for the RETR phase and for the whole session.
 *
 *   node --import tsx bench/pop3.ts [--messages N] [--size BYTES] [--pipeline] [--profile out.cpuprofile]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type Socket } from 'node:net';
import { parseArgs } from 'node:util';
import { Session } from 'node:inspector/promises';
import { writeFile } from 'node:fs/promises';
import { openServerStore } from '../src/server/store.js';
import { Authenticator, hashPassword } from '../src/auth/index.js';
import { createPop3Service } from '../src/pop3-server/index.js';

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '2000' },
    size: { type: 'string', default: '8192' },
    pipeline: { type: 'boolean', default: false },
    /** Write a V8 CPU profile of the POP3 session (not the set-up) to this file. */
    profile: { type: 'string' },
  },
});
const N = Number(values.messages);
const SIZE = Number(values.size);

function makeMessage(i: number): Buffer {
  const head = `From: bench@example.net\r\nTo: u@example.org\r\nSubject: bench ${i}\r\nMessage-ID: <b${i}@example.net>\r\n\r\n`;
  const lines: string[] = [];
  let len = head.length;
  for (let l = 0; len < SIZE; l++) {
    const line = (l % 10 === 0 ? '.' : '') + `line ${l} of message ${i} `.padEnd(70, 'x');
    lines.push(line);
    len += line.length + 2;
  }
  return Buffer.from(head + lines.join('\r\n') + '\r\n');
}

/** A minimal fast client: replies are read as status lines or dot-terminated bodies, in order. */
class Client {
  readonly #s: Socket;
  #chunks: Buffer[] = [];
  #buf: Buffer = Buffer.alloc(0);
  #wake: (() => void) | null = null;
  bytes = 0;
  constructor(s: Socket) {
    this.#s = s;
    s.on('data', (d: Buffer) => {
      this.bytes += d.length;
      this.#chunks.push(d);
      const w = this.#wake;
      this.#wake = null;
      w?.();
    });
  }
  #pull(): boolean {
    if (this.#chunks.length === 0) return false;
    this.#buf = this.#buf.length ? Buffer.concat([this.#buf, ...this.#chunks]) : this.#chunks.length === 1 ? this.#chunks[0]! : Buffer.concat(this.#chunks);
    this.#chunks = [];
    return true;
  }
  async #more(): Promise<void> {
    if (this.#pull()) return;
    await new Promise<void>((r) => (this.#wake = r));
    this.#pull();
  }
  send(s: string): void {
    this.#s.write(s);
  }
  async line(): Promise<string> {
    for (;;) {
      const i = this.#buf.indexOf('\r\n');
      if (i !== -1) {
        const l = this.#buf.subarray(0, i).toString();
        this.#buf = this.#buf.subarray(i + 2);
        return l;
      }
      await this.#more();
    }
  }
  async body(): Promise<number> {
    let from = 0;
    for (;;) {
      if (this.#buf.length >= 3 && this.#buf[0] === 0x2e && this.#buf[1] === 0x0d && this.#buf[2] === 0x0a) {
        this.#buf = this.#buf.subarray(3);
        return 0;
      }
      const i = this.#buf.indexOf('\r\n.\r\n', from);
      if (i !== -1) {
        this.#buf = this.#buf.subarray(i + 5);
        return i + 2;
      }
      from = Math.max(0, this.#buf.length - 4);
      await this.#more();
    }
  }
  async ok(): Promise<string> {
    const l = await this.line();
    if (!l.startsWith('+OK')) throw new Error(`unexpected reply: ${l}`);
    return l;
  }
}

const dir = await mkdtemp(join(tmpdir(), 'pop3-bench-'));
const store = await openServerStore({ dataDir: dir });
const auth = new Authenticator(store.directory, { failureDelayMs: 0 });
const user = await store.directory.createUser('u@example.org', await hashPassword('pw'));
const inbox = (await store.mail.getMailbox(user.id, 'INBOX'))!;
let total = 0;
const t0 = performance.now();
for (let i = 0; i < N; i++) {
  const m = makeMessage(i);
  total += m.length;
  await store.mail.append(inbox.id, m);
}
console.error(`appended ${N} messages (${(total / 1e6).toFixed(1)} MB) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

const svc = createPop3Service({ store, auth, hostname: 'bench' });
const { port } = await svc.listen({ host: '127.0.0.1', port: 0, implicitTls: false });
const sock = connect({ host: '127.0.0.1', port });
await new Promise<void>((r) => sock.once('connect', () => r()));
const c = new Client(sock);
await c.ok();
const inspector = values.profile ? new Session() : null;
if (inspector) {
  inspector.connect();
  await inspector.post('Profiler.enable');
  await inspector.post('Profiler.start');
}
const start = performance.now();
c.send('USER u@example.org\r\nPASS pw\r\n');
await c.ok();
await c.ok();
c.send('STAT\r\n');
const count = Number((await c.ok()).split(' ')[1]);
c.send('UIDL\r\n');
await c.ok();
await c.body();
const retrStart = performance.now();
let received = 0;
if (values.pipeline) {
  let out = '';
  for (let i = 1; i <= count; i++) out += `RETR ${i}\r\n`;
  c.send(out);
  for (let i = 1; i <= count; i++) {
    await c.ok();
    received += await c.body();
  }
} else {
  for (let i = 1; i <= count; i++) {
    c.send(`RETR ${i}\r\n`);
    await c.ok();
    received += await c.body();
  }
}
const retrMs = performance.now() - retrStart;
for (let i = 1; i <= count; i++) c.send(`DELE ${i}\r\n`);
for (let i = 1; i <= count; i++) await c.ok();
c.send('QUIT\r\n');
await c.ok();
const totalMs = performance.now() - start;
if (inspector && values.profile) {
  const { profile } = await inspector.post('Profiler.stop');
  await writeFile(values.profile, JSON.stringify(profile));
  inspector.disconnect();
}
sock.destroy();
await svc.close();
const left = (await store.mail.listMessages(inbox.id)).length;
await store.close();
await rm(dir, { recursive: true, force: true });
if (left !== 0) throw new Error(`${left} messages left after QUIT`);

const mb = received / 1e6;
console.log(`POP3 ${count} messages, ${(total / count / 1024).toFixed(1)} KiB average, RETR ${values.pipeline ? 'pipelined' : 'one at a time'}`);
console.log(`  RETR phase: ${(count / (retrMs / 1000)).toFixed(0)} messages/s, ${(mb / (retrMs / 1000)).toFixed(1)} MB/s (${(retrMs / 1000).toFixed(2)} s)`);
console.log(`  whole session (login, STAT, UIDL, RETR all, DELE all, QUIT): ${(count / (totalMs / 1000)).toFixed(0)} messages/s, ${(mb / (totalMs / 1000)).toFixed(1)} MB/s (${(totalMs / 1000).toFixed(2)} s)`);
