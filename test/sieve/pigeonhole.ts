/**
 * Runs Pigeonhole's sieve-test (Debian dovecot-sieve) on a script and a message and normalizes its printed
 * result, and normalizes mailroom's SieveResult the same way, so the two can be compared as sorted lists:
 * "store <mailbox> [<flags>]", "redirect <address>", "discard", "reject <reason>",
 * "vacation <seconds> <subject> <from> <reason>"; "RUNTIME ERROR" with the fallback keep; or the single item
 * "COMPILE ERROR line N: message" (the first error, in Pigeonhole's words).
 */
import { execFile, execFileSync } from 'node:child_process';
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SieveAction, SieveResult } from '../../src/sieve/index.js';

export const CORPUS = new URL('.', import.meta.url).pathname;

export interface Sandbox {
  dir: string;
  config: string;
}

function nobodyIds(): { uid: number; gid: number } {
  if (process.getuid?.() !== 0) return { uid: process.getuid?.() ?? 1000, gid: process.getgid?.() ?? 1000 };
  const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('nobody:'));
  const f = line?.split(':') ?? [];
  return { uid: Number(f[2] ?? 65534), gid: Number(f[3] ?? 65534) };
}

/** A throwaway HOME with a Dovecot config: spamtest/virustest read X-Spam-Score (0..10) and X-Virus-Score (0..5). */
export function makeSandbox(): Sandbox {
  const dir = mkdtempSync(join(tmpdir(), 'sieve-diff-'));
  for (const sub of ['scripts', 'messages', 'personal', 'global']) cpSync(join(CORPUS, sub), join(dir, sub), { recursive: true });
  mkdirSync(join(dir, 'mail'), { recursive: true });
  const ids = nobodyIds();
  const config = join(dir, 'dovecot.conf');
  writeFileSync(
    config,
    [
      'first_valid_uid = 0',
      'first_valid_gid = 0',
      `mail_uid = ${ids.uid}`,
      `mail_gid = ${ids.gid}`,
      `mail_location = maildir:${dir}/mail`,
      'plugin {',
      `  sieve = file:${dir}/personal;active=${dir}/active.sieve`,
      `  sieve_global = ${dir}/global`,
      '  sieve_extensions = +vacation-seconds +spamtest +spamtestplus +virustest +editheader',
      '  sieve_spamtest_status_type = score',
      '  sieve_spamtest_status_header = X-Spam-Score',
      '  sieve_spamtest_max_value = 10',
      '  sieve_virustest_status_type = score',
      '  sieve_virustest_status_header = X-Virus-Score',
      '  sieve_virustest_max_value = 5',
      '}',
      '',
    ].join('\n'),
  );
  chmodRecursive(dir);
  return { dir, config };
}

/** sieve-test drops privileges to mail_uid (nobody when run as root): it must read and write the sandbox. */
function chmodRecursive(dir: string): void {
  execFileSync('chmod', ['-R', 'a+rwX', dir]);
  chmodSync(dir, 0o777);
}

export interface Envelope {
  from: string;
  to: string;
}

/** sieve-test's verdict, normalized. */
export function runPigeonhole(sb: Sandbox, script: string, message: string, env: Envelope): Promise<string[]> {
  const args = ['-c', sb.config, '-C', '-f', env.from, '-a', env.to, join(sb.dir, 'scripts', script), join(sb.dir, 'messages', message)];
  return new Promise((resolve, reject) => {
    execFile('sieve-test', args, { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: sb.dir, TZ: 'UTC' }, timeout: 20000 }, (err, stdout, stderr) => {
      if (err && /failed to compile sieve script/.test(stderr)) {
        // The first error, e.g. "name: line 2: error: unknown command 'foo' (...)." -> "line 2: unknown command ...".
        const m = /: line (\d+): error: (.*?)\.?$/m.exec(stderr);
        resolve([`COMPILE ERROR line ${m?.[1] ?? '?'}: ${m?.[2] ?? stderr.trim()}`]);
        return;
      }
      if (/final result: failed/.test(stderr)) {
        // A runtime error: Pigeonhole falls back to the implicit keep.
        resolve(['RUNTIME ERROR', 'store INBOX []']);
        return;
      }
      if (err) {
        reject(new Error(`sieve-test ${script} ${message} failed: ${stderr}`));
        return;
      }
      resolve(parseOutput(stdout));
    });
  });
}

