/**
 * The spam delivery stage (first in server/stages.ts): for every local copy it renames incoming X-Spam*
 * fields (never trusted: see message.ts), scores the message with the user's filter, records the verdict
 * for later stages as `d.notes.spam = { probability, isSpam, score, tested, engine }` (score: RFC 5235
 * spamtest value for Sieve), adds `X-Spam-Status: Yes|No, score=S required=R ...` (and `X-Spam: Yes` for
 * spam), and files spam, and any message the MX quarantined (`facts.quarantine === true`, DMARC
 * p=quarantine), into the user's Junk mailbox (marked \Junk; created when missing) instead of INBOX. A
 * message that cannot be scored (store or scanner failure) is delivered as it would have been, without a
 * verdict.
 */
import type { DeliveryStage, Disposition, LocalMessage } from '../delivery/pipeline.js';
import type { Logger } from '../lib/logger.js';
import { renameSpamFields } from './message.js';
import type { SpamFilter, SpamVerdict } from './filter.js';

/** What the stage leaves in `d.notes.spam`. */
export interface SpamNote {
  probability: number;
  isSpam: boolean;
  score: number;
  tested: boolean;
  engine: 'bayes' | 'rspamd';
}

export function spamStage(filter: SpamFilter): DeliveryStage {
  return {
    name: 'spam',
    async run(msg: LocalMessage, d: Disposition, log: Logger): Promise<void> {
      const renamed = renameSpamFields(d.message ?? msg.raw);
      if (renamed) d.message = renamed;
      let verdict: SpamVerdict | null = null;
      if (filter.settings.enabled) {
        try {
          const auth = msg.facts['authResults'];
          verdict = await filter.check(msg.userId, d.message ?? msg.raw, {
            authResults: typeof auth === 'string' ? auth : null,
            envelopeFrom: msg.envelopeFrom,
            recipient: msg.address,
          });
        } catch (e) {
          log.warn({ user: msg.address, err: e instanceof Error ? e.message : String(e) }, 'spam check failed; delivering without a verdict');
        }
      }
      if (verdict) {
        const note: SpamNote = { probability: verdict.probability, isSpam: verdict.isSpam, score: verdict.score, tested: verdict.tested, engine: verdict.engine };
        d.notes['spam'] = note;
        d.headers.push(`X-Spam-Status: ${statusValue(verdict)}\r\n`);
        if (verdict.isSpam) d.headers.push('X-Spam: Yes\r\n');
      }
      if (verdict?.isSpam || msg.facts['quarantine'] === true) {
        const junk = await filter.junkMailbox(msg.userId);
        for (const t of d.targets) {
          if (t.mailbox.toUpperCase() !== 'INBOX') continue;
          t.mailbox = junk.name;
          if (junk.id !== null) t.mailboxId = junk.id;
          else delete t.mailboxId;
        }
      }
    },
  };
}

/** "Yes, score=9.7 required=9.0 engine=bayes clues=42". */
export function statusValue(v: SpamVerdict): string {
  return `${v.isSpam ? 'Yes' : 'No'}, score=${v.shownScore.toFixed(1)} required=${v.required.toFixed(1)} engine=${v.engine} ${v.detail}`;
}
