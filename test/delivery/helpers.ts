/** Shared set-up for the delivery tests: a fresh SQLite store, users, TLS material, a raw SMTP client. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type Socket } from 'node:net';
import { spawn } from 'node:child_process';
import { generate } from 'selfsigned';
import { openServerStore } from '../../src/server/store.js';
import type { Store } from '../../src/store/handle.js';
import { StoreError } from '../../src/store/types.js';
import type { NetService } from '../../src/lib/service.js';
import { overrideMethods, withParts } from '../helpers/store.js';
import { Authenticator, hashPassword } from '../../src/auth/index.js';
import type { TlsMaterial } from '../../src/lib/service.js';

export interface Env {
  dir: string;
  store: Store;
  auth: Authenticator;
  close(): Promise<void>;
}

/** Opens a store in a new temp dir with domain example.org and the given users ("address:password"). */
export async function makeEnv(users: Array<[string, string]> = []): Promise<Env> {
  const dir = await mkdtemp(join(tmpdir(), 'mailroom-delivery-'));
  const store = await openServerStore({ dataDir: dir });
  for (const [address, password] of users) {
    const domain = address.split('@')[1]!;
    if (!(await store.directory.hasDomain(domain))) await store.directory.addDomain(domain);
    // {PLAIN} keeps the tests fast; argon2 is exercised by the auth tests.
    await store.directory.createUser(address, password.startsWith('argon:') ? await hashPassword(password.slice(6)) : `{PLAIN}${password}`);
  }
  const auth = new Authenticator(store.directory, { failureDelayMs: 0 });
  return {
    dir,
    store,
    auth,
    async close() {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Runs `fn` with the service `make(env)` listening on 127.0.0.1 (a free port) over a fresh store holding
 * `users` (password "pw"); closes the service and the store afterwards.
 */
export async function withService(users: string[], make: (env: Env) => NetService, fn: (env: Env, port: number) => Promise<void>): Promise<void> {
  const env = await makeEnv(users.map((u) => [u, 'pw']));
  const svc = make(env);
  try {
    const port = (await svc.listen({ host: '127.0.0.1', port: 0, implicitTls: false })).port;
    await fn(env, port);
  } finally {
    await svc.close();
    await env.close();
  }
}

/** A store whose append() fails with `code` (or what `code()` says now) for the mailboxes in `failing`. */
export function flakyStore(store: Store, failing: Set<number>, code: 'TEMPORARY' | 'TOO_BIG' | (() => 'TEMPORARY' | 'TOO_BIG') = 'TEMPORARY'): Store {
  const real = store.mail;
  return withParts(store, {
    mail: overrideMethods(real, {
      async append(mailboxId, raw, opts) {
        if (failing.has(mailboxId)) throw new StoreError(typeof code === 'function' ? code() : code, 'refused by the test');
        return real.append(mailboxId, raw, opts);
      },
    }),
  });
}

/** The id of the user's INBOX. */
export async function inboxId(store: Store, address: string): Promise<number> {
  const user = await store.directory.getUser(address);
  if (!user) throw new Error(`no user ${address}`);
  return (await store.mail.getMailbox(user.id, 'INBOX'))!.id;
}

let cachedTls: Promise<TlsMaterial> | null = null;
/** A self-signed certificate for "localhost" (generated once per process). */
export function testTls(): Promise<TlsMaterial> {
  cachedTls ??= generate([{ name: 'commonName', value: 'localhost' }], { keyType: 'ec', curve: 'P-256', notAfterDate: new Date(Date.now() + 2 * 86400_000) }).then((p) => ({ key: p.private, cert: p.cert }));
  return cachedTls;
}

/** All messages of a user's mailbox, raw. */
export async function mailboxContents(store: Store, address: string, mailbox = 'INBOX'): Promise<Buffer[]> {
  const user = await store.directory.getUser(address);
  if (!user) throw new Error(`no user ${address}`);
  const box = await store.mail.getMailbox(user.id, mailbox);
  if (!box) throw new Error(`no mailbox ${mailbox}`);
  const out: Buffer[] = [];
  for (const m of await store.mail.listMessages(box.id)) out.push(await store.mail.readBytes(box.id, m.uid));
  return out;
}

/** Strips the leading Return-Path / Delivered-To / Received fields deliver() adds. */
export function stripTrace(raw: Buffer): Buffer {
  let rest = raw;
  for (;;) {
    const m = /^(Return-Path|Delivered-To|Received):/i.exec(rest.subarray(0, 20).toString('latin1'));
    if (!m) return rest;
    // the field ends at the first CRLF not followed by whitespace
    let i = 0;
    for (;;) {
      const nl = rest.indexOf('\r\n', i);
      if (nl === -1) return Buffer.alloc(0);
      const next = rest[nl + 2];
      if (next === 0x20 || next === 0x09) {
        i = nl + 2;
        continue;
      }
      rest = rest.subarray(nl + 2);
      break;
    }
  }
}

export interface Reply {
  code: number;
  lines: string[];
  text: string;
}

/** A line-oriented SMTP/LMTP client for exercising bad input exactly. */
export class RawSmtp {
  readonly socket: Socket;
  #buf = '';
  #waiters: Array<() => void> = [];
  #closed = false;
  readonly closedPromise: Promise<void>;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (d: Buffer) => {
      this.#buf += d.toString('latin1');
      this.#wake();
    });
    this.closedPromise = new Promise((resolve) => {
      socket.on('close', () => {
        this.#closed = true;
        this.#wake();
        resolve();
      });
    });
    socket.on('error', () => undefined);
  }

  static async open(port: number, host = '127.0.0.1'): Promise<{ client: RawSmtp; greeting: Reply }> {
    const socket = connect(port, host);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('error', reject);
    });
    const client = new RawSmtp(socket);
    const greeting = await client.reply();
    return { client, greeting };
  }

  #wake(): void {
    const w = this.#waiters;
    this.#waiters = [];
    for (const f of w) f();
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** Reads one complete (possibly multi-line) reply. Rejects if the connection closes first. */
  async reply(timeoutMs = 10_000): Promise<Reply> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const lines: string[] = [];
      let pos = 0;
      for (;;) {
        const nl = this.#buf.indexOf('\r\n', pos);
        if (nl === -1) break;
        const line = this.#buf.slice(pos, nl);
        lines.push(line);
        pos = nl + 2;
        if (/^\d{3}( |$)/.test(line)) {
          this.#buf = this.#buf.slice(pos);
          return { code: Number(line.slice(0, 3)), lines, text: lines.join('\n') };
        }
      }
      if (this.#closed) throw new Error(`connection closed; pending: ${JSON.stringify(this.#buf)}`);
      if (Date.now() > deadline) throw new Error(`no reply; pending: ${JSON.stringify(this.#buf)}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 200);
        this.#waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  async cmd(line: string): Promise<Reply> {
    this.write(line + '\r\n');
    return this.reply();
  }

  /**
   * Sends DATA, the message (dot-stuffed by the caller if needed) and the terminator (by default ".\r\n" after a
   * message ending in CRLF, else "\r\n.\r\n"); returns the final reply (or the refusal of DATA).
   */
  async data(message: Buffer | string, terminator?: string): Promise<Reply> {
    const go = await this.cmd('DATA');
    if (go.code !== 354) return go;
    const bytes = typeof message === 'string' ? Buffer.from(message, 'utf8') : message;
    this.write(bytes);
    this.write(terminator ?? (bytes.subarray(-2).toString() === '\r\n' ? '.\r\n' : '\r\n.\r\n'));
    return this.reply();
  }

  close(): void {
    this.socket.destroy();
  }
}

/** Runs python3 with a script and a JSON argument; returns parsed JSON from stdout. */
export function runPython<T>(script: string, arg: unknown): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn('python3', ['-c', script, JSON.stringify(arg)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`python3 exited ${code}: ${err}`));
      try {
        resolve(JSON.parse(out) as T);
      } catch {
        reject(new Error(`bad python output: ${out} ${err}`));
      }
    });
  });
}

/** Runs a program, collecting its output; `input` is written to its standard input (else it gets none). */
export function runProgram(
  cmd: string,
  args: string[],
  timeoutMs = 30_000,
  opts: { input?: string; cwd?: string } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'], ...(opts.cwd ? { cwd: opts.cwd } : {}) });
    let stdout = '';
    let stderr = '';
    const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr });
    });
    if (opts.input !== undefined) child.stdin!.end(opts.input);
  });
}

export interface SinkMessage {
  from: string;
  to: string[];
  raw: Buffer;
  secure: boolean;
}

/**
 * A tiny "remote" SMTP server on loopback built with smtp-server: records what it accepts.
 * `rcptReply(address)` returns null to accept or [code, text] to refuse at RCPT.
 */
export async function startSink(opts: { tls?: TlsMaterial; rcptReply?: (address: string) => [number, string] | null; host?: string; port?: number } = {}): Promise<{
  port: number;
  messages: SinkMessage[];
  setRcptReply(f: (address: string) => [number, string] | null): void;
  close(): Promise<void>;
}> {
  const { SMTPServer } = await import('smtp-server');
  const messages: SinkMessage[] = [];
  let rcptReply = opts.rcptReply ?? (() => null);
  const server = new SMTPServer({
    logger: false,
    authOptional: true,
    disabledCommands: opts.tls ? ['AUTH'] : ['AUTH', 'STARTTLS'],
    disableReverseLookup: true,
    ...(opts.tls ? { key: opts.tls.key, cert: opts.tls.cert } : {}),
    onRcptTo(address, _session, cb) {
      const r = rcptReply(address.address);
      if (!r) return cb();
      const err = Object.assign(new Error(r[1]), { responseCode: r[0] });
      cb(err);
    },
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        messages.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          raw: Buffer.concat(chunks),
          secure: session.secure,
        });
        cb(null);
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve()));
  const port = (server.server.address() as { port: number }).port;
  return {
    port,
    messages,
    setRcptReply(f) {
      rcptReply = f;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of server.connections) c.close();
        server.close(() => resolve());
      }),
  };
}
