/**
 * Spam filter costs and accuracy:
 * - LMTP delivery throughput with the filter on and off. Two LMTP services run in this process, each on its
 *   own SQLite store (fsync on) with the server's real stage list (server/stages.ts buildStages, `spam:
 *   { enabled }` as `serve --spam on|off` sets it). Every recipient has a trained filter in both stores
 *   (`--train` corpus messages, half spam); with the filter on each delivery tokenizes the message, reads its token counts
 *   in one query, classifies it and files spam into Junk. The messages delivered are the synthetic spam
 *   corpus (bench/spam-corpus.ts: realistic sizes and MIME, about half spam), each to one of `--recipients`
 *   users round robin over `--senders` LMTP connections. Runs alternate off, on, off, on ... after a warm-up
 *   run of each; medians are reported with the on/off throughput ratio (goal: at least 0.8).
 * - Accuracy on the synthetic corpus (bench/spam-accuracy.ts): train on half, test on the other half.
 *
 * Usage: npm run bench -- spam [flags], or node --import tsx bench/spam.ts [--messages N] [--senders N] [--recipients N] [--train N] [--runs N]
 *        [--accuracy N] [--threshold P] [--smoke] [--json] [--out DIR]
 * Writes <out>/spam.md (default bench/results) and prints it. Exit status 1 when a delivery fails or a
 * message is missing afterwards.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir, cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLmtpService } from '../src/delivery/index.js';
import { openServerStore } from '../src/server/store.js';
import { buildStages } from '../src/server/stages.js';
import { silentLogger } from '../src/lib/logger.js';
import { Authenticator } from '../src/auth/index.js';
import type { Store } from '../src/store/handle.js';
import { SpamFilter } from '../src/spam/index.js';
import { alternate, deliverOver, median, parseBenchFlags, ratios, sideRow, type Delivery, type Side } from './lib/onoff.js';
import { spamCorpus, withAuthResults, type CorpusMessage } from './spam-corpus.js';
import { measureAccuracy } from './spam-accuracy.js';

const HERE = dirname(fileURLToPath(import.meta.url));

interface Options {
  messages: number;
  senders: number;
  recipients: number;
  train: number;
  runs: number;
  accuracy: number;
  /** Spam threshold of the filter (above 1: nothing is filed into Junk, to see what filing costs). */
  threshold: number;
  json: boolean;
  out: string;
}

function parseArgs(argv: string[]): Options {
  return parseBenchFlags<Options>(
    argv,
    { messages: 2000, senders: 10, recipients: 10, train: 400, runs: 3, accuracy: 2000, threshold: 0.9, json: false, out: join(HERE, 'results') },
    { messages: 60, senders: 4, recipients: 3, train: 40, runs: 1, accuracy: 200 },
  );
}

const rcpt = (k: number): string => `user${k}@bench.test`;

async function stored(store: Store, o: Options): Promise<{ inbox: number; junk: number }> {
  let inbox = 0;
  let junk = 0;
  for (let k = 0; k < o.recipients; k++) {
    const user = (await store.directory.getUser(rcpt(k)))!;
    inbox += (await store.mail.status((await store.mail.getMailbox(user.id, 'INBOX'))!.id)).messages;
    junk += (await store.mail.status((await store.mail.getMailbox(user.id, 'Junk'))!.id)).messages;
  }
  return { inbox, junk };
}

/**
 * A new SQLite store in a temporary folder with `recipients` users (user0@bench.test ...), each with the
 * filter trained on `training`: stores made this way hold the same statistics, so two of them differ only
 * in whether the filter runs.
 */
export async function trainedStore(prefix: string, recipients: number, training: readonly CorpusMessage[]): Promise<{ dir: string; store: Store }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  const store = await openServerStore({ dataDir: dir });
  await store.directory.addDomain('bench.test');
  const trainer = new SpamFilter(store);
  for (let k = 0; k < recipients; k++) {
    const u = await store.directory.createUser(rcpt(k), '{PLAIN}pw');
    for (const m of training) await trainer.train(u.id, withAuthResults(m), m.spam ? 'spam' : 'ham');
  }
  return { dir, store };
}

