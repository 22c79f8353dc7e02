/**
 * Workload 1 — LMTP delivery: `lmtpSenders` parallel LMTP connections deliver `lmtpMessages` corpus
 * messages (each to one of `lmtpRecipients` recipients, round robin). `lmtp-varied` does the same with
 * `varied` messages of the corpus's varied profile (bench/corpus-varied.ts). Measured: time from the first MAIL FROM to the last
 * per-recipient 250 after DATA. Check: every recipient's INBOX grew by exactly its share, and every
 * delivered message's body (BODY[TEXT], the part after the header block, which trace headers do not touch)
 * is byte-identical to what was sent, found by its Message-ID.
 */
import { VARIED_BASE, generateMessage, sha256 } from '../corpus.js';
import { LmtpConn } from '../lib/lmtp.js';
import { fetchLiterals, isFetch, selectInfo } from '../lib/imap.js';
import { check, corpusOptions, imapLogin, type BenchConfig, type RunContext, type RunOutcome, type UserSpec, type Workload } from '../lib/harness.js';

/** Corpus indices of delivered messages start here (distinct from the populated mailboxes). */
const FIRST_INDEX = 1_000_000;

function recipients(cfg: BenchConfig): string[] {
  return Array.from({ length: cfg.sizes.lmtpRecipients }, (_, k) => `rcpt${k}@${cfg.domain}`);
}

interface LmtpSpec {
  id: string;
  title: string;
  /** First corpus index of run 0's messages. */
  first: number;
  count(cfg: BenchConfig): number;
}

function lmtpWorkload(spec: LmtpSpec): Workload {
  return {
    id: spec.id,
    title: spec.title,
    metric: 'time to deliver all messages',
    users(cfg: BenchConfig): UserSpec[] {
      return recipients(cfg).map((address) => ({ address }));
    },
    async run(ctx: RunContext): Promise<RunOutcome> {
      const { cfg } = ctx;
      const n = spec.count(cfg);
      const rcpts = recipients(cfg);
      const msgs = Array.from({ length: n }, (_, j) => generateMessage(corpusOptions(cfg), spec.first + ctx.run * n + j));
      const bytes = msgs.reduce((a, m) => a + m.raw.length, 0);

      // Counts before, through IMAP.
      const before = new Map<string, number>();
      for (const [k, r] of rcpts.entries()) {
        const c = await imapLogin(ctx, r, k);
        before.set(r, selectInfo(await c.ok('SELECT INBOX')).exists);
        await c.logout();
      }

      const senders = Math.min(cfg.sizes.lmtpSenders, n);
      const { measured } = await ctx.measure(async () => {
        await Promise.all(
          Array.from({ length: senders }, async (_, s) => {
            const conn = await LmtpConn.connect({ host: ctx.target.host, port: ctx.target.lmtpPort, localAddress: ctx.source(s) });
            try {
              for (let j = s; j < n; j += senders) {
                const m = msgs[j]!;
                const to = rcpts[j % rcpts.length]!;
                const replies = await conn.deliver(`sender${s}@${cfg.domain}`, [to], m.raw);
                if (replies.length !== 1 || replies[0]!.code !== 250) throw new Error(`delivery of message ${j} to ${to} failed: ${JSON.stringify(replies)}`);
              }
            } finally {
              await conn.quit();
            }
          }),
        );
      });

      // Consistency: counts and bodies.
      const expected = new Map<string, string>();
      for (const m of msgs) expected.set(m.info.messageId, m.info.bodySha256);
      let verified = 0;
      for (const [k, r] of rcpts.entries()) {
        const share = msgs.filter((_, j) => j % rcpts.length === k).length;
        const c = await imapLogin(ctx, r, k);
        const exists = selectInfo(await c.ok('SELECT INBOX')).exists;
        const was = before.get(r) ?? 0;
        check(exists === was + share, `${r}: INBOX has ${exists} messages after delivery, expected ${was} + ${share}`);
        if (share > 0) {
          const res = await c.ok(`FETCH ${was + 1}:* (BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)] BODY.PEEK[TEXT])`);
          const fetched = res.untagged.filter(isFetch);
          check(fetched.length === share, `${r}: FETCH of the new messages returned ${fetched.length} responses, expected ${share}`);
          for (const u of fetched) {
            const lits = fetchLiterals(u);
            const hdr = [...lits.entries()].find(([key]) => key.startsWith('BODY[HEADER.FIELDS'))?.[1];
            const text = lits.get('BODY[TEXT]');
            const id = hdr ? /<[^>]+>/.exec(hdr.toString('utf8'))?.[0] : undefined;
            check(id !== undefined && expected.has(id), `${r}: delivered message without a known Message-ID (${u.text.slice(0, 80)})`);
            check(text !== undefined && sha256(text) === expected.get(id!), `${r}: body of ${id} differs from what was delivered`);
            expected.delete(id!);
            verified++;
          }
        }
        await c.logout();
      }
      check(expected.size === 0, `${expected.size} delivered messages were not found`);
      const secs = measured.ms / 1000;
      return {
        measured,
        detail: `${n} msgs (${(bytes / 1048576).toFixed(1)} MB) by ${senders} senders, ${(n / secs).toFixed(0)} msg/s, ${(n / measured.cpu).toFixed(0)} msgs per server CPU-second`,
        checks: [`${n} deliveries accepted`, `${verified} delivered bodies byte-identical`, 'per-recipient counts exact'],
      };
    },
  };
}

export const lmtpDelivery = lmtpWorkload({ id: 'lmtp', title: 'LMTP delivery', first: FIRST_INDEX, count: (cfg) => cfg.sizes.lmtpMessages });

/** The varied profile's mail (charsets, nested multiparts, attachments, threads) over the same senders. */
export const lmtpVaried = lmtpWorkload({ id: 'lmtp-varied', title: 'LMTP delivery, varied mail', first: VARIED_BASE + FIRST_INDEX, count: (cfg) => cfg.sizes.varied });
