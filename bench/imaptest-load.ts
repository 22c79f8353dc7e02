/**
 * Dovecot's imaptest load mode (random command mix with state tracking) against an in-process mailroom:
 *
 *   node --import tsx bench/imaptest-load.ts [--secs 300] [--clients 20] [--users 20] [imaptest args...]
 *
 * Prints imaptest's output and a last line `imaptest load: N Error lines in S s (C clients, U users)`;
 * exits 1 when imaptest reported any `Error:` line (a protocol or consistency error of the server), 2 when
 * the tool is not installed. Default: the five-minute run with 20 clients over 20 users.
 */
import { imaptestMissing, runImaptestLoad } from './lib/imaptest-load.js';

function flag(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return def;
  const v = Number(process.argv[i + 1]);
  if (!Number.isInteger(v) || v <= 0) throw new Error(`--${name} needs a positive integer`);
  return v;
}

const secs = flag('secs', 300);
const clients = flag('clients', 20);
const users = flag('users', 20);
const extra = process.argv.slice(2).filter((a, i, all) => !a.startsWith('--') && !(i > 0 && all[i - 1]!.startsWith('--')));
const missing = imaptestMissing();
if (missing) {
  console.error(`imaptest load: ${missing}`);
  process.exit(2);
}
const r = await runImaptestLoad({ secs, clients, users, extra, onLine: (l) => console.log(l) });
console.log(`imaptest load: ${r.errors.length} Error lines in ${secs} s (${clients} clients, ${users} users), imaptest exit ${r.exitCode}`);
process.exit(r.errors.length ? 1 : 0);
