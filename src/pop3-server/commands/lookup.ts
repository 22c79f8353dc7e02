/** The -ERR replies for message numbers that do not name a live message of the snapshot. */
import type { Lookup } from '../maildrop.js';
import { err, type Reply } from '../reply.js';

export function lookupError(n: number, result: Exclude<Lookup, { ok: true }>): Reply {
  return result.reason === 'deleted' ? err(`Message ${n} is already deleted`) : err(`There is no message ${n}`);
}
