/**
 * Client benchmark: mailroom's client engine against Debian's reference clients, same Dovecot, same run.
 *
 *   node --import tsx bench/client.ts [--pop3 N] [--imap N] [--runs R] [--max-size BYTES] [--json]
 *
 * - POP3 download-and-delete of N messages: `mailroom client sync` (engine in-process, every message
 *   fsynced into a Maildir before DELE; and again with fsync off) vs fetchmail (--bsmtp to one file, which
 *   fetchmail never fsyncs). The mailbox is refilled before every run.
 * - IMAP full sync of an N-message INBOX into a local Maildir: the engine with --cache all (header overview
 *   and bodies) vs mbsync (Sync Pull into a Maildir), both with and without fsync. Each run starts empty.
 * Runs alternate (mailroom, reference, mailroom, ...); medians and the ratio mailroom / reference are printed
 * (below 1 = mailroom faster).
 */
import { parseArgs } from 'node:util';
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync, readdirSync, existsSync, statSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateMessage } from './corpus.js';
import { startDovecot, dovecotAvailable, type Dovecot } from '../support/dovecot.js';
import { ClientEngine } from '../src/client/engine.js';
import type { Pop3Report } from '../src/client/pop3/fetch.js';
import type { ImapReport } from '../src/client/imap/syncer.js';

const { values } = parseArgs({
  options: {
    pop3: { type: 'string', default: '1000' },
    imap: { type: 'string', default: '1000' },
    runs: { type: 'string', default: '3' },
    'max-size': { type: 'string', default: String(256 * 1024) },
    json: { type: 'boolean', default: false },
  },
});
const POP3_N = Number(values.pop3);
const IMAP_N = Number(values.imap);
const RUNS = Number(values.runs);
const MAX_SIZE = Number(values['max-size']);
const PW = 'benchpw';

function log(s: string): void {
  process.stderr.write(s + '\n');
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number; out: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (out += d.toString()));
    p.once('error', reject);
    p.once('close', (code) => resolve({ code: code ?? 1, out }));
  });
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

function countFiles(dir: string): number {
  let n = 0;
  for (const sub of ['new', 'cur']) if (existsSync(join(dir, sub))) n += readdirSync(join(dir, sub)).length;
  return n;
}

async function fill(dc: Dovecot, user: string, msgs: Buffer[]): Promise<void> {
  for (const m of msgs) await dc.deliver(user, m);
  // Let Dovecot index the new files now, so neither client pays for it.
  await dc.doveadm(['mailbox', 'status', '-u', user, 'messages', 'INBOX']);
}

async function mailroomPop3(dc: Dovecot, msgs: Buffer[], fsync: boolean): Promise<number> {
  await fill(dc, 'popbench', msgs);
  const prof = mkdtempSync(join(tmpdir(), 'mailroom-bench-client-'));
  const e = new ClientEngine({ profileDir: prof, passwords: { env: { BENCH_PW: PW } }, fsync });
  e.addAccount({ name: 'b', protocol: 'pop3', host: '127.0.0.1', port: dc.pop3Port, user: 'popbench', password: { kind: 'env', name: 'BENCH_PW' } });
  const t = process.hrtime.bigint();
  const rep = (await e.syncAccount('b')) as Pop3Report;
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  if (rep.downloaded !== msgs.length || countFiles(e.inbox.root) !== msgs.length) throw new Error(`mailroom POP3 downloaded ${rep.downloaded}/${msgs.length}`);
  e.close();
  rmSync(prof, { recursive: true, force: true });
  return ms;
}

