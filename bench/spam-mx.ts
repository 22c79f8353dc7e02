/**
 * Everything on vs everything off on the SMTP MX: the mail authentication checks (SPF for MAIL FROM and HELO,
 * DKIM verification, DMARC, ARC, the Authentication-Results and Received-SPF fields) together with the spam
 * filter, against the same MX with the checks off and `--spam off`.
 *
 * Workload: the synthetic spam corpus (bench/spam-corpus.ts, about half spam) with its From domains folded
 * into `--senders` sender domains (default 50, as bench/mailauth.ts; 0 keeps the corpus's few thousand),
 * each message DKIM-signed (RSA 2048) for its From domain, sent from 127.0.0.1 with MAIL FROM at that domain and a HELO name under it.
 * Every From domain publishes SPF, DMARC p=reject and the key, on a DNS server on loopback (support/dns.ts),
 * so every check does its full work and passes. Every `--arc-every`th message arrives through a forwarder
 * that ARC-sealed it (i=1, forwarder.test), so the ARC chain is verified too. Both MX services run in this
 * process with the server's real stage list (server/stages.ts buildStages), each on its own SQLite store
 * (fsync on), and every recipient's filter is trained the same in both (`--train` messages). Runs alternate
 * off, on, off, on ... after a warm-up run of each (which also warms the resolver's cache); medians.
 *
 * Usage: npm run bench -- spam-mx [flags], or node --import tsx bench/spam-mx.ts [--messages N] [--connections N]
 *        [--recipients N] [--train N] [--runs N] [--arc-every N] [--senders N] [--checks 1|0] [--spam 1|0]
 *        [--threads N] [--threshold P] [--smoke] [--json] [--out DIR]
 * --threads: check-pool threads (mailauth/pool.ts) for the checks (SPF, DKIM, DMARC, ARC) and tokenizing; default the
 * server's default (CPUs less one), 0 checks everything in-process. --threshold: the filter's spam threshold (default 0.9;
 * above 1 nothing is filed into Junk, to see what filing costs).
 * The report also gives the round trips of the MX's check tasks on the pool and how many went to the thread per message,
 * and the appends per group commit of each side.
 * Writes <out>/spam-mx.md (default bench/results). Exit status 1 when a delivery fails, a message is missing,
 * or a message delivered with the checks on lacks dkim=pass and dmarc=pass.
 */
import { createPrivateKey } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createSmtpService } from '../src/delivery/index.js';
import { buildStages } from '../src/server/stages.js';
import { silentLogger } from '../src/lib/logger.js';
import { Authenticator } from '../src/auth/index.js';
import type { Store } from '../src/store/handle.js';
import { createResolver } from '../src/lib/dns.js';
import { checkPool, configurePool } from '../src/mailauth/pool.js';
import { createMxChecker, dkimRecordValue, generateDkimKey, sealMessage, signMessage, type MxChecker, type SigningKey } from '../src/mailauth/index.js';
import { startTestDns, type ZoneRecord } from '../support/dns.js';
import { alternate, deliverOver, parseBenchFlags, ratios, sideRow, type Delivery, type Side } from './lib/onoff.js';
import { spamCorpus } from './spam-corpus.js';
import { trainedStore } from './spam.js';

const HERE = dirname(fileURLToPath(import.meta.url));

interface Options {
  messages: number;
  connections: number;
  recipients: number;
  train: number;
  runs: number;
  arcEvery: number;
  /** Sender domains the From domains are folded into (0: the corpus's own, a few thousand). */
  senders: number;
  /** What the "on" MX runs: the checks (1/0) and the spam filter (1/0); both by default. */
  checks: number;
  spam: number;
  /** Check-pool threads (mailauth/pool.ts) for the checks and tokenizing; -1 the default size, 0 none (all in-process). */
  threads: number;
  /** Spam threshold of the filter (above 1: nothing is filed into Junk, to see what filing costs). */
  threshold: number;
  json: boolean;
  out: string;
}

function parseArgs(argv: string[]): Options {
  return parseBenchFlags<Options>(
    argv,
    { messages: 2000, connections: 10, recipients: 10, train: 400, runs: 3, arcEvery: 10, senders: 50, checks: 1, spam: 1, threads: -1, threshold: 0.9, json: false, out: join(HERE, 'results') },
    { messages: 60, connections: 4, recipients: 3, train: 40, runs: 1 },
  );
}

const rcpt = (k: number): string => `user${k}@bench.test`;
const HOST = 'mx.bench.test';

interface Outgoing extends Delivery {
  helo: string;
}

