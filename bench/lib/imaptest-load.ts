/**
 * Dovecot's imaptest in load mode against an in-process mailroom (createMailroom, IMAP on a free port,
 * SQLite in a temporary directory): `users` users user1..userN@example.test, `clients` concurrent clients
 * running imaptest's random command mix with state tracking for `secs` seconds, messages taken from an
 * mbox built from the MIME fixtures. Every `Error:` line imaptest prints is a protocol or consistency
 * error of the server. Used by test/imap-imaptest-load.test.ts (short run) and bench/imaptest-load.ts
 * (the five-minute run).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createMailroom } from '../../src/index.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, '..', '..');
/** The tool lives beside the repository (see its README), never in it. */
export const IMAPTEST = process.env['IMAPTEST'] ?? join(ROOT, '..', 'shared', 'tools', 'imaptest', 'imaptest');
const FIXTURES = join(ROOT, 'test', 'fixtures', 'mime');
const PASSWORD = 'load-pass';

export interface LoadOptions {
  secs: number;
  clients: number;
  users: number;
  /** Extra imaptest arguments (e.g. `seed=1`). */
  extra?: string[];
  /** Called with each output line as it arrives. */
  onLine?: (line: string) => void;
}

export interface LoadResult {
  /** The `Error:` lines. */
  errors: string[];
  /** imaptest's exit code (null when killed). */
  exitCode: number | null;
  /** The whole output (stdout and stderr). */
  output: string;
}

/** Why the run cannot happen here, or null. */
export function imaptestMissing(): string | null {
  if (!existsSync(IMAPTEST)) return `imaptest not found at ${IMAPTEST}`;
  return null;
}

/** Writes raw messages as an mbox (CRLF to LF, "From " lines in bodies escaped), as imaptest reads it. */
export function writeMbox(path: string, raws: Iterable<string | Buffer>): void {
  const parts: string[] = [];
  for (const r of raws) {
    const body = (typeof r === 'string' ? r : r.toString('latin1')).replace(/\r\n/g, '\n').replace(/^(>*From )/gm, '>$1');
    parts.push(`From sender@example.test Mon Jan  1 00:00:00 2024\n${body.endsWith('\n') ? body : body + '\n'}\n`);
  }
  writeFileSync(path, parts.join(''), 'latin1');
}

/** An mbox of the MIME fixtures plus plain messages of varied sizes. */
export function buildMbox(path: string): void {
  const raws: string[] = [];
  for (const f of readdirSync(FIXTURES).sort()) if (f.endsWith('.eml')) raws.push(readFileSync(join(FIXTURES, f), 'latin1'));
  for (let i = 1; i <= 20; i++) {
    const lines = Array.from({ length: i * 7 }, (_, n) => `line ${n} of message ${i}: ${'x'.repeat(n % 60)}`);
    raws.push(
      `From: Sender ${i} <s${i}@example.test>\nTo: user@example.test\nSubject: load message ${i}\n` +
        `Date: Mon, ${(i % 28) + 1} Jan 2024 10:00:00 +0000\nMessage-ID: <load-${i}@example.test>\n\n${lines.join('\n')}\n`,
    );
  }
  writeMbox(path, raws);
}

export interface ImaptestOptions {
  host: string;
  port: number;
  /** imaptest's user pattern, e.g. `user%d@example.test` (%d runs 1..users). */
  user: string;
  password: string;
  users: number;
  clients: number;
  secs: number;
  mbox: string;
  /** Extra imaptest arguments (e.g. `seed=1`). */
  extra?: string[];
  /** Called with each output line as it arrives. */
  onLine?: (line: string) => void;
}

/** Runs imaptest's load mode against a listening server; resolves when imaptest exits. */
export async function runImaptest(o: ImaptestOptions): Promise<LoadResult> {
  const args = [`host=${o.host}`, `port=${o.port}`, `user=${o.user}`, `pass=${o.password}`, `users=${o.users}`, `clients=${o.clients}`, `secs=${o.secs}`, `mbox=${o.mbox}`, ...(o.extra ?? [])];
  const child = spawn(IMAPTEST, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  let partial = '';
  const onData = (d: Buffer): void => {
    const text = d.toString('utf8');
    output += text;
    partial += text;
    const lines = partial.split('\n');
    partial = lines.pop()!;
    for (const l of lines) o.onLine?.(l);
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const exitCode = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve(code));
  });
  if (partial) o.onLine?.(partial);
  const errors = output.split('\n').filter((l) => /^Error: /.test(l) || /\bError: /.test(l.slice(0, 40)));
  return { errors, exitCode, output };
}

/** imaptest's last "ms/cmd avg" row (mean latency per command, same order as the command names), or null. */
export function imaptestLatencies(output: string): number[] | null {
  const rows = output.split('\n').filter((l) => l.trimEnd().endsWith('ms/cmd avg'));
  const last = rows[rows.length - 1];
  return last ? last.replace('ms/cmd avg', '').trim().split(/\s+/).map(Number) : null;
}

/**
 * The command counts of imaptest's `Totals:` block (the header row of 4-letter command names, two rows of
 * percentages, then the counts), e.g. { Logi: 555, List: 287, ... }; null when the block is missing.
 */
export function imaptestTotals(output: string): Record<string, number> | null {
  const lines = output.split('\n');
  const at = lines.lastIndexOf('Totals:');
  if (at < 0) return null;
  const names = (lines[at + 1] ?? '').trim().split(/\s+/);
  const row = lines.slice(at + 2).find((l) => /^\s*\d+(\s+\d+)*\s*$/.test(l));
  if (!row || names.length === 0) return null;
  const counts = row.trim().split(/\s+/).map(Number);
  if (counts.length !== names.length) return null;
  return Object.fromEntries(names.map((n, i) => [n, counts[i]!]));
}

/** Starts a mailroom, creates the users, runs imaptest's load mode, stops everything. */
export async function runImaptestLoad(opts: LoadOptions): Promise<LoadResult> {
  const dir = mkdtempSync(join(tmpdir(), 'mailroom-imaptest-'));
  const mbox = join(dir, 'load.mbox');
  buildMbox(mbox);
  const server = createMailroom({ dataDir: join(dir, 'data'), ports: { imap: 0 }, auth: { failureDelayMs: 0 } });
  await server.start();
  try {
    for (let i = 1; i <= opts.users; i++) await server.addUser(`user${i}@example.test`, PASSWORD);
    return await runImaptest({
      host: '127.0.0.1',
      port: server.ports.imap!,
      user: 'user%d@example.test',
      password: PASSWORD,
      users: opts.users,
      clients: opts.clients,
      secs: opts.secs,
      mbox,
      ...(opts.extra ? { extra: opts.extra } : {}),
      ...(opts.onLine ? { onLine: opts.onLine } : {}),
    });
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