function parseOutput(out: string): string[] {
  const items: string[] = [];
  type Pending = { kind: 'store'; mailbox: string; flags: string[] } | { kind: 'vacation'; seconds: string; subject: string; from: string; body: string[] };
  let cur: Pending | null = null;
  let inBody = false;
  const flush = (): void => {
    if (!cur) return;
    if (cur.kind === 'store') items.push(`store ${mailboxName(cur.mailbox)} [${normFlags(cur.flags)}]`);
    else items.push(`vacation ${cur.seconds} ${cur.subject} ${cur.from} ${printable(cur.body.join('\n'))}`);
    cur = null;
  };
  for (const line of out.split('\n')) {
    if (inBody && cur && cur.kind === 'vacation') {
      if (line === 'END MESSAGE') inBody = false;
      else cur.body.push(line);
      continue;
    }
    let m: RegExpExecArray | null;
    if ((m = /^ \* store message in folder: (.*)$/.exec(line))) {
      flush();
      cur = { kind: 'store', mailbox: m[1]!, flags: [] };
    } else if ((m = /^\s+\+ add IMAP flags: (.*)$/.exec(line)) && cur?.kind === 'store') {
      cur.flags = m[1]!.split(' ');
    } else if ((m = /^ \* redirect message to: <(.*)>$/.exec(line))) {
      flush();
      items.push(`redirect ${m[1]}`);
    } else if (/^ \* discard$/.test(line)) {
      flush();
      items.push('discard');
    } else if ((m = /^ \* reject message with reason: (.*)$/.exec(line))) {
      flush();
      items.push(`reject ${m[1]!.trim()}`);
    } else if (/^ \* send vacation message:/.test(line)) {
      flush();
      cur = { kind: 'vacation', seconds: '', subject: '-', from: '-', body: [] };
    } else if ((m = /^\s+=> (\w+)\s*: (.*)$/.exec(line)) && cur?.kind === 'vacation') {
      if (m[1] === 'seconds') cur.seconds = m[2]!;
      if (m[1] === 'subject') cur.subject = m[2]!;
      if (m[1] === 'from') cur.from = m[2]!;
    } else if (line === 'START MESSAGE') {
      inBody = true;
    } else if (/^ \* track duplicate/.test(line)) {
      // The duplicate tracking record: the delivery side keeps it, not an action.
    } else if (/^ \* /.test(line)) {
      flush();
      items.push(`unknown ${line.trim()}`);
    }
  }
  flush();
  return items.sort();
}

/** Line breaks normalized; other control characters shown as '?' as sieve-test prints them. */
function printable(s: string): string {
  return s.replace(/\r\n/g, '\n').replace(/\r/g, '').trim().replace(/[\x00-\x09\x0b-\x1f]/g, '?');
}

/** sieve-test prints control characters in mailbox names as '?'. */
function mailboxName(s: string): string {
  return s.replace(/[\x00-\x1f]/g, '?');
}

function normFlags(flags: string[]): string {
  return flags
    .filter((f) => f !== '')
    .map((f) => (f.startsWith('\\') ? f.toLowerCase() : f))
    .sort()
    .join(' ');
}

function normAction(a: SieveAction): string {
  switch (a.type) {
    case 'keep':
      return `store INBOX [${normFlags(a.flags)}]`;
    case 'fileinto':
      return `store ${mailboxName(a.mailbox)} [${normFlags(a.flags)}]`;
    case 'redirect':
      return `redirect ${a.address}`;
    case 'discard':
      return 'discard';
    case 'reject':
      return `reject ${a.reason.trim()}`;
    case 'vacation':
      return `vacation ${a.seconds} ${a.subject ?? '-'} ${a.from ?? '-'} ${printable(a.reason)}`;
    default:
      return 'unknown';
  }
}

export function normalizeOurs(r: SieveResult): string[] {
  if (r.errors.length > 0) {
    if (r.actions.length !== 1 || r.actions[0]!.type !== 'keep') return ['RUNTIME ERROR without a single keep'];
    return ['RUNTIME ERROR', 'store INBOX []'];
  }
  return r.actions.map(normAction).sort();
}
