/**
 * The per-user delivery stages the server runs for every local copy (see delivery/pipeline.ts), in order:
 * the spam filter first (its verdict is a note Sieve's spamtest reads), then the user's Sieve script.
 */
import type { DeliveryStage } from '../delivery/pipeline.js';
import type { Logger } from '../lib/logger.js';
import type { Store } from '../store/handle.js';

export interface StageContext {
  store: Store;
  logger: Logger;
  /** The server's host name (for generated mail). */
  hostname: string;
  /** The data directory (for caches the stages keep on disk). */
  dataDir: string;
}

/** Builds the stage list; `extra` stages (from MailroomOptions.stages) run last. */
export function buildStages(_ctx: StageContext, extra: readonly DeliveryStage[] = []): DeliveryStage[] {
  const stages: DeliveryStage[] = [];
  stages.push(...extra);
  return stages;
}
