/**
 * Workloads 7-12 — SORT and THREAD over the big mailbox (RFC 5256, RFC 5267 ESORT, RFC 9394 PARTIAL), one
 * table row per command: UID SORT (ARRIVAL | DATE | SUBJECT | FROM) UTF-8 ALL, UID THREAD REFERENCES UTF-8 ALL
 * and UID SORT RETURN (PARTIAL 1:50) (DATE) UTF-8 ALL. Measured: the command alone (the mailbox is already
 * selected, with EXAMINE). The warm-up runs build what each server keeps between commands (mailroom: its
 * in-memory sort keys of the mailbox, and the sorted or threaded result while the mailbox is unchanged;
 * Dovecot: its index and cache fields), so the measured runs time a repeated command on an unchanged mailbox.
 *
 * Checks: every full SORT and THREAD returns each UID 1..n exactly once; SORT ARRIVAL returns the order of the
 * corpus's internal dates (ties by UID); PARTIAL returns the first min(50, n) UIDs of the same server's SORT
 * (DATE); and across servers (the second server's run compares with the first's answer of the same run): the
 * same number of UIDs, and for ARRIVAL the same order. Dovecot 2.3 answers PARTIAL (RFC 5267 CONTEXT=SEARCH);
 * a server that refuses it (BAD or NO) gets its side of that row timed with the plain UID SORT (DATE) UTF-8 ALL
 * a client then sends to get the same first page, and a note says so.
 */
import { ImapError, type TaggedResult } from '../lib/imap.js';
import { check, corpusIndexFor, imapLogin, type BenchConfig, type RunContext, type RunOutcome, type TargetName, type UserSpec, type Workload } from '../lib/harness.js';
import { bigUser, imapOverview } from './imap-overview.js';

/** Ids of the rows this file adds; `--only sort` selects them all. */
export const SORT_GROUP = 'sort';

const PAGE = 50;

/** UIDs in the order of "* SORT ..." (SORT) or "* THREAD ..." (THREAD, depth-first as written). */
function orderedUids(r: TaggedResult, kind: 'SORT' | 'THREAD'): number[] {
  const out: number[] = [];
  for (const u of r.untagged) {
    if (!u.text.toUpperCase().startsWith(`* ${kind}`)) continue;
    for (const m of u.text.slice(2 + kind.length).matchAll(/\d+/g)) out.push(Number(m[0]));
  }
  return out;
}

/** Top-level threads of a THREAD response: parentheses opened at depth 0. */
function threadCount(r: TaggedResult): number {
  let n = 0;
  for (const u of r.untagged) {
    if (!u.text.toUpperCase().startsWith('* THREAD')) continue;
    let depth = 0;
    for (const ch of u.text) {
      if (ch === '(') {
        if (depth === 0) n++;
        depth++;
      } else if (ch === ')') depth--;
    }
  }
  return n;
}

/** The UIDs of "* ESEARCH ... PARTIAL (1:50 set)" in the order written (ranges a:b expanded either way). */
function partialUids(r: TaggedResult): number[] | null {
  for (const u of r.untagged) {
    const m = /^\* ESEARCH .*\bPARTIAL \(\S+ (\S+)\)/i.exec(u.text);
    if (!m) continue;
    if (m[1]!.toUpperCase() === 'NIL') return [];
    const out: number[] = [];
    for (const part of m[1]!.split(',')) {
      const [a, b] = part.split(':').map(Number) as [number, number | undefined];
      if (b === undefined) out.push(a);
      else for (let x = a; a <= b ? x <= b : x >= b; x += a <= b ? 1 : -1) out.push(x);
    }
    return out;
  }
  return null;
}

function allOnce(uids: number[], n: number): boolean {
  if (uids.length !== n) return false;
  const seen = new Uint8Array(n + 1);
  for (const u of uids) {
    if (!Number.isInteger(u) || u < 1 || u > n || seen[u]) return false;
    seen[u] = 1;
  }
  return true;
}

function head(uids: number[]): string {
  return `[${uids.slice(0, 8).join(' ')}${uids.length > 8 ? ' ...' : ''}]`;
}

interface Spec {
  id: string;
  title: string;
  command: string;
  kind: 'sort' | 'thread' | 'partial';
}

