/**
 * Shared fixtures for the interop tests that drive Debian's real mail clients (mbsync, neomutt, getmail6,
 * fetchmail, swaks, python3) against an in-process mailroom on loopback.
 *
 * Every tool runs with HOME (and the tool's own config dir variables) pointing into a throwaway directory, so a
 * real home directory is never read or written. Nothing here talks to anything but 127.0.0.1.
 */
import { execFileSync, spawn } from 'node:child_process';
import { chmod, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { createMailroom, memoryLogger, type Mailroom, type Mailbox, type MessageMeta, type User } from '../../src/index.js';
import type { LogLine } from '../../src/lib/logger.js';

export const ALICE = 'alice@example.org';
export const ALICE_PASS = 'alice-secret';
export const BOB = 'bob@example.org';
export const BOB_PASS = 'bob-secret';

const toolCache = new Map<string, string | null>();

/** Absolute path of an installed program, or null when it is not on PATH. */
export function findTool(name: string): string | null {
  if (!toolCache.has(name)) {
    let path: string | null = null;
    try {
      path = execFileSync('sh', ['-c', 'command -v "$1"', 'sh', name], { encoding: 'utf8' }).trim() || null;
    } catch {
      path = null;
    }
    toolCache.set(name, path);
  }
  return toolCache.get(name) ?? null;
}

/** `skip` option for node:test: false when every tool is installed, else the reason. */
export function skipUnless(...tools: string[]): false | string {
  const missing = tools.filter((t) => !findTool(t));
  return missing.length === 0 ? false : `not installed: ${missing.join(', ')}`;
}

/** A mkdtemp directory removed when the test ends. */
export async function tempDir(t: TestContext, prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `interop-${prefix}-`));
  // Some tools (getmail delivering as root) drop privileges: let them reach their files inside.
  await chmod(dir, 0o755);
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** HOME for the tool (always a temp dir). */
  home: string;
  env?: NodeJS.ProcessEnv;
  input?: string | Buffer;
  cwd?: string;
  timeoutMs?: number;
}

/**
 * Runs a program to completion and returns its exit status and output; never throws for a non-zero exit
 * (callers assert the status they expect). A run past the timeout is killed and reported by signal.
 */
export function runTool(cmd: string, args: string[], opts: RunOptions): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      LANG: 'C.UTF-8',
      HOME: opts.home,
      XDG_CONFIG_HOME: join(opts.home, '.config'),
      TMPDIR: opts.home,
      ...opts.env,
    };
    const child = spawn(cmd, args, { env, cwd: opts.cwd ?? opts.home, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 30_000);
    timer.unref();
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.input ?? '');
  });
}

/** Exit status and the tail of both output streams, for assertion messages. */
export function describeRun(cmd: string, r: RunResult): string {
  return `${cmd} exited ${r.code ?? r.signal}\n--- stdout\n${r.stdout.slice(-6000)}\n--- stderr\n${r.stderr.slice(-6000)}`;
}

export interface TestMessageOptions {
  from?: string;
  to?: string;
  subject?: string;
  /** Extra body lines (CRLF added). */
  body?: string[];
  /** Multipart/mixed with a small base64 attachment. */
  attachment?: boolean;
}

/**
 * A deterministic RFC 5322 message with CRLF line ends. The body varies with `n` (lines starting with a dot,
 * "From " lines, 8-bit UTF-8 text, a long line) so byte comparisons catch transport changes.
 */
export function testMessage(n: number, opts: TestMessageOptions = {}): Buffer {
  const subject = opts.subject ?? `Interop message ${n}`;
  const headers = [
    `From: ${opts.from ?? `Bob Sender <${BOB}>`}`,
    `To: ${opts.to ?? `Alice <${ALICE}>`}`,
    `Subject: ${subject}`,
    `Date: Mon, 2 Mar 2026 10:${String(n % 60).padStart(2, '0')}:00 +0000`,
    `Message-ID: <interop-${n}@example.org>`,
    'MIME-Version: 1.0',
  ];
  const text = [
    `Hello, this is message number ${n}.`,
    ...(n % 3 === 0 ? ['.a line that starts with a dot', '..two dots'] : []),
    ...(n % 4 === 0 ? ['From the start of a line (mbox quoting bait)'] : []),
    ...(n % 5 === 0 ? ['Grüße aus Köln — 8-bit UTF-8 text'] : []),
    ...(n % 7 === 0 ? ['x'.repeat(900)] : []),
    ...(opts.body ?? []),
    '-- ',
    'Bob',
  ];
  let lines: string[];
  if (opts.attachment) {
    const b = `=_boundary_${n}`;
    const data = Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 7 + n) & 0xff)).toString('base64');
    lines = [
      ...headers,
      `Content-Type: multipart/mixed; boundary="${b}"`,
      '',
      'This is a multi-part message in MIME format.',
      `--${b}`,
      'Content-Type: text/plain; charset=utf-8',
      'Content-Transfer-Encoding: 8bit',
      '',
      ...text,
      `--${b}`,
      `Content-Type: application/octet-stream; name="data-${n}.bin"`,
      'Content-Transfer-Encoding: base64',
      `Content-Disposition: attachment; filename="data-${n}.bin"`,
      '',
      ...(data.match(/.{1,76}/g) ?? []),
      `--${b}--`,
      '',
    ];
  } else {
    lines = [...headers, 'Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: 8bit', '', ...text, ''];
  }
  return Buffer.from(lines.join('\r\n'), 'utf8');
}

