/**
 * Differential test: every script of test/sieve/scripts runs on the messages of test/sieve/messages under
 * Pigeonhole's sieve-test and under mailroom's interpreter; the normalized action lists must be equal, and
 * scripts that Pigeonhole refuses must be refused by mailroom with the same first error (line and message).
 * Scripts run on basic and mime unless a first-line comment names the messages ("# messages: list odd");
 * error scripts (e-*) run on basic only.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { compileSieve, runSieve, SIEVE_EXTENSIONS, type CompiledScript } from '../src/sieve/index.js';
import { CORPUS, makeSandbox, normalizeOurs, runPigeonhole, type Envelope } from './sieve/pigeonhole.js';

/** Pigeonhole 0.5 (Debian's) does not offer these two; mailroom refuses them here as Pigeonhole does. */
const NOT_IN_PIGEONHOLE = new Set(['ereject', 'mailboxid']);
const EXTENSIONS = SIEVE_EXTENSIONS.filter((e) => !NOT_IN_PIGEONHOLE.has(e));
const ENVELOPE: Envelope = { from: 'sender@example.org', to: 'me@example.com' };
const PARALLEL = 4;
/** Messages a script runs on unless its first line names others ("# messages: list odd"). */
const DEFAULT_MESSAGES = ['basic.eml', 'mime.eml'];

function headerNumber(msg: Buffer, name: string): number | null {
  const m = new RegExp(`^${name}:\\s*([0-9.]+)`, 'im').exec(msg.toString('latin1'));
  return m ? Number(m[1]) : null;
}

function compileFrom(dir: string, name: string): CompiledScript | null {
  let src: string;
  try {
    src = readFileSync(join(CORPUS, dir, `${name}.sieve`), 'utf8');
  } catch {
    return null;
  }
  const r = compileSieve(src, { extensions: EXTENSIONS, name });
  return r.ok ? r.script : null;
}

async function ours(script: string, message: string): Promise<string[]> {
  const src = readFileSync(join(CORPUS, 'scripts', script), 'utf8');
  const c = compileSieve(src, { extensions: EXTENSIONS, name: script });
  if (!c.ok) return [`COMPILE ERROR line ${c.errors[0]!.line}: ${c.errors[0]!.message}`];
  const raw = readFileSync(join(CORPUS, 'messages', message));
  const r = await runSieve(c.script, {
    message: raw,
    envelope: { from: ENVELOPE.from, to: ENVELOPE.to },
    mailboxExists: async (name) => name.toUpperCase() === 'INBOX',
    spamScore: headerNumber(raw, 'X-Spam-Score'),
    virusScore: headerNumber(raw, 'X-Virus-Score'),
    duplicate: { seen: async () => false },
    include: async (name, scope) => compileFrom(scope === 'global' ? 'global' : 'personal', name),
    // What sieve-test reports (it plays a mail store, after delivery).
    environment: { name: 'Pigeonhole Sieve', version: '0.5.19', location: 'MS', phase: 'post' },
    userAddresses: [ENVELOPE.to],
  });
  return normalizeOurs(r);
}

function cases(): Array<{ script: string; message: string }> {
  const out: Array<{ script: string; message: string }> = [];
  for (const script of readdirSync(join(CORPUS, 'scripts')).filter((f) => f.endsWith('.sieve')).sort()) {
    const first = readFileSync(join(CORPUS, 'scripts', script), 'utf8').split('\n')[0] ?? '';
    const named = /^# messages: (.*)$/.exec(first);
    const list = named ? named[1]!.split(/\s+/).map((m) => `${m}.eml`) : script.startsWith('e-') ? ['basic.eml'] : DEFAULT_MESSAGES;
    for (const message of list) out.push({ script, message });
  }
  return out;
}

test('mailroom and Pigeonhole agree on every script and message of the corpus', async () => {
  const sb = makeSandbox();
  const all = cases();
  assert.ok(all.length >= 60, `corpus has ${all.length} pairs`);
  const mismatches: string[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < all.length) {
      const c = all[next++]!;
      const [theirs, mine] = await Promise.all([runPigeonhole(sb, c.script, c.message, ENVELOPE), ours(c.script, c.message)]);
      const refused = theirs[0]?.startsWith('COMPILE ERROR') ?? false;
      if (refused !== c.script.startsWith('e-')) mismatches.push(`${c.script}: Pigeonhole ${refused ? 'refuses' : 'accepts'} it (scripts named e-* must be refused, others accepted)`);
      if (JSON.stringify(theirs) !== JSON.stringify(mine)) {
        mismatches.push(`${c.script} on ${c.message}:\n  pigeonhole: ${JSON.stringify(theirs)}\n  mailroom:   ${JSON.stringify(mine)}`);
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: PARALLEL }, worker));
  } finally {
    rmSync(sb.dir, { recursive: true, force: true });
  }
  assert.equal(mismatches.length, 0, `${mismatches.length} of ${all.length} pairs differ:\n${mismatches.join('\n')}`);
});