const SPECS: Spec[] = [
  { id: 'sort-arrival', title: 'IMAP SORT ARRIVAL', command: 'UID SORT (ARRIVAL) UTF-8 ALL', kind: 'sort' },
  { id: 'sort-date', title: 'IMAP SORT DATE', command: 'UID SORT (DATE) UTF-8 ALL', kind: 'sort' },
  { id: 'sort-subject', title: 'IMAP SORT SUBJECT', command: 'UID SORT (SUBJECT) UTF-8 ALL', kind: 'sort' },
  { id: 'sort-from', title: 'IMAP SORT FROM', command: 'UID SORT (FROM) UTF-8 ALL', kind: 'sort' },
  { id: 'sort-thread', title: 'IMAP THREAD REFERENCES', command: 'UID THREAD REFERENCES UTF-8 ALL', kind: 'thread' },
  { id: 'sort-partial', title: 'IMAP SORT DATE PARTIAL 1:50', command: `UID SORT RETURN (PARTIAL 1:${PAGE}) (DATE) UTF-8 ALL`, kind: 'partial' },
];

const FALLBACK = 'UID SORT (DATE) UTF-8 ALL';

/** Per row: each server's answer of the current run (for the cross-server check) and its THREAD shape. */
const answers = new Map<string, Map<TargetName, { run: number; uids: number[]; threads?: number }>>();
/** Servers that refused PARTIAL (their side times FALLBACK). */
const unsupported = new Set<TargetName>();

/**
 * The corpus's ARRIVAL order of the big mailbox (internal date, then UID), of the messages whose internal date
 * is on or after 1970-01-01: the corpus's dates (one every ~10 hours back from 2026) fall before 1970 from
 * message ~47,700 on, and Dovecot 2.3 does not order those by their dates (they come first in its ARRIVAL
 * order, as if at the Unix epoch). `early` counts them.
 */
function arrivalOrder(cfg: BenchConfig): { order: number[]; epoch: Set<number>; early: number } {
  const corpus = corpusIndexFor(cfg);
  const n = cfg.sizes.bigMailbox;
  const t = Array.from({ length: n }, (_, k) => corpus.info(k).date.getTime());
  const epoch = new Set<number>();
  for (let k = 0; k < n; k++) if (t[k]! >= 0) epoch.add(k + 1);
  const order = [...epoch].sort((a, b) => t[a - 1]! - t[b - 1]! || a - b);
  return { order, epoch, early: n - epoch.size };
}

/** Messages with internal dates before 1970 in the last ARRIVAL run (for the note). */
let earlyCount = 0;

