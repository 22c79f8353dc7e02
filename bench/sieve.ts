/**
 * Sieve delivery cost: `npm run bench -- sieve [--messages N] [--senders N] [--runs N] [--rules N]
 * [--no-fsync] [--min-ratio R] [--json]` (or `node --import tsx bench/sieve.ts ...`).
 *
 * One server-like setup in this process: a fresh SQLite store (fsync on unless --no-fsync), the server's
 * stage list (spam filter, then Sieve: server/stages.ts) and an LMTP listener on loopback. Two users: one
 * without a script, one whose active script has `rules` rules (default 100: header, address, envelope and
 * list tests with fileinto, flags and stop, as a real filter set looks). Runs alternate (plain, sieve,
 * plain, ...): `senders` parallel LMTP connections deliver `messages` messages (~2-30 KB) to the user of the
 * run; 10% of the messages match the last rule (worst case: every rule is tested first). Prints messages per
 * second of each run and the ratio of the medians (sieve / plain); exits 1 when it is below --min-ratio
 * (default 0.9). Checks afterwards that every message was stored once, where the script put it.
 */
import { parseArgs } from 'node:util';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openServerStore } from '../src/server/store.js';
import { Authenticator } from '../src/auth/index.js';
import { createLmtpService } from '../src/delivery/index.js';
import { buildStages } from '../src/server/stages.js';
import { silentLogger } from '../src/lib/logger.js';
import { DEFAULT_SIEVE_QUOTA } from '../src/store/sieve.js';
import { compileSieve } from '../src/sieve/index.js';
import { LmtpConn } from './lib/lmtp.js';

/** A filter set of `n` rules; the last one files list mail into "Lists". */
export function ruleScript(n: number): string {
  const lines = ['require ["fileinto", "imap4flags", "envelope", "mailbox"];'];
  for (let i = 0; i < n - 1; i++) {
    switch (i % 4) {
      case 0:
        lines.push(`if header :contains "subject" "project-${i}" { fileinto :create "Projects/P${i}"; stop; }`);
        break;
      case 1:
        lines.push(`if address :is "from" "person${i}@partner.test" { addflag "\\\\Flagged"; fileinto :create "People"; stop; }`);
        break;
      case 2:
        lines.push(`if envelope :domain :is "from" "vendor${i}.test" { fileinto :create "Vendors"; stop; }`);
        break;
      default:
        lines.push(`if header :matches "list-id" "*<news${i}.lists.test>*" { fileinto :create "News"; stop; }`);
    }
  }
  lines.push('if exists "list-id" { fileinto :create "Lists"; stop; }');
  return lines.join('\r\n') + '\r\n';
}

function message(i: number, to: string): Buffer {
  const size = i % 4 === 0 ? 30_000 : 2_000;
  const line = `line ${i} ${'lorem ipsum dolor sit amet '.repeat(3)}`.slice(0, 76) + '\r\n';
  const body = line.repeat(Math.ceil(size / line.length));
  const list = i % 10 === 0 ? 'List-Id: Bench list <bench.lists.test>\r\n' : '';
  return Buffer.from(`From: bench${i % 50}@remote.test\r\nTo: ${to}\r\nSubject: bench ${i}\r\nMessage-ID: <sieve-bench-${i}-${to}@remote.test>\r\n${list}\r\n${body}`);
}

export interface SieveBenchResult {
  messages: number;
  senders: number;
  runs: number;
  rules: number;
  fsync: boolean;
  plainMsgPerSec: number;
  sieveMsgPerSec: number;
  ratio: number;
  stored: { plainInbox: number; sieveInbox: number; sieveLists: number };
  consistent: boolean;
}