async function pop3Bench(dc: Dovecot, msgs: Buffer[]): Promise<{ mailroom: number[]; mailroomNoFsync: number[]; fetchmail: number[] }> {
  const res = { mailroom: [] as number[], mailroomNoFsync: [] as number[], fetchmail: [] as number[] };
  for (let r = 0; r < RUNS; r++) {
    res.mailroom.push(await mailroomPop3(dc, msgs, true));
    res.mailroomNoFsync.push(await mailroomPop3(dc, msgs, false));
    let t: bigint;
    // fetchmail
    await fill(dc, 'popbench', msgs);
    const fdir = mkdtempSync(join(tmpdir(), 'mailroom-bench-fetchmail-'));
    const rc = join(fdir, 'fetchmailrc');
    writeFileSync(rc, `set no bouncemail\npoll 127.0.0.1 with proto POP3 port ${dc.pop3Port} auth password\n  user "popbench" there with password "${PW}" is "root" here options fetchall nokeep sslproto ''\n`);
    chmodSync(rc, 0o600);
    const out = join(fdir, 'mail.bsmtp');
    t = process.hrtime.bigint();
    const fm = await run('/usr/bin/fetchmail', ['-f', rc, '--bsmtp', out, '--nosyslog', '--pidfile', join(fdir, 'pid'), '--idfile', join(fdir, 'ids'), '-s'], { ...process.env, FETCHMAILHOME: fdir, HOME: fdir });
    res.fetchmail.push(Number(process.hrtime.bigint() - t) / 1e6);
    if (fm.code !== 0 && fm.code !== 1) throw new Error(`fetchmail exited ${fm.code}: ${fm.out}`);
    const left = await dc.doveadm(['mailbox', 'status', '-u', 'popbench', 'messages', 'INBOX']);
    if (!/messages=0/.test(left) || !existsSync(out) || statSync(out).size < msgs.reduce((n, m) => n + m.length, 0)) throw new Error(`fetchmail did not download everything: ${left} ${fm.out}`);
    rmSync(fdir, { recursive: true, force: true });
    log(`pop3 run ${r + 1}: mailroom ${res.mailroom.at(-1)?.toFixed(0)} ms (no fsync ${res.mailroomNoFsync.at(-1)?.toFixed(0)} ms), fetchmail ${res.fetchmail.at(-1)?.toFixed(0)} ms`);
  }
  return res;
}

async function mailroomImap(dc: Dovecot, n: number, fsync: boolean): Promise<number> {
  const prof = mkdtempSync(join(tmpdir(), 'mailroom-bench-client-'));
  const e = new ClientEngine({ profileDir: prof, passwords: { env: { BENCH_PW: PW } }, fsync });
  e.addAccount({ name: 'b', protocol: 'imap', host: '127.0.0.1', port: dc.imapPort, user: 'imapbench', password: { kind: 'env', name: 'BENCH_PW' }, cache: 'all' });
  const t = process.hrtime.bigint();
  const rep = (await e.syncAccount('b', ['INBOX'])) as ImapReport;
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  if (rep.bodiesFetched !== n || countFiles(e.imapFolder('b', 'INBOX').root) !== n) throw new Error(`mailroom IMAP fetched ${rep.bodiesFetched}/${n}`);
  e.close();
  rmSync(prof, { recursive: true, force: true });
  return ms;
}

async function mbsyncImap(dc: Dovecot, n: number, fsync: boolean): Promise<number> {
  const mdir = mkdtempSync(join(tmpdir(), 'mailroom-bench-mbsync-'));
  const rc = join(mdir, 'mbsyncrc');
  mkdirSync(join(mdir, 'mail'));
  writeFileSync(
    rc,
    [
      `FSync ${fsync ? 'yes' : 'no'}`,
      '',
      'IMAPAccount b',
      'Host 127.0.0.1',
      `Port ${dc.imapPort}`,
      'User imapbench',
      `Pass ${PW}`,
      'SSLType None',
      'AuthMechs PLAIN',
      '',
      'IMAPStore b-far',
      'Account b',
      '',
      'MaildirStore b-near',
      `Path ${mdir}/mail/`,
      `Inbox ${mdir}/mail/INBOX`,
      '',
      'Channel b',
      'Far :b-far:',
      'Near :b-near:',
      'Patterns INBOX',
      'Create Near',
      'Sync Pull',
      'SyncState *',
      '',
    ].join('\n'),
  );
  const t = process.hrtime.bigint();
  const mb = await run('/usr/bin/mbsync', ['-q', '-c', rc, 'b'], { ...process.env, HOME: mdir });
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  if (mb.code !== 0) throw new Error(`mbsync exited ${mb.code}: ${mb.out}`);
  const got = countFiles(join(mdir, 'mail', 'INBOX'));
  if (got !== n) throw new Error(`mbsync stored ${got}/${n}`);
  rmSync(mdir, { recursive: true, force: true });
  return ms;
}

