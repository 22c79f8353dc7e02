/**
 * The per-user delivery stages the server runs for every local copy (see delivery/pipeline.ts), in order:
 * the spam filter first (its verdict is a note Sieve's spamtest reads), then the user's Sieve script.
 */
import type { DeliveryStage } from '../delivery/pipeline.js';
import type { Logger } from '../lib/logger.js';
import type { Store } from '../store/handle.js';
import { createSieveStage, type SieveSettings } from '../sieve/stage.js';
import { SpamFilter, attachSpamFilter, spamStage, type SpamSettings } from '../spam/index.js';

export interface StageContext {
  store: Store;
  logger: Logger;
  /** The server's host name (for generated mail). */
  hostname: string;
  /** The data directory (for caches the stages keep on disk). */
  dataDir: string;
  /** Spam filter settings (serve's spam-* keys and --rspamd); the filter is on by default. */
  spam?: Partial<SpamSettings>;
  /** Sieve settings (serve's sieve-* keys). */
  sieve?: SieveSettings;
  /** Asks the outbound queue for a pass (after a stage queued a redirect, vacation reply or bounce). */
  kickQueue?: () => void;
}

/** Builds the stage list; `extra` stages (from MailroomOptions.stages) run last. */
export function buildStages(ctx: StageContext, extra: readonly DeliveryStage[] = []): DeliveryStage[] {
  const stages: DeliveryStage[] = [];
  // The spam filter is attached to the store so that training by moves (spam/index.ts noteTransfer) follows it.
  const spam = new SpamFilter(ctx.store, ctx.spam ?? {}, ctx.logger.child({ svc: 'spam' }));
  attachSpamFilter(spam);
  stages.push(spamStage(spam));
  const { before, after, globalDir } = ctx.sieve ?? {};
  stages.push(
    createSieveStage({
      store: ctx.store,
      hostname: ctx.hostname,
      logger: ctx.logger.child({ svc: 'sieve' }),
      ...(before ? { before } : {}),
      ...(after ? { after } : {}),
      ...(globalDir ? { globalDir } : {}),
      ...(ctx.kickQueue ? { kickQueue: ctx.kickQueue } : {}),
    }),
  );
  stages.push(...extra);
  return stages;
}