const FROM_DOMAIN = /^(From:[^\r\n]*?@)([A-Za-z0-9.-]+)/im;

/**
 * The message with its From domain folded into one of `senders` domains (by a hash of the domain, so a
 * corpus domain always maps to the same sender), and that domain; with 0, as it is.
 */
function withSender(raw: Buffer, senders: number): { raw: Buffer; domain: string } {
  const end = raw.indexOf('\r\n\r\n');
  const head = raw.toString('latin1', 0, end);
  const m = FROM_DOMAIN.exec(head);
  const own = m ? m[2]!.toLowerCase() : 'unknown.example';
  if (!senders || !m) return { raw, domain: own };
  let h = 0;
  for (let i = 0; i < own.length; i++) h = (h * 31 + own.charCodeAt(i)) >>> 0;
  const domain = `sender${h % senders}.test`;
  return { raw: Buffer.concat([Buffer.from(head.replace(FROM_DOMAIN, `$1${domain}`), 'latin1'), raw.subarray(end)]), domain };
}

/** The messages of every run, signed for their From domains, and the zone that makes them pass. */
function prepare(o: Options): { runs: Outgoing[][]; zone: ZoneRecord[] } {
  const k = generateDkimKey('rsa');
  const key = createPrivateKey(k.privateKey);
  const record = dkimRecordValue({ algorithm: 'rsa', publicKey: k.publicKey });
  const fwd = generateDkimKey('rsa');
  const fwdKey: SigningKey = { domain: 'forwarder.test', selector: 'arc1', algorithm: 'rsa', key: createPrivateKey(fwd.privateKey) };
  const zone: ZoneRecord[] = [['arc1._domainkey.forwarder.test', 'TXT', dkimRecordValue({ algorithm: 'rsa', publicKey: fwd.publicKey })]];
  const domains = new Set<string>();
  const corpus = spamCorpus(o.messages * (o.runs + 1), 202);
  const all = corpus.map((m, i): Outgoing => {
    const folded = withSender(m.raw, o.senders);
    const domain = folded.domain;
    domains.add(domain);
    let raw = signMessage(folded.raw, [{ domain, selector: 's1', algorithm: 'rsa', key }]);
    if (o.arcEvery > 0 && i % o.arcEvery === o.arcEvery - 1) {
      raw = sealMessage(raw, fwdKey, `forwarder.test; dkim=pass header.d=${domain}; spf=pass smtp.mailfrom=${domain}`, 'none');
    }
    return { from: `sender@${domain}`, to: [rcpt(i % o.recipients)], helo: `mail.${domain}`, raw };
  });
  for (const d of domains) {
    zone.push([d, 'TXT', 'v=spf1 ip4:127.0.0.0/8 -all'], [`_dmarc.${d}`, 'TXT', 'v=DMARC1; p=reject'], [`s1._domainkey.${d}`, 'TXT', record], [`mail.${d}`, 'A', '127.0.0.1']);
  }
  const runs = Array.from({ length: o.runs + 1 }, (_x, r) => all.slice(r * o.messages, (r + 1) * o.messages));
  return { runs, zone };
}

/** Messages stored per user (INBOX and Junk), and how many carry dkim=pass and dmarc=pass in our field. */
async function countStored(store: Store, o: Options): Promise<{ total: number; passing: number; junk: number; arcPass: number }> {
  let total = 0;
  let passing = 0;
  let junk = 0;
  let arcPass = 0;
  for (let k = 0; k < o.recipients; k++) {
    const user = (await store.directory.getUser(rcpt(k)))!;
    for (const name of ['INBOX', 'Junk']) {
      const box = await store.mail.getMailbox(user.id, name);
      if (!box) continue;
      const list = await store.mail.listMessages(box.id);
      total += list.length;
      if (name === 'Junk') junk += list.length;
      for (const m of list) {
        const head = (await store.mail.readBytes(box.id, m.uid, { start: 0, end: 8192 })).toString('latin1');
        const ours = /Authentication-Results: mx\.bench\.test;[^]*?(?=\r\n\S)/.exec(head)?.[0] ?? '';
        if (/dkim=pass/.test(ours) && /dmarc=pass/.test(ours)) passing++;
        if (/\barc=pass/.test(ours)) arcPass++;
      }
    }
  }
  return { total, passing, junk, arcPass };
}

