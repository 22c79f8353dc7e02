/**
 * What the JMAP types kept as store objects (store.jmap: Identity, EmailSubmission, SieveScript) share:
 * the /changes answer from the store's change log and the empty outcome maps of a /set.
 */
import type { Args, Call } from './api.js';
import { MethodError, invalid, type SetError } from './errors.js';

/** The /changes response (RFC 8620 5.2) for `kind` from the store's change log; cannotCalculateChanges for an unknown state. */
export async function storedChanges(args: Args, call: Call, kind: string): Promise<Args & { created: string[]; updated: string[]; destroyed: string[] }> {
  const since = args['sinceState'];
  if (typeof since !== 'string') invalid('sinceState is required');
  const n = /^(0|[1-9]\d{0,15})$/.test(since) ? Number(since) : -1;
  const ch = await call.account.store.jmap.objectChanges(call.account.userId, kind, n);
  if (!ch) throw new MethodError('cannotCalculateChanges');
  return { accountId: call.account.accountId, oldState: since, newState: String(ch.state), hasMoreChanges: false, created: ch.created, updated: ch.updated, destroyed: ch.destroyed };
}

/** The outcome maps of a /set response (RFC 8620 5.3), filled in by the method. */
export interface SetOutcome {
  created: Record<string, unknown>;
  notCreated: Record<string, SetError>;
  updated: Record<string, unknown>;
  notUpdated: Record<string, SetError>;
  destroyed: string[];
  notDestroyed: Record<string, SetError>;
}

export function setOutcome(): SetOutcome {
  return { created: {}, notCreated: {}, updated: {}, notUpdated: {}, destroyed: [], notDestroyed: {} };
}

/** Checks ifInState against the current state (a string) of a /set. */
export function checkIfInState(args: Args, state: string): void {
  const ifIn = args['ifInState'];
  if (ifIn !== undefined && ifIn !== null && ifIn !== state) throw new MethodError('stateMismatch');
}