async function imapBench(dc: Dovecot, msgs: Buffer[]): Promise<{ mailroom: number[]; mbsync: number[]; mailroomNoFsync: number[]; mbsyncNoFsync: number[] }> {
  const res = { mailroom: [] as number[], mbsync: [] as number[], mailroomNoFsync: [] as number[], mbsyncNoFsync: [] as number[] };
  await fill(dc, 'imapbench', msgs);
  for (let r = 0; r < RUNS; r++) {
    res.mailroom.push(await mailroomImap(dc, msgs.length, true));
    res.mbsync.push(await mbsyncImap(dc, msgs.length, true));
    res.mailroomNoFsync.push(await mailroomImap(dc, msgs.length, false));
    res.mbsyncNoFsync.push(await mbsyncImap(dc, msgs.length, false));
    log(
      `imap run ${r + 1}: mailroom ${res.mailroom.at(-1)?.toFixed(0)} ms, mbsync ${res.mbsync.at(-1)?.toFixed(0)} ms; no fsync: mailroom ${res.mailroomNoFsync.at(-1)?.toFixed(0)} ms, mbsync ${res.mbsyncNoFsync.at(-1)?.toFixed(0)} ms`,
    );
  }
  return res;
}

async function main(): Promise<void> {
  const why = dovecotAvailable();
  if (why) throw new Error(why);
  for (const tool of ['/usr/bin/fetchmail', '/usr/bin/mbsync']) if (!existsSync(tool)) throw new Error(`${tool} is not installed`);
  const n = Math.max(POP3_N, IMAP_N);
  const corpus = Array.from({ length: n }, (_, i) => generateMessage({ seed: 42, maxSize: MAX_SIZE, bigEvery: 0 }, i).raw);
  const bytes = (k: number) => corpus.slice(0, k).reduce((s, m) => s + m.length, 0);
  const dc = await startDovecot({ users: [{ user: 'popbench', password: PW }, { user: 'imapbench', password: PW }], extraConfig: 'mail_fsync = optimized' });
  try {
    const pop = POP3_N > 0 ? await pop3Bench(dc, corpus.slice(0, POP3_N)) : null;
    const imap = IMAP_N > 0 ? await imapBench(dc, corpus.slice(0, IMAP_N)) : null;
    const rows: Array<{ workload: string; messages: number; bytes: number; mailroomMs: number; referenceMs: number; reference: string; ratio: number }> = [];
    const row = (workload: string, n: number, ours: number[], ref: number[], reference: string) =>
      rows.push({ workload, messages: n, bytes: bytes(n), mailroomMs: median(ours), referenceMs: median(ref), reference, ratio: median(ours) / median(ref) });
    if (pop) {
      row('POP3 download+delete (mailroom fsyncs)', POP3_N, pop.mailroom, pop.fetchmail, 'fetchmail 6.4 --bsmtp (no fsync)');
      row('POP3 download+delete (no fsync either side)', POP3_N, pop.mailroomNoFsync, pop.fetchmail, 'fetchmail 6.4 --bsmtp (no fsync)');
    }
    if (imap) {
      row('IMAP full sync (fsync)', IMAP_N, imap.mailroom, imap.mbsync, 'mbsync 1.4 Sync Pull, FSync yes');
      row('IMAP full sync (no fsync)', IMAP_N, imap.mailroomNoFsync, imap.mbsyncNoFsync, 'mbsync 1.4 Sync Pull, FSync no');
    }
    if (values.json) process.stdout.write(JSON.stringify({ runs: RUNS, rows, raw: { pop, imap } }, null, 2) + '\n');
    else {
      process.stdout.write(`| workload | messages | MB | mailroom (median ms) | reference | reference (median ms) | ratio |\n|---|---|---|---|---|---|---|\n`);
      for (const r of rows) {
        process.stdout.write(`| ${r.workload} | ${r.messages} | ${(r.bytes / 1048576).toFixed(1)} | ${r.mailroomMs.toFixed(0)} | ${r.reference} | ${r.referenceMs.toFixed(0)} | ${r.ratio.toFixed(2)} |\n`);
      }
    }
  } finally {
    await dc.stop();
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`bench/client: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});