export async function spamMxBench(argv: string[]): Promise<void> {
  const o = parseArgs(argv);
  if (o.threads >= 0) configurePool({ size: o.threads });
  const { runs, zone } = prepare(o);
  const dns = await startTestDns({ records: zone });
  const dirs: string[] = [];
  const stores: Store[] = [];
  const lines: string[] = [];
  let failed = false;
  try {
    const training = spamCorpus(o.train, 101);
    const services: Array<Side & { svc: { close(): Promise<void> }; store: Store }> = [];
    let checker: MxChecker | null = null;
    for (const on of [false, true]) {
      const { dir, store } = await trainedStore('mailroom-bench-spam-mx-', o.recipients, training);
      dirs.push(dir);
      stores.push(store);
      const stages = buildStages({ store, logger: silentLogger, hostname: HOST, dataDir: dir, spam: { enabled: on && o.spam > 0, threshold: o.threshold } });
      const resolver = createResolver({ servers: [{ host: '127.0.0.1', port: dns.port }], cacheSize: 50_000 });
      if (on && o.checks > 0) checker = createMxChecker({ hostname: HOST, resolver });
      const svc = createSmtpService({
        store,
        auth: new Authenticator(store.directory, { failureDelayMs: 0 }),
        hostname: HOST,
        stages,
        ...(on && checker ? { mxChecks: checker } : {}),
      });
      const port = (await svc.listen({ host: '127.0.0.1', port: 0, implicitTls: false })).port;
      services.push({ on, svc, port, store, times: [], cpu: [] });
    }
    // Connection c greets with the HELO name of the first run's message c in every run (a sending host keeps its name).
    const helo = (c: number): string => runs[0]![c % runs[0]!.length]!.helo;
    const pool = await warmPool(checker, runs[0]!);
    const trips = timeTrips();
    const posts0 = checkPool().posts;
    const commits = new Map<boolean, { commits: number; grouped: number }>();
    await alternate(services, o.runs, (run) => runs[run]!, async (s, msgs) => {
      const before = storeStats(s.store);
      const ms = await deliverOver(s.port, msgs, { connections: o.connections, ehlo: true, helo });
      const after = storeStats(s.store);
      const c = commits.get(s.on) ?? { commits: 0, grouped: 0 };
      if (before && after) commits.set(s.on, { commits: c.commits + after.commits - before.commits, grouped: c.grouped + after.grouped - before.grouped });
      return ms;
    }, 'spam-mx bench');
    const poolMs = pool.cpu0 === null ? null : await poolCpu(pool.cpu0);
    const expected = (o.runs + 1) * o.messages;
    const counts = [];
    for (const s of services) {
      await s.svc.close();
      const c = await countStored(s.store, o);
      counts.push(c);
      if (c.total !== expected || (s.on && o.checks > 0 && c.passing !== expected)) {
        failed = true;
        lines.push(`CHECK FAILED (everything ${s.on ? 'on' : 'off'}): ${c.total} stored of ${expected}, ${c.passing} with dkim=pass and dmarc=pass`);
      }
    }
    const [off, on] = services as [(typeof services)[0], (typeof services)[0]];
    const { ratio, cpuRatio, loopRatio } = ratios(off, on);
    const bytes = runs[1]!.reduce((a, m) => a + m.raw.length, 0);
    const when = new Date().toISOString().replace('T', ' ').slice(0, 16);
    const onLabel = o.checks && o.spam ? 'everything on (SPF x2, DKIM, DMARC, ARC, spam filter)' : o.checks ? 'checks on (SPF x2, DKIM, DMARC, ARC), `--spam off`' : 'spam filter on, no checks';
    lines.unshift(
      `# Mail authentication and spam filter together, ${when} UTC`,
      '',
      `SMTP MX delivery of ${o.messages} spam-corpus messages (${(bytes / 1048576).toFixed(1)} MB) per run, From domains folded into ${o.senders || 'the corpus\'s own'} sender domains, each DKIM-signed (RSA 2048) for its From domain, every ${o.arcEvery}th ARC-sealed by a forwarder, to ${o.recipients} trained users over ${o.connections} connections; ${o.runs} measured runs after a warm-up run of each, alternating; medians. DNS on loopback; SQLite store with fsync on; the real stage list.`,
      '',
      '| MX | median time | throughput | CPU per message | event loop CPU per message | runs |',
      '|---|---:|---:|---:|---:|---|',
      sideRow('everything off (no checks, `--spam off`)', off, o.messages, true),
      sideRow(onLabel, on, o.messages, true),
      '',
      'CPU per message: this process (servers, load generator and check-pool threads together), user + system time over the run; event loop: the thread that runs the servers, the store and the load generator (what bounds throughput while other CPUs are free).',
      '',
      `Throughput ${o.checks && o.spam ? 'with everything on' : 'with ' + (o.checks ? 'the checks' : 'the filter') + ' on'} / off: **${ratio.toFixed(2)}x** (goal at least 0.8x); CPU per message off / on ${cpuRatio.toFixed(2)}x${loopRatio === null ? '' : `; event-loop CPU per message off / on ${loopRatio.toFixed(2)}x`}. With it on, ${counts[1]!.junk} of ${expected} deliveries were filed into Junk; ${counts[1]!.arcPass} carried arc=pass.`,
      '',
      `Check-pool threads: ${checkPool().available ? `${checkPool().size} (${checkPool().started} started)` : 'none (all checks in-process)'}${poolMs === null ? '' : `; the check-pool thread's CPU per message with everything on, over all ${o.runs + 1} runs: ${(poolMs / ((o.runs + 1) * o.messages)).toFixed(2)} ms`}.`,
      '',
      ...tripLines(trips, checkPool().posts - posts0),
      `Group commits of the store (every run): ${[false, true].map((on) => { const c = commits.get(on); return c ? `${on ? 'on' : 'off'} ${(c.grouped / Math.max(1, c.commits)).toFixed(1)} appends per commit` : ''; }).filter(Boolean).join(', ') || 'not counted'}.`,
      '',
      `Host: ${cpus().length} CPUs, Node ${process.versions.node}, load average ${loadavg()[0]!.toFixed(1)} at the end.`,
    );
    const md = lines.join('\n') + '\n';
    mkdirSync(o.out, { recursive: true });
    writeFileSync(join(o.out, 'spam-mx.md'), md);
    process.stdout.write(o.json ? JSON.stringify({ off: off.times, on: on.times, offCpu: off.cpu, onCpu: on.cpu, offLoop: off.loop ?? null, onLoop: on.loop ?? null, poolMs, ratio, cpuRatio, loopRatio, counts }, null, 2) + '\n' : md);
  } finally {
    for (const s of stores) await s.close().catch(() => undefined);
    for (const d of dirs) await rm(d, { recursive: true, force: true });
    await dns.stop();
  }
  if (failed) process.exitCode = 1;
}

