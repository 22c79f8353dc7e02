/**
 * Mailbox list events (MailStore.subscribeMailboxList) as both backends build and read them: the origin an
 * event keeps, and checking an event that arrives from outside the process (a PostgreSQL notification, a
 * row of the SQLite log) before anyone hears it. Nothing here touches a database.
 */
import { MAX_MAILBOX_NAME_OCTETS } from './names.js';
import { MAX_ORIGIN_LENGTH, type MailboxChangeOptions, type MailboxListEvent } from './types.js';

export const LIST_EVENT_KINDS: readonly MailboxListEvent['kind'][] = ['create', 'delete', 'rename', 'subscribe', 'unsubscribe', 'special-use'];

/** The origin an event records: the caller's, when it is a string of at most MAX_ORIGIN_LENGTH characters. */
export function originOf(opts: MailboxChangeOptions | undefined): string | null {
  const o = opts?.origin;
  return typeof o === 'string' && o.length <= MAX_ORIGIN_LENGTH ? o : null;
}

/** An event with its fields in place (oldName only for a rename). */
export function listEvent(userId: number, kind: MailboxListEvent['kind'], name: string, oldName: string | null, origin: string | null): MailboxListEvent {
  return kind === 'rename' && oldName !== null ? { userId, kind, name, oldName, origin } : { userId, kind, name, origin };
}

function isName(v: unknown): v is string {
  return typeof v === 'string' && v.length > 0 && Buffer.byteLength(v, 'utf8') <= MAX_MAILBOX_NAME_OCTETS;
}

/** The event `v` describes, or null when any field is missing or malformed (never trust the wire). */
export function checkListEvent(v: { userId?: unknown; kind?: unknown; name?: unknown; oldName?: unknown; origin?: unknown }): MailboxListEvent | null {
  const kind = LIST_EVENT_KINDS.find((k) => k === v.kind);
  if (!kind || !Number.isSafeInteger(v.userId) || (v.userId as number) <= 0 || !isName(v.name)) return null;
  if (kind === 'rename' ? !isName(v.oldName) : v.oldName !== undefined && v.oldName !== null) return null;
  const origin = v.origin === undefined || v.origin === null ? null : typeof v.origin === 'string' && v.origin.length <= MAX_ORIGIN_LENGTH ? v.origin : undefined;
  if (origin === undefined) return null;
  return listEvent(v.userId as number, kind, v.name, kind === 'rename' ? (v.oldName as string) : null, origin);
}
