/**
 * Shared by the IMAP end-to-end tests: an IMAP service over a fresh SQLite store on 127.0.0.1 port 0,
 * and a raw client that sends command bytes and collects the response up to a tagged completion
 * (both built on test/helpers/server-fixture.ts, shared with the POP3 helpers).
 */
import type { Socket } from 'node:net';
import { before, after } from 'node:test';
import { createImapService, type ImapServiceOptions } from '../src/imap-server/index.js';
import type { NetService } from '../src/lib/service.js';
import { silentLogger } from '../src/lib/logger.js';
import { connectLoopback, PASSWORD, SocketReader, startServerFixture, USER, type ServerFixture } from './helpers/server-fixture.js';

export { USER, PASSWORD };

export type ImapFixture = ServerFixture<NetService>;

type Extra = Partial<Omit<ImapServiceOptions, 'store' | 'auth'>> & { implicitTls?: boolean; failureDelayMs?: number; passwordHash?: string; fsync?: boolean };

export async function startImap(extra: Extra = {}): Promise<ImapFixture> {
  const { implicitTls, failureDelayMs, passwordHash, fsync, ...opts } = extra;
  return startServerFixture(
    {
      prefix: 'imap-test-',
      // fsync off by default: durability is the store's own tests' business, and these tests stay fast.
      fsync: fsync ?? false,
      authOptions: { failureDelayMs: failureDelayMs ?? 0 },
      passwordHash,
      implicitTls,
    },
    (store, auth) => createImapService({ store, auth, logger: silentLogger, hostname: 'imap.test', ...opts }),
  );
}

/** A raw IMAP client: bytes in, bytes out. */
export class RawClient extends SocketReader {
  declare readonly socket: Socket;
  #n = 0;

  private constructor(socket: Socket) {
    super(socket);
  }

  static async connect(port: number, opts: { tls?: boolean; localAddress?: string } = {}): Promise<RawClient> {
    const c = new RawClient(await connectLoopback(port, opts));
    await c.readUntil((s) => s.includes('\r\n'));
    c.take();
    return c;
  }

  get closed(): boolean {
    return this.ended;
  }

  /** Waits until pred(buffered text) holds; returns the buffered text (not consumed). */
  async readUntil(pred: (s: string) => boolean, timeoutMs = 5000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const s = this.buf.toString('latin1');
      if (pred(s)) return s;
      if (this.ended) throw new Error('connection closed; got: ' + s);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('timeout; got: ' + s);
      await this.waitMore(left);
    }
  }

  /** Consumes and returns everything buffered. */
  take(): string {
    const s = this.buf.toString('latin1');
    this.buf = Buffer.alloc(0);
    return s;
  }

  takeBytes(): Buffer {
    const b = this.buf;
    this.buf = Buffer.alloc(0);
    return b;
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** Sends "tag command\r\n" and returns everything up to and including the tagged completion line. */
  async cmd(command: string | Buffer, tag?: string): Promise<string> {
    const t = tag ?? `t${++this.#n}`;
    this.write(Buffer.concat([Buffer.from(t + ' '), Buffer.isBuffer(command) ? command : Buffer.from(command), Buffer.from('\r\n')]));
    return this.waitTagged(t);
  }

  async waitTagged(tag: string, timeoutMs = 5000): Promise<string> {
    const re = new RegExp(`(^|\\r\\n)${tag.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} (OK|NO|BAD)[^\\r\\n]*\\r\\n`);
    const s = await this.readUntil((x) => re.test(x), timeoutMs);
    const m = re.exec(s)!;
    const end = m.index + m[0].length;
    const out = this.buf.subarray(0, Buffer.byteLength(s.slice(0, end), 'latin1'));
    this.buf = this.buf.subarray(out.length);
    return out.toString('latin1');
  }

  async login(user = USER, password = PASSWORD): Promise<void> {
    const r = await this.cmd(`LOGIN "${user}" "${password}"`);
    if (!/ OK /.test(r)) throw new Error('login failed: ' + r);
  }

  close(): void {
    this.socket.destroy();
  }
}

export const SIMPLE_MESSAGE = [
  'From: Alice <alice@example.org>',
  'To: Bob <bob@example.org>',
  'Subject: Hello there',
  'Date: Mon, 7 Feb 1994 21:52:25 -0800',
  'Message-ID: <1@example.org>',
  '',
  'Hello Bob,',
  'this is the body.',
  '',
].join('\r\n');

export function message(subject: string, body = 'Body text', extraHeaders: string[] = []): string {
  return [
    'From: Alice <alice@example.org>',
    'To: Bob <bob@example.org>',
    `Subject: ${subject}`,
    'Date: Mon, 7 Feb 1994 21:52:25 -0800',
    `Message-ID: <${subject.replace(/\W/g, '')}@example.org>`,
    ...extraHeaders,
    '',
    body,
    '',
  ].join('\r\n');
}

/** A multipart message with quoting, groups and encoded words (the transcripts' message 2). */
export const MULTIPART_MESSAGE = [
  'From: "Smith, John \\"JJ\\"" <john@example.org>',
  'To: undisclosed-recipients:;',
  'Cc: Group: a@b.c, "D" <d@e.f>;',
  'Subject: =?utf-8?q?Caf=C3=A9?= "quoted"',
  'Message-ID: <mp@example.org>',
  'MIME-Version: 1.0',
  'Content-Type: multipart/mixed; boundary="XX"',
  '',
  'preamble',
  '--XX',
  'Content-Type: text/plain; charset=utf-8',
  'Content-Transfer-Encoding: quoted-printable',
  '',
  'caf=C3=A9 au lait',
  '--XX',
  'Content-Type: application/octet-stream; name="a.bin"',
  'Content-Disposition: attachment; filename="a.bin"',
  'Content-Transfer-Encoding: base64',
  '',
  'AAECAw==',
  '--XX--',
  '',
].join('\r\n');

/**
 * The mailbox the raw-socket transcripts run against: APPENDLIMIT 10000, 2000-octet lines, and INBOX
 * holding SIMPLE_MESSAGE (\\Seen), MULTIPART_MESSAGE and "Third" (\\Flagged $Label).
 */
export async function startTranscriptImap(): Promise<ImapFixture> {
  const f = await startImap({ appendLimit: 10_000, maxLineLength: 2000 });
  await f.append(SIMPLE_MESSAGE, ['\\Seen']);
  await f.append(MULTIPART_MESSAGE);
  await f.append(message('Third', 'third body'), ['\\Flagged', '$Label']);
  return f;
}

/**
 * For a describe block: starts a transcript server before its tests (then runs `setup` on it) and closes
 * it after them. The returned fixture may be used inside tests and hooks only (it throws before start).
 */
export function useTranscriptImap(setup?: (f: ImapFixture) => Promise<void>): ImapFixture {
  let started: ImapFixture | null = null;
  before(async () => {
    started = await startTranscriptImap();
    await setup?.(started);
  });
  after(async () => {
    await started?.close();
  });
  return new Proxy({} as ImapFixture, {
    get(_target, key) {
      if (!started) throw new Error('transcript server not started yet');
      return Reflect.get(started, key);
    },
  });
}
