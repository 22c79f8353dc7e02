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

/** An mbox of the MIME fixtures plus plain messages of varied sizes ("From " lines in bodies escaped). */
export function buildMbox(path: string): void {
  const parts: string[] = [];
  const add = (raw: string): void => {
    const body = raw.replace(/\r\n/g, '\n').replace(/^(>*From )/gm, '>$1');
    parts.push(`From sender@example.test Mon Jan  1 00:00:00 2024\n${body.endsWith('\n') ? body : body + '\n'}\n`);
  };
  for (const f of readdirSync(FIXTURES).sort()) if (f.endsWith('.eml')) add(readFileSync(join(FIXTURES, f), 'latin1'));
  for (let i = 1; i <= 20; i++) {
    const lines = Array.from({ length: i * 7 }, (_, n) => `line ${n} of message ${i}: ${'x'.repeat(n % 60)}`);
    add(
      `From: Sender ${i} <s${i}@example.test>\nTo: user@example.test\nSubject: load message ${i}\n` +
        `Date: Mon, ${(i % 28) + 1} Jan 2024 10:00:00 +0000\nMessage-ID: <load-${i}@example.test>\n\n${lines.join('\n')}\n`,
    );
  }
  writeFileSync(path, parts.join(''), 'latin1');
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
    const port = server.ports.imap!;
    const args = [
      'host=127.0.0.1',
      `port=${port}`,
      'user=user%d@example.test',
      `pass=${PASSWORD}`,
      `users=${opts.users}`,
      `clients=${opts.clients}`,
      `secs=${opts.secs}`,
      `mbox=${mbox}`,
      ...(opts.extra ?? []),
    ];
    const child = spawn(IMAPTEST, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    let partial = '';
    const onData = (d: Buffer): void => {
      const text = d.toString('utf8');
      output += text;
      partial += text;
      const lines = partial.split('\n');
      partial = lines.pop()!;
      for (const l of lines) opts.onLine?.(l);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    const exitCode = await new Promise<number | null>((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (code) => resolve(code));
    });
    if (partial) opts.onLine?.(partial);
    const errors = output.split('\n').filter((l) => /^Error: /.test(l) || /\bError: /.test(l.slice(0, 40)));
    return { errors, exitCode, output };
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
