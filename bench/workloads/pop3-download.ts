/**
 * Workload 2 — POP3 bulk download: one session downloads and deletes a whole maildrop of `pop3Messages`
 * messages: STAT, UIDL, RETR of every message, DELE of every message, QUIT (RFC 1939). RETR and DELE are
 * pipelined (8 in flight) when the server advertises PIPELINING (RFC 2449), as fetchmail does. Every run
 * uses its own user, populated identically on both servers. Measured: STAT to the QUIT reply (the
 * deletions are committed before +OK). Check: STAT count and octets, unique UIDLs, every RETR byte-identical
 * to the stored message (compared with the corpus bytes as they arrive), and an empty maildrop afterwards.
 */
import { generateMessage, type CorpusOptions } from '../corpus.js';
import { ExpectBytes, Pop3Conn, type Pop3Reply } from '../lib/pop3.js';
import { check, corpusIndexFor, type BenchConfig, type RunContext, type RunOutcome, type UserSpec, type Workload } from '../lib/harness.js';

const WINDOW = 8;

export function pop3User(cfg: BenchConfig, run: number): string {
  return `pop${run}@${cfg.domain}`;
}

let expected: { opts: string; raw: Map<number, Buffer> } | null = null;

/**
 * The raw bytes of corpus messages first..first+count-1, generated once per corpus and kept: RETR bodies are
 * compared with them as they arrive (before the measured section, so generating costs the run nothing).
 */
export function expectedMessages(opts: CorpusOptions, first: number, count: number): Buffer[] {
  const key = JSON.stringify(opts);
  if (expected?.opts !== key) expected = { opts: key, raw: new Map() };
  const raw = expected.raw;
  return Array.from({ length: count }, (_, k) => {
    let b = raw.get(first + k);
    if (!b) raw.set(first + k, (b = generateMessage(opts, first + k).raw));
    return b;
  });
}

/** A failed command as a reply (a dropped connection fails every command still in flight). */
function failed(e: unknown): Pop3Reply {
  return { ok: false, text: e instanceof Error ? e.message : String(e), body: null, size: 0 };
}

/**
 * Sends `lines` keeping at most `window` replies outstanding; replies in order. With `sinks`, the body of
 * reply i goes to sinks[i] as it arrives.
 */
export async function pipelined(c: Pop3Conn, lines: string[], multi: boolean, window: number, sinks?: ExpectBytes[]): Promise<Pop3Reply[]> {
  const out: Pop3Reply[] = new Array<Pop3Reply>(lines.length);
  const inflight: Array<Promise<void>> = [];
  for (let i = 0; i < lines.length; i++) {
    const idx = i;
    inflight.push(
      c.command(lines[i]!, multi, sinks?.[i]).then(
        (r) => {
          out[idx] = r;
        },
        (e: unknown) => {
          out[idx] = failed(e);
        },
      ),
    );
    if (inflight.length >= window) await inflight.shift();
  }
  await Promise.all(inflight);
  return out;
}

export const pop3Download: Workload = {
  id: 'pop3',
  title: 'POP3 bulk download',
  metric: 'STAT, UIDL, RETR all, DELE all, QUIT',
  users(cfg: BenchConfig): UserSpec[] {
    return Array.from({ length: cfg.runs }, (_, r) => ({ address: pop3User(cfg, r), messages: { first: 0, count: cfg.sizes.pop3Messages } }));
  },
  async run(ctx: RunContext): Promise<RunOutcome> {
    const { cfg } = ctx;
    const n = cfg.sizes.pop3Messages;
    const user = pop3User(cfg, ctx.run);
    const corpus = corpusIndexFor(cfg);
    const c = await Pop3Conn.connect({ host: ctx.target.host, port: ctx.target.pop3Port, localAddress: ctx.source(0) });
    await c.capa();
    await c.login(user, cfg.password);
    const window = c.capabilities.has('PIPELINING') ? WINDOW : 1;
    const sinks = expectedMessages(corpus.opts, 0, n).map((raw) => new ExpectBytes(raw));
    const { value, measured } = await ctx.measure(async () => {
      const stat = await c.ok('STAT');
      const uidl = await c.ok('UIDL', true);
      const count = Number(stat.text.split(' ')[0]);
      const numbers = Array.from({ length: count }, (_, i) => i + 1);
      const retr = await pipelined(c, numbers.map((k) => `RETR ${k}`), true, window, sinks);
      const dele = await pipelined(c, numbers.map((k) => `DELE ${k}`), false, window);
      const quit = await c.command('QUIT');
      return { stat, uidl, retr, dele, quit };
    });
    c.destroy();

    const sizes = Array.from({ length: n }, (_, k) => corpus.info(k).size);
    const [count, octets] = value.stat.text.split(' ').map(Number);
    check(count === n, `STAT reported ${count} messages, expected ${n}`);
    const total = sizes.reduce((a, b) => a + b, 0);
    check(octets === total, `STAT reported ${octets} octets, expected ${total}`);
    const uidls = (value.uidl.body ?? Buffer.alloc(0)).toString('utf8').split('\r\n').filter(Boolean);
    check(uidls.length === n && new Set(uidls.map((l) => l.split(' ')[1])).size === n, `UIDL listed ${uidls.length} lines / unique ids, expected ${n}`);
    let bytes = 0;
    for (let k = 0; k < n; k++) {
      const r = value.retr[k]!;
      check(r.ok, `RETR ${k + 1} failed: ${r.text}`);
      check(sinks[k]!.matches, `RETR ${k + 1} returned ${r.size} octets that differ from the stored message (${sizes[k]} octets)`);
      bytes += r.size;
    }
    check(value.dele.every((r) => r.ok), 'a DELE failed');
    check(value.quit.ok, `QUIT failed: ${value.quit.text}`);
    // The deletions were committed: a new session finds an empty maildrop.
    const c2 = await Pop3Conn.connect({ host: ctx.target.host, port: ctx.target.pop3Port, localAddress: ctx.source(1) });
    await c2.login(user, cfg.password);
    const after = await c2.ok('STAT');
    await c2.command('QUIT').catch(() => undefined);
    c2.destroy();
    check(after.text.startsWith('0 '), `maildrop after QUIT: STAT ${after.text}, expected 0 messages`);
    const secs = measured.ms / 1000;
    return {
      measured,
      detail: `${n} msgs (${(bytes / 1048576).toFixed(1)} MB), ${(n / secs).toFixed(0)} msg/s, pipelining ${window > 1 ? 'on' : 'off'}`,
      checks: [`STAT ${n} messages / ${total} octets`, `${n} unique UIDLs`, `${n} RETR byte-identical`, 'maildrop empty after QUIT'],
    };
  },
};