/** The store's group-commit counters (the SQLite store has them), or null. */
function storeStats(store: Store): { commits: number; grouped: number } | null {
  const st = (store as { stats?: { commits: number; grouped: number } }).stats;
  return st ? { commits: st.commits, grouped: st.grouped } : null;
}

/**
 * Starts the check-pool thread and loads its check code with a few messages checked (not delivered), so
 * that its CPU time read afterwards counts deliveries only; that reading (ms), or null without one thread.
 */
async function warmPool(checker: MxChecker | null, msgs: readonly Outgoing[]): Promise<{ cpu0: number | null }> {
  const pool = checkPool();
  if (!checker || !pool.available || pool.size !== 1) return { cpu0: null };
  for (const m of msgs.slice(0, 20)) await checker(m.raw, { ip: '127.0.0.1', helo: m.helo, mailFrom: m.from });
  return { cpu0: await pool.run('cpu', {}).catch(() => null) };
}

/** Round trips of the MX's check tasks on the pool (ms from run() to the answer), from now on. */
function timeTrips(): number[] {
  const pool = checkPool();
  const times: number[] = [];
  const run = pool.run.bind(pool);
  pool.run = ((kind, payload, transfer) => {
    const t0 = performance.now();
    const p = run(kind, payload, transfer);
    if (kind === 'inbound') void p.then(() => times.push(performance.now() - t0), () => undefined);
    return p;
  }) as typeof pool.run;
  return times;
}

/**
 * The report's line on the round trips timed by timeTrips (none: no line), with the messages that carried
 * tasks to the thread (`posts`): the MX delivers the messages of one answer together, so their appends tend
 * to share a group commit.
 */
function tripLines(trips: readonly number[], posts: number): string[] {
  if (!trips.length) return [];
  const sorted = [...trips].sort((a, b) => a - b);
  const at = (q: number): string => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!.toFixed(1);
  return [`Check tasks on the pool (every run with everything on): ${trips.length} round trips (run() to answer), median ${at(0.5)} ms, 90th percentile ${at(0.9)} ms; ${(trips.length / Math.max(1, posts)).toFixed(1)} tasks per message to the thread.`, ''];
}

/** CPU time (ms) of the check-pool thread since `cpu0`, or null when it cannot be read. */
async function poolCpu(cpu0: number): Promise<number | null> {
  const now = await checkPool().run('cpu', {}).catch(() => null);
  return now === null ? null : now - cpu0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  spamMxBench(process.argv.slice(2)).catch((e: unknown) => {
    process.stderr.write(`spam-mx bench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = 1;
  });
}
