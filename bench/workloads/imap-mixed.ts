/**
 * Workload 4 — IMAP mixed load: `mixedClients` concurrent clients, each on its own account, each running
 * `mixedCycles` cycles of what a desktop client does in a working session, one command at a time:
 *
 *   SELECT INBOX                                        1   (re-open the folder)
 *   UID FETCH <last 50> (UID FLAGS RFC822.SIZE INTERNALDATE BODY.PEEK[HEADER.FIELDS (...)])   1   (list)
 *   UID FETCH u BODY.PEEK[]  +  UID STORE u +FLAGS.SILENT (\Seen)                             4 + 4 (read)
 *   UID STORE u +FLAGS (\Flagged)                       1   (flag one)
 *   APPEND INBOX (\Seen) {n}                            1   (save a message)
 *   UID STORE u +FLAGS.SILENT (\Deleted)  +  EXPUNGE    1 + 1 (delete one)
 *   IDLE ... DONE                                       1   (wait for new mail; ended at once)
 *   NOOP                                                1
 *
 * The choice of messages is seeded, so both servers get the same commands. Measured: wall time until every
 * client has finished. Checks, per client and cycle: SELECT's EXISTS equals the tracked count, the list FETCH
 * returns the expected number of messages, every BODY.PEEK[] is byte-identical to the stored message
 * (original or APPENDed), EXPUNGE removes exactly one message; after the run UID SEARCH ALL equals the
 * tracked UID set and every message's FLAGS equal the tracked flags.
 */
import { generateMessage, rng, sha256 } from '../corpus.js';
import { ImapError, fetchLiterals, fetchNumber, isFetch, searchResult, selectInfo, type ImapConn } from '../lib/imap.js';
import { check, corpusIndexFor, corpusOptions, imapLogin, type BenchConfig, type RunContext, type RunOutcome, type UserSpec, type Workload } from '../lib/harness.js';

const HEADER_FIELDS = 'BODY.PEEK[HEADER.FIELDS (FROM TO CC SUBJECT DATE MESSAGE-ID REFERENCES IN-REPLY-TO CONTENT-TYPE)]';
const APPEND_FIRST_INDEX = 3_000_000;

function mixUser(cfg: BenchConfig, k: number): string {
  return `mix${k}@${cfg.domain}`;
}

interface ClientState {
  live: number[];
  /** SHA-256 of messages this benchmark appended, by UID. */
  appended: Map<number, string>;
  /** Expected system flags per live UID (\Seen, \Flagged, ...; never \Recent). */
  flags: Map<number, Set<string>>;
}

/** Tracked mailbox state per server and user, carried from run to run. */
const states = new Map<string, ClientState>();

function stateOf(ctx: RunContext, user: string, initial: number): ClientState {
  const key = `${ctx.target.name}\u0000${user}`;
  let s = states.get(key);
  if (!s) {
    const corpus = corpusIndexFor(ctx.cfg);
    const flags = new Map<number, Set<string>>();
    for (let uid = 1; uid <= initial; uid++) flags.set(uid, new Set(corpus.info(uid - 1).flags));
    s = { live: Array.from({ length: initial }, (_, i) => i + 1), appended: new Map(), flags };
    states.set(key, s);
  }
  return s;
}

/** Checks every message's FLAGS against the tracked state (one UID FETCH 1:* (FLAGS)). */
async function checkFlags(c: ImapConn, st: ClientState, who: string): Promise<number> {
  const res = await c.ok('UID FETCH 1:* (UID FLAGS)');
  let n = 0;
  for (const u of res.untagged.filter(isFetch)) {
    const uid = fetchNumber(u.text, 'UID');
    const m = /FLAGS \(([^)]*)\)/i.exec(u.text);
    if (uid === null || !m) continue;
    const got = m[1]!.split(' ').filter((f) => f && f.toLowerCase() !== '\\recent').map((f) => f.toLowerCase()).sort().join(' ');
    const want = [...(st.flags.get(uid) ?? [])].map((f) => f.toLowerCase()).sort().join(' ');
    check(got === want, `${who}: UID ${uid} has FLAGS (${got}), expected (${want})`);
    n++;
  }
  check(n === st.live.length, `${who}: FLAGS fetched for ${n} messages, expected ${st.live.length}`);
  return n;
}

interface Tally {
  commands: number;
  verifiedBodies: number;
}