/** Runs the spam bench with command-line flags `argv` (see the header); sets process.exitCode 1 on a failed check. */
export async function spamBench(argv: string[]): Promise<void> {
  const o = parseArgs(argv);
  const dirs: string[] = [];
  const stores: Store[] = [];
  const lines: string[] = [];
  let failed = false;
  try {
    const training = spamCorpus(o.train, 101);
    const services: Array<Side & { svc: { close(): Promise<void> }; store: Store; delivered: number }> = [];
    for (const enabled of [false, true]) {
      const { dir, store } = await trainedStore('mailroom-bench-spam-', o.recipients, training);
      dirs.push(dir);
      stores.push(store);
      const stages = buildStages({ store, logger: silentLogger, hostname: 'mx.bench.test', dataDir: dir, spam: { enabled, threshold: o.threshold } });
      const svc = createLmtpService({ store, auth: new Authenticator(store.directory, { failureDelayMs: 0 }), hostname: 'mx.bench.test', stages });
      const port = (await svc.listen({ host: '127.0.0.1', port: 0, implicitTls: false })).port;
      services.push({ on: enabled, svc, port, store, times: [], cpu: [], delivered: 0 });
    }
    const corpus = spamCorpus(o.messages * (o.runs + 1), 202);
    const bytes = corpus.slice(0, o.messages).reduce((a, m) => a + m.raw.length, 0);
    const batch = (run: number): Delivery[] =>
      corpus.slice(run * o.messages, (run + 1) * o.messages).map((m, i) => ({ from: 'sender@remote.test', to: [rcpt(i % o.recipients)], raw: m.raw }));
    await alternate(services, o.runs, batch, async (s, msgs) => {
      s.delivered += msgs.length;
      return deliverOver(s.port, msgs, { connections: o.senders });
    }, 'spam bench');
    const counts = [];
    for (const s of services) {
      const c = await stored(s.store, o);
      counts.push(c);
      if (c.inbox + c.junk !== s.delivered) {
        failed = true;
        lines.push(`**check failed**: filter ${s.on ? 'on' : 'off'} stored ${c.inbox + c.junk} of ${s.delivered} messages`);
      }
      await s.svc.close();
    }
    const [off, on] = services as [(typeof services)[0], (typeof services)[0]];
    const { ratio, cpuRatio } = ratios(off, on);
    const acc = await measureAccuracy(spamCorpus(o.accuracy, 1));
    const pct = (x: number): string => `${(100 * x).toFixed(2)}%`;
    lines.unshift(
      '# Spam filter bench',
      '',
      `LMTP delivery of ${o.messages} corpus messages (${(bytes / 1048576).toFixed(1)} MB) per run to ${o.recipients} users over ${o.senders} connections; ${o.runs} measured runs after one warm-up run of each, alternating; medians. SQLite store with fsync on; the real stage list (server/stages.ts).`,
      '',
      '| filter | median time | throughput | CPU per message | runs |',
      '|---|---:|---:|---:|---|',
      sideRow('off (`--spam off`)', off, o.messages),
      sideRow(`on, trained users (${o.train} messages each)`, on, o.messages),
      '',
      'CPU per message: this process (server and load generator together), user + system time over the run.',
      '',
      `Throughput with the filter on / off: **${ratio.toFixed(2)}x** (goal at least 0.8x); CPU per message off / on ${cpuRatio.toFixed(2)}x. With the filter on, ${counts[1]!.junk} of ${on.delivered} deliveries were filed into Junk (the corpus is about half spam; the warm-up run included).`,
      '',
      `Accuracy on the synthetic corpus (${o.accuracy} messages, seed 1, trained on half, tested on the other half): spam caught ${acc.spamCaught}/${acc.tested.spam} (${pct(acc.spamCaughtRate)}), ham misfiled ${acc.hamMisfiled}/${acc.tested.ham} (${pct(acc.hamMisfiledRate)}); training ${(acc.trainMs / (acc.trained.spam + acc.trained.ham)).toFixed(2)} ms and checking ${(acc.checkMs / (acc.tested.spam + acc.tested.ham)).toFixed(2)} ms per message.`,
      '',
      `Host: ${cpus().length} CPUs, Node ${process.versions.node}, load average ${loadavg()[0]!.toFixed(1)} at the end.`,
    );
    const md = lines.join('\n') + '\n';
    mkdirSync(o.out, { recursive: true });
    writeFileSync(join(o.out, 'spam.md'), md);
    process.stdout.write(o.json ? JSON.stringify({ off: off.times, on: on.times, offCpu: off.cpu, onCpu: on.cpu, ratio, cpuRatio, accuracy: acc }, null, 2) + '\n' : md);
  } finally {
    for (const s of stores) await s.close().catch(() => undefined);
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  }
  if (failed) process.exitCode = 1;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  spamBench(process.argv.slice(2)).catch((e: unknown) => {
    process.stderr.write(`spam bench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = 1;
  });
}
