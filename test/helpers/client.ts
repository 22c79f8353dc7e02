/** Shared bits of the client tests: temp profiles, sample messages, Maildir checks (strict names + neomutt). */
import { mkdtempSync, rmSync, readdirSync, existsSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { ImapFlow } from 'imapflow';
import { ClientEngine, type EngineOptions } from '../../src/client/engine.js';
import type { Dovecot } from '../../support/dovecot.js';
import { isValidMaildirName } from '../../src/client/store/maildir.js';

export const PASSWORD_ENV = 'MAILROOM_TEST_PW';

export function tempProfile(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'mailroom-profile-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function engine(dir: string, password: string, extra: Partial<EngineOptions> = {}): ClientEngine {
  return new ClientEngine({ profileDir: dir, passwords: { env: { [PASSWORD_ENV]: password } }, ...extra });
}

let n = 0;
/** A CRLF message with a dot-leading line and 8-bit bytes in the body (to prove byte transparency). */
export function sampleMessage(subject: string, opts: { from?: string; to?: string; date?: Date; body?: Buffer } = {}): Buffer {
  const id = `<${Date.now()}.${++n}@test.example>`;
  const head = [
    `From: ${opts.from ?? 'Sender <sender@example.org>'}`,
    `To: ${opts.to ?? 'rcpt@example.org'}`,
    `Subject: ${subject}`,
    `Date: ${(opts.date ?? new Date()).toUTCString().replace('GMT', '+0000')}`,
    `Message-ID: ${id}`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=iso-8859-1',
    'Content-Transfer-Encoding: 8bit',
    '',
    '',
  ].join('\r\n');
  const body = opts.body ?? Buffer.concat([Buffer.from('Hello.\r\n.a line starting with a dot\r\n..two dots\r\n.\r\n', 'latin1'), Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x0d, 0x0a])]);
  return Buffer.concat([Buffer.from(head, 'latin1'), body]);
}

/** Every file in new/ and cur/ of a Maildir has a valid name; tmp/ is empty. Returns the file count. */
export function assertMaildir(dir: string): number {
  let count = 0;
  for (const sub of ['new', 'cur'] as const) {
    for (const name of readdirSync(join(dir, sub))) {
      assert.ok(isValidMaildirName(name, sub), `invalid Maildir name in ${sub}/: ${name}`);
      count++;
    }
  }
  assert.deepEqual(readdirSync(join(dir, 'tmp')), [], 'tmp/ must be empty after delivery');
  return count;
}

/** null when neomutt (and util-linux `script`) can run headless here. */
export function neomuttAvailable(): string | null {
  if (!existsSync('/usr/bin/neomutt')) return 'neomutt is not installed';
  if (!existsSync('/usr/bin/script')) return 'util-linux script is not installed';
  return null;
}

/**
 * Opens the Maildir read-only in neomutt on a pseudo-terminal, quits at once, and returns the index lines
 * it drew ("IDX <flags> <subject>").
 */
export function neomuttIndex(maildir: string): string[] {
  const rc = join(maildir, '..', `.neomuttrc-${process.pid}`);
  writeFileSync(rc, [`set folder=${maildir}`, `set spoolfile=${maildir}`, 'set quit=yes', 'set mbox_type=Maildir', 'set header_cache=""', 'set index_format="IDX %Z %s"', 'set sort=date-sent', ''].join('\n'));
  const r = spawnSync('/usr/bin/script', ['-qec', `neomutt -n -F ${rc} -R -f ${maildir} -e 'push q'`, '/dev/null'], {
    env: { ...process.env, TERM: 'xterm', COLUMNS: '200', LINES: '60', HOME: maildir },
    timeout: 10_000,
    encoding: 'latin1',
  });
  rmSync(rc, { force: true });
  const out = (r.stdout ?? '').replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '\n').replace(/\x1b[()][A-Z0-9]/g, '');
  return [...out.matchAll(/IDX [^\n\r]*/g)].map((m) => m[0].trimEnd());
}

/** A second IMAP session of `user` on the Dovecot (a change "made on the server" by another client). */
export async function dovecotSession(dc: Dovecot, user: string, pass: string): Promise<ImapFlow> {
  const c = new ImapFlow({ host: '127.0.0.1', port: dc.imapPort, secure: false, doSTARTTLS: false, auth: { user, pass }, logger: false, disableAutoIdle: true });
  await c.connect();
  return c;
}

/** How many messages a folder of `user` holds on the Dovecot (doveadm mailbox status). */
export async function dovecotCount(dc: Dovecot, user: string, folder = 'INBOX'): Promise<number> {
  const out = await dc.doveadm(['mailbox', 'status', '-u', user, 'messages', folder]);
  return Number(/messages=(\d+)/.exec(out)?.[1] ?? NaN);
}

/**
 * Samples the live ArrayBuffer memory (after a full GC) every `everyMs` while `fn` runs; returns the peak
 * growth in bytes. Each sample is a full GC: a long `fn` wants a longer interval. V8 frees the backing
 * stores of dead ArrayBuffers on a helper thread after a GC, so a sample taken right after one could count
 * tens of MB of garbage on a busy machine; sweeping them before gc() returns makes each sample the live set.
 */
export async function peakBufferGrowth(fn: () => Promise<unknown>, everyMs = 20): Promise<number> {
  setFlagsFromString('--expose-gc');
  setFlagsFromString('--no-concurrent-array-buffer-sweeping');
  const gc = runInNewContext('gc') as () => void;
  gc();
  const base = process.memoryUsage().arrayBuffers;
  let peak = base;
  const timer = setInterval(() => {
    gc();
    peak = Math.max(peak, process.memoryUsage().arrayBuffers);
  }, everyMs);
  try {
    await fn();
  } finally {
    clearInterval(timer);
  }
  return peak - base;
}

/** A message whose body is `size` bytes of varied lines (some starting with a dot). */
export function bigMessage(subject: string, size: number): Buffer {
  const lines: string[] = [];
  let n = 0;
  let total = 0;
  while (total < size) {
    const l = (n % 7 === 0 ? '.' : '') + `line ${n} ` + 'x'.repeat(60 + (n % 13));
    lines.push(l);
    total += l.length + 2;
    n++;
  }
  return sampleMessage(subject, { body: Buffer.from(lines.join('\r\n') + '\r\n', 'latin1') });
}