function sortWorkload(spec: Spec): Workload {
  return {
    id: spec.id,
    title: spec.title,
    metric: `${spec.command} over the big mailbox`,
    users(cfg: BenchConfig): UserSpec[] {
      return imapOverview.users(cfg); // the same big mailbox (users are de-duplicated by address)
    },
    async run(ctx: RunContext): Promise<RunOutcome> {
      const n = ctx.cfg.sizes.bigMailbox;
      const name = ctx.target.name;
      const c = await imapLogin(ctx, bigUser(ctx.cfg), 0);
      const checks: string[] = [];
      let uids: number[];
      let threads: number | undefined;
      let detail: string;
      let measuredOut;
      try {
        await c.ok('EXAMINE INBOX');
        if (spec.kind === 'partial') {
          // The same server's full SORT (DATE), untimed, is what the first page must match.
          const full = orderedUids(await c.ok(FALLBACK), 'SORT');
          const want = full.slice(0, Math.min(PAGE, n));
          if (!unsupported.has(name)) {
            const r = await ctx.measure(() => c.send(spec.command));
            if (r.value.status === 'OK') {
              const got = partialUids(r.value);
              check(got !== null, `no ESEARCH PARTIAL in the answer to ${spec.command}: ${r.value.untagged.map((u) => u.text).join(' | ').slice(0, 200)}`);
              check(got!.length === want.length && got!.every((u, i) => u === want[i]), `PARTIAL returned ${got!.length} UIDs ${head(got!)}, expected the first ${want.length} of SORT (DATE) ${head(want)}`);
              uids = got!;
              measuredOut = r.measured;
              checks.push(`PARTIAL 1:${PAGE} equals the first ${want.length} UIDs of the server's SORT (DATE)`);
              detail = `${n} msgs, ${uids.length} UIDs returned`;
            } else {
              unsupported.add(name);
              ctx.log(`${spec.id} ${name}: ${spec.command} answered ${r.value.status} ${r.value.text}: timing ${FALLBACK} instead`);
            }
          }
          if (unsupported.has(name)) {
            const r = await ctx.measure(() => c.ok(FALLBACK));
            uids = orderedUids(r.value, 'SORT').slice(0, Math.min(PAGE, n));
            check(uids.length === want.length && uids.every((u, i) => u === want[i]), 'SORT (DATE) answered differently on the same unchanged mailbox');
            measuredOut = r.measured;
            checks.push(`PARTIAL not supported: timed ${FALLBACK}, its first ${want.length} UIDs kept`);
            detail = `PARTIAL not supported: ${FALLBACK} (${n} UIDs) for the first ${want.length}`;
          }
        } else {
          const r = await ctx.measure(() => c.ok(spec.command));
          measuredOut = r.measured;
          uids = orderedUids(r.value, spec.kind === 'thread' ? 'THREAD' : 'SORT');
          check(allOnce(uids, n), `${spec.command} returned ${uids.length} UIDs ${head(uids)}, expected each of 1..${n} once`);
          checks.push(`each UID 1..${n} exactly once`);
          if (spec.kind === 'thread') {
            threads = threadCount(r.value);
            detail = `${n} msgs in ${threads} threads`;
          } else detail = `${n} msgs sorted`;
          if (spec.id === 'sort-arrival') {
            const { order: want, epoch, early } = arrivalOrder(ctx.cfg);
            earlyCount = early;
            const got = early ? uids.filter((u) => epoch.has(u)) : uids;
            const at = got.findIndex((u, i) => u !== want[i]);
            check(at < 0, `ARRIVAL order differs from the internal dates at position ${at + 1}${early ? ' (messages from 1970 on)' : ''}: UID ${got[at]}, expected ${want[at]}`);
            checks.push(early ? `ARRIVAL order equals the internal-date order of the corpus for the ${want.length} messages dated from 1970 on` : 'ARRIVAL order equals the internal-date order of the corpus');
          }
        }
      } finally {
        await c.logout().catch(() => c.destroy());
      }
      // Cross-server check against the other server's answer in the same run.
      let seen = answers.get(spec.id);
      if (!seen) answers.set(spec.id, (seen = new Map()));
      seen.set(name, { run: ctx.run, uids: uids!, ...(threads !== undefined ? { threads } : {}) });
      const other = [...seen.entries()].find(([k, v]) => k !== name && v.run === ctx.run);
      if (other) {
        const o = other[1].uids;
        check(o.length === uids!.length, `${name} returned ${uids!.length} UIDs, ${other[0]} ${o.length}`);
        checks.push('same number of UIDs on both servers');
        if (spec.id === 'sort-arrival') {
          // Both equal the corpus order of the messages from 1970 on (checked above); before that, compare all.
          if (earlyCount === 0) {
            const at = o.findIndex((u, i) => u !== uids![i]);
            check(at < 0, `ARRIVAL order differs between the servers at position ${at + 1}: ${name} UID ${uids![at]}, ${other[0]} UID ${o[at]}`);
          }
          checks.push(earlyCount ? 'same ARRIVAL order on both servers for the messages dated from 1970 on' : 'same ARRIVAL order on both servers');
        }
      }
      if (!measuredOut) throw new ImapError(`${spec.command}: nothing measured`);
      return { measured: measuredOut, detail: detail!, checks };
    },
    compare(): string | null {
      const seen = answers.get(spec.id);
      answers.delete(spec.id);
      const notes: string[] = [];
      if (spec.kind === 'partial') {
        for (const t of unsupported) notes.push(`${t === 'dovecot' ? 'Dovecot' : t} does not support PARTIAL (${spec.command}): its side of "${spec.title}" times ${FALLBACK}, which a client sends instead for the same first page.`);
        unsupported.clear();
      }
      if (spec.id === 'sort-arrival' && earlyCount > 0) {
        notes.push(`SORT ARRIVAL: ${earlyCount} of the big mailbox's messages have internal dates before 1970, which Dovecot 2.3 does not order by their dates (they come first in its ARRIVAL order), so the ARRIVAL order is checked on the messages dated from 1970 on.`);
      }
      const m = seen?.get('mailroom');
      const d = seen?.get('dovecot');
      if (spec.kind === 'thread' && m?.threads !== undefined && d?.threads !== undefined) {
        notes.push(`THREAD REFERENCES (informational): mailroom ${m.threads} threads, Dovecot ${d.threads} threads over ${m.uids.length} messages.`);
      }
      return notes.length ? notes.join(' ') : null;
    },
  };
}

export const imapSort: Workload[] = SPECS.map(sortWorkload);
