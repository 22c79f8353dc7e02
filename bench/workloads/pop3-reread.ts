/**
 * POP3 re-read of a varied maildrop: a client that leaves mail on the server checks it `SESSIONS` times back
 * to back; each session logs in (not measured: mailroom verifies argon2id, Dovecot compares plaintext), then
 * STAT, UIDL, LIST, RETR of every message (pipelined, 8 in flight, when PIPELINING is offered, as fetchmail
 * does) and QUIT, with no DELE. The maildrop holds `varied` messages of the corpus's varied profile
 * (bench/corpus-varied.ts: charsets, nested multiparts, attachments, a 5 MB message), the same for every
 * run. Measured: each session's STAT to its QUIT reply, summed over the sessions (time and server CPU).
 * Checks: STAT count and octets, LIST sizes per message, UIDLs unique and the same in every session, every
 * RETR byte-identical to the stored message (compared with the corpus bytes as they arrive).
 */
import { VARIED_BASE } from '../corpus.js';
import { ExpectBytes, Pop3Conn } from '../lib/pop3.js';
import { check, corpusIndexFor, type BenchConfig, type Measured, type RunContext, type RunOutcome, type UserSpec, type Workload } from '../lib/harness.js';
import { expectedMessages, pipelined } from './pop3-download.js';

const WINDOW = 8;
const SESSIONS = 3;

function rereadUser(cfg: BenchConfig): string {
  return `popvaried@${cfg.domain}`;
}

/** One measured section made of several: times and CPU add up, peaks are the highest. */
function sumMeasured(parts: Measured[]): Measured {
  const sum = (f: (m: Measured) => number): number => parts.reduce((a, m) => a + f(m), 0);
  const max = (f: (m: Measured) => number): number => Math.max(...parts.map(f));
  return {
    ms: sum((m) => m.ms),
    cpu: sum((m) => m.cpu),
    peakMem: max((m) => m.peakMem),
    processes: max((m) => m.processes),
    rssSum: max((m) => m.rssSum),
    loadCpu: sum((m) => m.loadCpu),
    window: [parts[0]!.window[0], parts[parts.length - 1]!.window[1]],
  };
}

export const pop3Reread: Workload = {
  id: 'pop3-reread',
  title: 'POP3 re-read, varied mail',
  metric: `${SESSIONS} sessions of STAT, UIDL, LIST, RETR all, QUIT (no DELE)`,
  users(cfg: BenchConfig): UserSpec[] {
    return [{ address: rereadUser(cfg), messages: { first: VARIED_BASE, count: cfg.sizes.varied } }];
  },
  async run(ctx: RunContext): Promise<RunOutcome> {
    const { cfg } = ctx;
    const n = cfg.sizes.varied;
    const corpus = corpusIndexFor(cfg);
    const sizes = Array.from({ length: n }, (_, k) => corpus.info(VARIED_BASE + k).size);
    const total = sizes.reduce((a, b) => a + b, 0);
    const parts: Measured[] = [];
    let firstUidls: string | null = null;
    let bytes = 0;
    let window = 1;
    for (let s = 0; s < SESSIONS; s++) {
      const c = await Pop3Conn.connect({ host: ctx.target.host, port: ctx.target.pop3Port, localAddress: ctx.source(s) });
      try {
        await c.capa();
        await c.login(rereadUser(cfg), cfg.password);
        window = c.capabilities.has('PIPELINING') ? WINDOW : 1;
        const sinks = expectedMessages(corpus.opts, VARIED_BASE, n).map((raw) => new ExpectBytes(raw));
        const { value, measured } = await ctx.measure(async () => {
          const stat = await c.ok('STAT');
          const uidl = await c.ok('UIDL', true);
          const list = await c.ok('LIST', true);
          const count = Number(stat.text.split(' ')[0]);
          const retr = await pipelined(c, Array.from({ length: count }, (_, i) => `RETR ${i + 1}`), true, window, sinks);
          const quit = await c.command('QUIT');
          return { stat, uidl, list, retr, quit };
        });
        parts.push(measured);
        // Checked between sessions so that only one session's replies are held at a time.
        const [count, octets] = value.stat.text.split(' ').map(Number);
        check(count === n, `session ${s + 1}: STAT reported ${count} messages, expected ${n}`);
        check(octets === total, `session ${s + 1}: STAT reported ${octets} octets, expected ${total}`);
        const listed = (value.list.body ?? Buffer.alloc(0)).toString('latin1').split('\r\n').filter(Boolean);
        check(listed.length === n && listed.every((l, k) => l === `${k + 1} ${sizes[k]}`), `session ${s + 1}: LIST does not give the ${n} stored sizes in order`);
        const uidlText = (value.uidl.body ?? Buffer.alloc(0)).toString('latin1');
        const uidls = uidlText.split('\r\n').filter(Boolean);
        check(uidls.length === n && new Set(uidls.map((l) => l.split(' ')[1])).size === n, `session ${s + 1}: UIDL listed ${uidls.length} lines / unique ids, expected ${n}`);
        if (firstUidls === null) firstUidls = uidlText;
        else check(uidlText === firstUidls, `session ${s + 1}: UIDLs differ from the first session's`);
        for (let k = 0; k < n; k++) {
          const r = value.retr[k]!;
          check(r.ok, `session ${s + 1}: RETR ${k + 1} failed: ${r.text}`);
          check(sinks[k]!.matches, `session ${s + 1}: RETR ${k + 1} returned ${r.size} octets that differ from the stored message (${sizes[k]} octets)`);
          bytes += r.size;
        }
        check(value.quit.ok, `session ${s + 1}: QUIT failed: ${value.quit.text}`);
      } finally {
        c.destroy();
      }
    }
    const measured = sumMeasured(parts);
    const msgs = n * SESSIONS;
    return {
      measured,
      detail: `${SESSIONS} x ${n} msgs (${(bytes / 1048576).toFixed(1)} MB), ${(msgs / (measured.ms / 1000)).toFixed(0)} msg/s, ${(msgs / measured.cpu).toFixed(0)} msgs per server CPU-second, pipelining ${window > 1 ? 'on' : 'off'}`,
      checks: [`STAT ${n} messages / ${total} octets`, `LIST sizes`, `${n} unique UIDLs, the same in every session`, `${SESSIONS} x ${n} RETR byte-identical`],
    };
  },
};