/** Runs the measurement with command-line style arguments (see the header); sets process.exitCode on failure. */
export async function sieveBench(argv: string[], write: (s: string) => void = (t) => void process.stdout.write(t)): Promise<SieveBenchResult> {
  const { values } = parseArgs({
    args: argv,
    options: {
      messages: { type: 'string', default: '600' },
      senders: { type: 'string', default: '8' },
      runs: { type: 'string', default: '3' },
      rules: { type: 'string', default: '100' },
      'no-fsync': { type: 'boolean', default: false },
      'min-ratio': { type: 'string', default: '0.9' },
      json: { type: 'boolean', default: false },
    },
  });
  const MESSAGES = Number(values.messages);
  const SENDERS = Number(values.senders);
  const RUNS = Number(values.runs);
  const RULES = Number(values.rules);
  const MIN_RATIO = Number(values['min-ratio']);
  const script = ruleScript(RULES);
  const compiled = compileSieve(script);
  if (!compiled.ok) throw new Error(`bench script does not compile: ${JSON.stringify(compiled.errors[0])}`);

  const dir = await mkdtemp(join(tmpdir(), 'mailroom-bench-sieve-'));
  const store = await openServerStore({ dataDir: dir, ...(values['no-fsync'] ? { fsync: false } : {}) });
  await store.directory.addDomain('bench.test');
  const plain = await store.directory.createUser('plain@bench.test', '{PLAIN}x');
  const sieve = await store.directory.createUser('sieve@bench.test', '{PLAIN}x');
  if ((await store.sieve.putScript(sieve.id, 'rules', script, DEFAULT_SIEVE_QUOTA)) !== 'ok') throw new Error('script over quota');
  await store.sieve.setActive(sieve.id, 'rules');
  /** Time spent in each stage per user (ms), to show where the difference comes from. */
  const stageMs = new Map<string, number>();
  const stages = buildStages({ store, logger: silentLogger, hostname: 'bench', dataDir: dir }).map((st) => ({
    name: st.name,
    async run(...a: Parameters<typeof st.run>): Promise<void> {
      const t = process.hrtime.bigint();
      try {
        await st.run(...a);
      } finally {
        const k = `${st.name} ${a[0].address}`;
        stageMs.set(k, (stageMs.get(k) ?? 0) + Number(process.hrtime.bigint() - t) / 1e6);
      }
    },
  }));
  const svc = createLmtpService({ store, auth: new Authenticator(store.directory), hostname: 'bench', stages });
  const { port } = await svc.listen({ host: '127.0.0.1', port: 0, implicitTls: false });

  let seq = 0;
  async function run(to: string): Promise<number> {
    const corpus = Array.from({ length: MESSAGES }, () => message(seq++, to));
    let next = 0;
    const t0 = process.hrtime.bigint();
    await Promise.all(
      Array.from({ length: SENDERS }, async () => {
        const c = await LmtpConn.connect({ host: '127.0.0.1', port, lhlo: 'bench' });
        for (let i = next++; i < corpus.length; i = next++) {
          const [r] = await c.deliver('bench@remote.test', [to], corpus[i]!);
          if (r?.code !== 250) throw new Error(`delivery failed: ${r?.lines.join(' | ')}`);
        }
        await c.quit();
      }),
    );
    return MESSAGES / (Number(process.hrtime.bigint() - t0) / 1e9);
  }

  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const rates = { plain: [] as number[], sieve: [] as number[] };
  await run('plain@bench.test'); // warm-up: JIT, caches, the compiled script
  await run('sieve@bench.test');
  for (let r = 0; r < RUNS; r++) {
    rates.plain.push(await run('plain@bench.test'));
    rates.sieve.push(await run('sieve@bench.test'));
    if (!values.json) write(`run ${r + 1}: without script ${rates.plain[r]!.toFixed(0)} msg/s, with ${RULES}-rule script ${rates.sieve[r]!.toFixed(0)} msg/s\n`);
  }

  // Every message stored once, where the script puts it: list mail in Lists, the rest in INBOX.
  const count = async (userId: number, name: string): Promise<number> => {
    const b = await store.mail.getMailbox(userId, name);
    return b ? (await store.mail.listMessages(b.id)).length : 0;
  };
  const perUser = MESSAGES * (RUNS + 1);
  const plainInbox = await count(plain.id, 'INBOX');
  const sieveInbox = await count(sieve.id, 'INBOX');
  const sieveLists = await count(sieve.id, 'Lists');
  const ok = plainInbox === perUser && sieveInbox + sieveLists === perUser && sieveLists > 0;
  const ratio = median(rates.sieve) / median(rates.plain);
  const result = {
    messages: MESSAGES,
    senders: SENDERS,
    runs: RUNS,
    rules: RULES,
    fsync: !values['no-fsync'],
    plainMsgPerSec: Math.round(median(rates.plain)),
    sieveMsgPerSec: Math.round(median(rates.sieve)),
    ratio: Number(ratio.toFixed(3)),
    stored: { plainInbox, sieveInbox, sieveLists },
    consistent: ok,
  };
  if (values.json) write(JSON.stringify(result) + '\n');
  else {
    write(`median: without script ${result.plainMsgPerSec} msg/s, with ${RULES}-rule script ${result.sieveMsgPerSec} msg/s, ratio ${result.ratio} (needed >= ${MIN_RATIO})\n`);
    for (const [k, ms] of stageMs) write(`stage ${k}: ${(ms / perUser).toFixed(2)} ms per message\n`);
    write(`stored: ${plainInbox} (plain INBOX), ${sieveInbox} + ${sieveLists} (sieve INBOX + Lists) of ${perUser} each: ${ok ? 'ok' : 'MISMATCH'}\n`);
  }
  await svc.close();
  await store.close();
  await rm(dir, { recursive: true, force: true });
  if (!ok || ratio < MIN_RATIO) process.exitCode = 1;
  return result;
}

if (/bench\/sieve\.[tj]s$/.test(process.argv[1] ?? '')) await sieveBench(process.argv.slice(2));
