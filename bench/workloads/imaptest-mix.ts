/**
 * imaptest's default load mix against each server: Dovecot's imaptest in load mode (LOGIN, SELECT, FETCH,
 * STORE, APPEND, EXPUNGE, SEARCH, ... with state tracking), `CLIENTS` clients over `USERS` accounts for
 * `SECS` seconds. Both servers start with the same mailboxes (each account's INBOX holds `START` corpus
 * messages) and imaptest APPENDs from the same mbox of corpus messages. The run lasts a fixed time, so the
 * work is imaptest's command count (its `Totals:` block): speed compares commands per second, and the CPU
 * ratio commands per server CPU-second. Check: imaptest printed no `Error:` line (each is a protocol or
 * consistency error of the server) and exited 0. The accounts keep their state from run to run, as
 * imaptest expects of a live server.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateMessage } from '../corpus.js';
import { imaptestLatencies, imaptestMissing, imaptestTotals, runImaptest, writeMbox } from '../lib/imaptest-load.js';
import { check, corpusOptions, type BenchConfig, type RunContext, type RunOutcome, type UserSpec, type Workload } from '../lib/harness.js';
import { IMAPTEST_CORPUS_BASE } from './corpus-ranges.js';

interface MixSize {
  clients: number;
  users: number;
  secs: number;
  /** Messages in each INBOX at the start. */
  start: number;
  /** Messages in the mbox imaptest APPENDs from. */
  mbox: number;
}

const FULL: MixSize = { clients: 20, users: 100, secs: 15, start: 20, mbox: 200 };
const SMOKE: MixSize = { clients: 3, users: 4, secs: 3, start: 3, mbox: 10 };
/** imaptest keeps whole messages in memory and APPENDs them often: the 5 MB tail would only measure copying. */
const MBOX_MAX_MESSAGE = 256 * 1024;

function size(cfg: BenchConfig): MixSize {
  return cfg.smoke ? SMOKE : FULL;
}

function userPattern(cfg: BenchConfig): string {
  return `imt%d@${cfg.domain}`;
}

let mboxDir: string | null = null;

/** The mbox of corpus messages (written once per benchmark process, removed at exit). */
function mboxPath(cfg: BenchConfig): string {
  if (!mboxDir) {
    const dir = mkdtempSync(join(tmpdir(), 'bench-imaptest-'));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    const raws: Buffer[] = [];
    const first = IMAPTEST_CORPUS_BASE + size(cfg).users * size(cfg).start;
    for (let i = first; raws.length < size(cfg).mbox; i++) {
      const m = generateMessage(corpusOptions(cfg), i);
      if (m.raw.length <= MBOX_MAX_MESSAGE) raws.push(m.raw);
    }
    writeMbox(join(dir, 'corpus.mbox'), raws);
    mboxDir = dir;
  }
  return join(mboxDir, 'corpus.mbox');
}

export const imaptestMix: Workload = {
  id: 'imaptest-mix',
  title: 'imaptest default mix',
  metric: 'imaptest load mode (LOGIN, SELECT, FETCH, STORE, APPEND, EXPUNGE, SEARCH, ...), fixed time; work = commands',
  users(cfg: BenchConfig): UserSpec[] {
    const s = size(cfg);
    return Array.from({ length: s.users }, (_, k) => ({ address: userPattern(cfg).replace('%d', String(k + 1)), messages: { first: IMAPTEST_CORPUS_BASE + k * s.start, count: s.start } }));
  },
  async run(ctx: RunContext): Promise<RunOutcome> {
    const missing = imaptestMissing();
    if (missing) throw new Error(missing);
    const s = size(ctx.cfg);
    const mbox = mboxPath(ctx.cfg);
    const { value: r, measured } = await ctx.measure(() =>
      runImaptest({
        host: ctx.target.host,
        port: ctx.target.imapPort,
        user: userPattern(ctx.cfg),
        password: ctx.cfg.password,
        users: s.users,
        clients: s.clients,
        secs: s.secs,
        mbox,
        // The same random sequence for both servers.
        extra: [`seed=${ctx.cfg.seed + ctx.run}`],
      }),
    );
    check(r.errors.length === 0, `imaptest printed ${r.errors.length} Error line(s), e.g. ${r.errors.slice(0, 3).join(' | ')}`);
    check(r.exitCode === 0, `imaptest exited ${r.exitCode}: ${r.output.slice(-500)}`);
    const totals = imaptestTotals(r.output);
    check(totals !== null, `no Totals block in imaptest's output: ${r.output.slice(-500)}`);
    const commands = Object.values(totals!).reduce((a, b) => a + b, 0);
    check(commands > 0, 'imaptest ran no command');
    measured.work = commands;
    const ms = imaptestLatencies(r.output);
    const per = Object.entries(totals!).map(([k, v], i) => `${k} ${v}${ms?.[i] !== undefined ? ` ${ms[i]} ms` : ''}`).join(', ');
    return {
      measured,
      detail: `${commands} commands in ${(measured.ms / 1000).toFixed(1)} s, ${(commands / (measured.ms / 1000)).toFixed(0)}/s, ${(commands / measured.cpu).toFixed(0)} per server CPU-s (count and imaptest's last mean latency per command: ${per})`,
      checks: ['no imaptest Error line', 'imaptest exit 0'],
    };
  },
};