/** CRLF -> LF, the form Maildir/mbox tools write on disk. */
export function toLf(b: Buffer): Buffer {
  return Buffer.from(b.toString('latin1').replace(/\r\n/g, '\n'), 'latin1');
}

/** LF -> CRLF (bare LFs only). */
export function toCrlf(b: Buffer): Buffer {
  return Buffer.from(b.toString('latin1').replace(/\r?\n/g, '\r\n'), 'latin1');
}

export interface InteropServer {
  m: Mailroom;
  alice: User;
  bob: User;
  certFile: string;
  port(name: 'imap' | 'imaps' | 'pop3' | 'pop3s' | 'lmtp' | 'smtp' | 'submission' | 'submissions'): number;
  /** The mailbox (created when missing). */
  mailbox(name: string, user?: User): Promise<Mailbox>;
  append(mailbox: string, raw: Buffer, flags?: string[], user?: User): Promise<number>;
  /** Messages of a mailbox in UID order with their raw bytes. */
  messages(mailbox: string, user?: User): Promise<Array<MessageMeta & { raw: Buffer }>>;
  /** The server's last log lines (info and above), for failure messages. */
  log(last?: number): string;
}

/** Starts mailroom with every listener on a free loopback port and users alice and bob; stopped when the test ends. */
export async function startServer(t: TestContext): Promise<InteropServer> {
  const logLines: LogLine[] = [];
  const m = createMailroom({
    ports: { imap: 0, imaps: 0, pop3: 0, pop3s: 0, lmtp: 0, smtp: 0, submission: 0, submissions: 0 },
    auth: { failureDelayMs: 0 },
    hostname: 'mx.example.org',
    logger: memoryLogger(logLines),
  });
  await m.start();
  t.after(() => m.stop());
  const alice = await m.addUser(ALICE, ALICE_PASS);
  const bob = await m.addUser(BOB, BOB_PASS);
  if (!m.selfSignedCertFile) throw new Error('expected a generated self-signed certificate');
  const certFile = m.selfSignedCertFile;
  const mailbox = async (name: string, user: User = alice): Promise<Mailbox> =>
    (await m.store.mail.getMailbox(user.id, name)) ?? (await m.store.mail.createMailbox(user.id, name));
  return {
    m,
    alice,
    bob,
    certFile,
    port(name) {
      const p = m.ports[name];
      if (p === undefined) throw new Error(`listener ${name} is not running`);
      return p;
    },
    mailbox,
    async append(name, raw, flags = [], user = alice) {
      return (await m.store.mail.append((await mailbox(name, user)).id, raw, { flags })).uid;
    },
    async messages(name, user = alice) {
      const box = await m.store.mail.getMailbox(user.id, name);
      if (!box) throw new Error(`no mailbox ${name}`);
      const metas = await m.store.mail.listMessages(box.id);
      return Promise.all(metas.map(async (meta) => ({ ...meta, raw: await m.store.mail.readBytes(box.id, meta.uid) })));
    },
    log(last = 40) {
      return logLines
        .filter((l) => l.level !== 'debug')
        .slice(-last)
        .map((l) => `${l.level} ${l.msg ?? ''} ${JSON.stringify(l.fields)}`)
        .join('\n');
    },
  };
}

export interface MaildirEntry {
  sub: 'new' | 'cur';
  name: string;
  /** The info flags after ":2," (empty when none). */
  flags: string;
  path: string;
}

/** The messages of one Maildir folder (new/ and cur/), sorted by file name. */
export async function listMaildir(dir: string): Promise<MaildirEntry[]> {
  const out: MaildirEntry[] = [];
  for (const sub of ['new', 'cur'] as const) {
    let names: string[];
    try {
      names = await readdir(join(dir, sub));
    } catch {
      continue;
    }
    for (const name of names) {
      if (name.startsWith('.')) continue;
      const i = name.indexOf(':2,');
      out.push({ sub, name, flags: i >= 0 ? name.slice(i + 3) : '', path: join(dir, sub, name) });
    }
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** The Message-ID field value of a raw message (first occurrence), or '' when absent. */
export function messageId(raw: Buffer): string {
  const m = /^Message-ID:\s*(<[^>\r\n]*>)/im.exec(raw.toString('latin1'));
  return m ? m[1]! : '';
}

/** Sorted system flags and keywords, for order-insensitive comparison. */
export function sortedFlags(flags: readonly string[]): string[] {
  return [...flags].sort();
}