async function cycle(ctx: RunContext, c: ImapConn, st: ClientState, r: () => number, client: number, cyc: number, tally: Tally): Promise<void> {
  const corpus = corpusIndexFor(ctx.cfg);
  const pick = (): number => st.live[Math.floor(r() * st.live.length)]!;
  const sel = await c.ok('SELECT INBOX');
  check(selectInfo(sel).exists === st.live.length, `mix${client} cycle ${cyc}: SELECT EXISTS ${selectInfo(sel).exists}, expected ${st.live.length}`);
  const first = st.live[Math.max(0, st.live.length - 50)]!;
  const list = await c.ok(`UID FETCH ${first}:* (UID FLAGS RFC822.SIZE INTERNALDATE ${HEADER_FIELDS})`);
  const want = Math.min(50, st.live.length);
  check(list.untagged.filter(isFetch).length === want, `mix${client} cycle ${cyc}: list FETCH returned ${list.untagged.filter(isFetch).length}, expected ${want}`);
  tally.commands += 2;
  for (let i = 0; i < 4; i++) {
    const u = pick();
    const res = await c.ok(`UID FETCH ${u} BODY.PEEK[]`);
    const row = res.untagged.find(isFetch);
    const body = row ? fetchLiterals(row).get('BODY[]') : undefined;
    check(body !== undefined, `mix${client}: UID ${u} BODY[] missing`);
    const expect = u <= ctx.cfg.sizes.mixedMailbox ? corpus.info(u - 1).sha256 : st.appended.get(u);
    if (expect !== undefined) {
      check(sha256(body!) === expect, `mix${client}: UID ${u} BODY[] (${body!.length} octets) differs from the stored message`);
      tally.verifiedBodies++;
    }
    await c.ok(`UID STORE ${u} +FLAGS.SILENT (\\Seen)`);
    st.flags.get(u)?.add('\\Seen');
    tally.commands += 2;
  }
  const flagged = pick();
  await c.ok(`UID STORE ${flagged} +FLAGS (\\Flagged)`);
  st.flags.get(flagged)?.add('\\Flagged');
  const msg = generateMessage(corpusOptions(ctx.cfg), APPEND_FIRST_INDEX + ((ctx.run * 1000 + client) * 1000 + cyc));
  const app = await c.ok('APPEND INBOX (\\Seen)', { literal: msg.raw });
  const au = /\[APPENDUID \d+ (\d+)\]/i.exec(app.text);
  let newUid: number;
  if (au) newUid = Number(au[1]);
  else {
    const s = searchResult(await c.ok(`UID SEARCH HEADER MESSAGE-ID "${msg.info.messageId}"`));
    check(s.length === 1, `mix${client}: appended ${msg.info.messageId} found ${s.length} times`);
    newUid = s[0]!;
  }
  check(newUid > (st.live[st.live.length - 1] ?? 0), `mix${client}: APPEND got UID ${newUid}, not above the previous highest`);
  st.live.push(newUid);
  st.appended.set(newUid, msg.info.sha256);
  st.flags.set(newUid, new Set(['\\Seen']));
  let victim = pick();
  if (victim === newUid && st.live.length > 1) victim = st.live[0]!;
  await c.ok(`UID STORE ${victim} +FLAGS.SILENT (\\Deleted)`);
  const ex = await c.ok('EXPUNGE');
  const gone = ex.untagged.filter((u) => /^\* \d+ EXPUNGE/i.test(u.text)).length;
  check(gone === 1, `mix${client}: EXPUNGE removed ${gone} messages, expected 1`);
  st.live.splice(st.live.indexOf(victim), 1);
  st.appended.delete(victim);
  st.flags.delete(victim);
  const idle = await c.idle();
  const done = await idle.done();
  if (done.status !== 'OK') throw new ImapError(`IDLE ended with ${done.status} ${done.text}`);
  await c.ok('NOOP');
  tally.commands += 7;
}

/** The mixed load with `clientsOf(cfg)` clients (users mix0.. are shared between the variants; their state carries over). */
function mixedWorkload(id: string, title: string, clientsOf: (cfg: BenchConfig) => number): Workload {
  return {
    id,
    title,
    metric: 'clients x cycles of SELECT, FETCH headers, BODY.PEEK[], STORE, APPEND, EXPUNGE, IDLE',
    users(cfg: BenchConfig): UserSpec[] {
      return Array.from({ length: clientsOf(cfg) }, (_, k) => ({ address: mixUser(cfg, k), messages: { first: 0, count: cfg.sizes.mixedMailbox } }));
    },
    run: (ctx: RunContext) => runMixed(ctx, clientsOf(ctx.cfg)),
  };
}

async function runMixed(ctx: RunContext, clients: number): Promise<RunOutcome> {
  const { cfg } = ctx;
  const conns: ImapConn[] = [];
  const sts: ClientState[] = [];
  for (let k = 0; k < clients; k++) {
    const c = await imapLogin(ctx, mixUser(cfg, k), k);
    const st = stateOf(ctx, mixUser(cfg, k), cfg.sizes.mixedMailbox);
    await c.ok('EXAMINE INBOX');
    const all = searchResult(await c.ok('UID SEARCH ALL'));
    check(all.length === st.live.length && all.every((u, i) => u === st.live[i]), `mix${k}: mailbox holds ${all.length} UIDs before the run, expected ${st.live.length}`);
    conns.push(c);
    sts.push(st);
  }
  const tally: Tally = { commands: 0, verifiedBodies: 0 };
  const { measured } = await ctx.measure(async () => {
    await Promise.all(
      conns.map(async (c, k) => {
        const r = rng(cfg.seed * 7919 + ctx.run * 131 + k);
        for (let cyc = 0; cyc < cfg.sizes.mixedCycles; cyc++) await cycle(ctx, c, sts[k]!, r, k, cyc, tally);
      }),
    );
  });
  let flagsChecked = 0;
  for (const [k, c] of conns.entries()) {
    const all = searchResult(await c.ok('UID SEARCH ALL'));
    const st = sts[k]!;
    check(all.length === st.live.length && all.every((u, i) => u === st.live[i]), `mix${k}: after the run the mailbox holds ${all.length} UIDs, expected ${st.live.length}`);
    flagsChecked += await checkFlags(c, st, `mix${k}`);
    await c.logout();
  }
  const secs = measured.ms / 1000;
  return {
    measured,
    detail: `${clients} clients x ${cfg.sizes.mixedCycles} cycles, ${tally.commands} commands, ${(tally.commands / secs).toFixed(0)} cmd/s`,
    checks: [`${tally.verifiedBodies} BODY[] byte-identical`, 'EXISTS and UID sets match the tracked state', 'each EXPUNGE removed exactly one message', `FLAGS of all ${flagsChecked} messages as stored`],
  };
}

export const imapMixed: Workload = mixedWorkload('mixed', 'IMAP mixed load', (cfg) => cfg.sizes.mixedClients);

/** The same load with more clients (50 by default, `mixedWideClients`): the memory of both servers as sessions add up. */
export const imapMixedWide: Workload = mixedWorkload('mixed-50', 'IMAP mixed load, many clients', (cfg) => cfg.sizes.mixedWideClients);
