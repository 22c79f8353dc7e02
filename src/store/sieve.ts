/**
 * Sieve script storage and the state Sieve delivery keeps per user (store.sieve):
 * - scripts (RFC 5804 ManageSieve's model): per user, a name, the UTF-8 source, a revision that grows with
 *   every change of the user's scripts (compiled scripts are cached by it), the time of the last change,
 *   and at most one active script;
 * - the vacation setting (JMAP VacationResponse, the web settings page) that the Sieve stage applies as if a
 *   vacation action ran;
 * - vacation response tracking (who was answered when, RFC 5230 4.2 / 6131) and duplicate tracking
 *   (RFC 7352 and "the same message delivered twice runs the script once").
 *
 * Errors: NOT_FOUND (no such script or user), EXISTS (rename onto an existing name), INVALID (a bad script
 * name or argument), NO_PERM (deleting the active script; ManageSieve answers NO (ACTIVE)). Quota is a
 * returned value ('ok' or the limit that would be exceeded), as setMetadata does, so nothing is written.
 */

export interface SieveScriptInfo {
  name: string;
  active: boolean;
  /** Octets of the UTF-8 source. */
  size: number;
  /** Changes whenever this script's content changes (cache key for its compiled form, with the name). */
  revision: number;
  updatedAt: Date;
}

export interface SieveScript extends SieveScriptInfo {
  content: string;
}

/** Per-user script limits (config: sieve-max-scripts, sieve-max-script-size, sieve-quota). */
export interface SieveQuota {
  /** Scripts per user. */
  maxScripts: number;
  /** Octets per script. */
  maxScriptSize: number;
  /** Octets of all the user's scripts together. */
  maxStorage: number;
}

/** Dovecot's sieve_max_script_size is 1 MiB; its script count and storage are unlimited by default. */
export const DEFAULT_SIEVE_QUOTA: SieveQuota = { maxScripts: 100, maxScriptSize: 1024 * 1024, maxStorage: 10 * 1024 * 1024 };

/** What a put would exceed (RFC 5804 1.3 QUOTA/MAXSCRIPTS, QUOTA/MAXSIZE, plain QUOTA for storage). */
export type SieveQuotaProblem = 'maxscripts' | 'maxsize' | 'quota';

export interface VacationSettings {
  enabled: boolean;
  subject: string;
  textBody: string;
  htmlBody?: string | null;
  /** Replies are sent from this time on (null: no start). */
  fromDate?: Date | null;
  /** ... and until this time (null: no end). */
  toDate?: Date | null;
}

export const VACATION_OFF: VacationSettings = { enabled: false, subject: '', textBody: '', htmlBody: null, fromDate: null, toDate: null };

/** What the Sieve delivery stage reads per recipient (SieveStore.deliveryState). */
export interface SieveDeliveryState {
  active: { name: string; revision: number } | null;
  vacation: VacationSettings;
}

export interface SieveStore {
  /** The user's scripts in name order (code point order of the UTF-8 names). */
  listScripts(userId: number): Promise<SieveScriptInfo[]>;
  getScript(userId: number, name: string): Promise<SieveScript | null>;
  /** The active script, or null. */
  getActiveScript(userId: number): Promise<SieveScript | null>;
  /** The active script's name and revision without its content (what delivery checks its cache with), or null. */
  activeRevision(userId: number): Promise<{ name: string; revision: number } | null>;
  /**
   * Creates or replaces a script (keeping its active flag). Returns the problem and writes nothing when the
   * user's scripts would then exceed `quota`. Throws INVALID for a bad name, NOT_FOUND for no such user.
   */
  putScript(userId: number, name: string, content: string, quota: SieveQuota): Promise<'ok' | SieveQuotaProblem>;
  /** What putScript would answer for a script of `size` octets named `name` (ManageSieve HAVESPACE). */
  haveSpace(userId: number, name: string, size: number, quota: SieveQuota): Promise<'ok' | SieveQuotaProblem>;
  /** Makes `name` the only active script; null deactivates all. Throws NOT_FOUND for a missing script. */
  setActive(userId: number, name: string | null): Promise<void>;
  /** Throws NOT_FOUND (missing) or NO_PERM (it is the active script). */
  deleteScript(userId: number, name: string): Promise<void>;
  /** Keeps the content and active flag. Throws NOT_FOUND, EXISTS (the new name is taken), INVALID. */
  renameScript(userId: number, from: string, to: string): Promise<void>;

  /** The vacation setting (VACATION_OFF when never set). */
  getVacation(userId: number): Promise<VacationSettings>;
  /**
   * activeRevision and getVacation in one read (what delivery needs of every recipient). Optional: without
   * it, delivery asks both.
   */
  deliveryState?(userId: number): Promise<SieveDeliveryState>;
  /** Throws NOT_FOUND for no such user, INVALID for a bad value. */
  setVacation(userId: number, v: VacationSettings): Promise<void>;
  /** When a vacation reply last went to `sender` for `handle`, or null. */
  vacationSentAt(userId: number, sender: string, handle: string): Promise<Date | null>;
  /** Records a reply; entries older than `forgetBefore` (of any sender) may be dropped meanwhile. */
  recordVacation(userId: number, sender: string, handle: string, at: Date, forgetBefore: Date): Promise<void>;
  /** True when `key` was recorded for the user and has not expired at `now`. */
  duplicateSeen(userId: number, key: string, now: Date): Promise<boolean>;
  /**
   * Records `key` until `expiresAt` (a later record extends it); expired entries may be dropped. Like
   * recordVacation, need not be durable when it resolves (a crash may forget the last records).
   */
  recordDuplicate(userId: number, key: string, now: Date, expiresAt: Date): Promise<void>;
}

/** Chance that a duplicate record also drops the user's expired entries (a scan of the user's rows). */
export const PURGE_CHANCE = 1 / 64;

/** Longest script name in octets (Dovecot's sieve_script name limit is 256 characters; RFC 5804 sets none). */
export const MAX_SCRIPT_NAME = 512;
/** Longest key kept in the duplicate and vacation tables (longer ones are hashed by the callers). */
export const MAX_TRACKING_KEY = 1024;

/**
 * RFC 5804 1.6: a script name is non-empty UTF-8 without control characters (U+0000-001F, U+007F-009F),
 * U+2028 and U+2029. Returns an explanation, or null when the name is acceptable.
 */
export function scriptNameProblem(name: string): string | null {
  if (typeof name !== 'string' || name.length === 0) return 'empty script name';
  if (Buffer.byteLength(name, 'utf8') > MAX_SCRIPT_NAME) return 'script name too long';
  if (/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/.test(name)) return 'script name contains a control character';
  if (/[\ud800-\udfff]/.test(name.replace(/[\ud800-\udbff][\udc00-\udfff]/g, ''))) return 'script name is not valid UTF-8';
  return null;
}

/**
 * The quota check both backends run inside their write transaction: `existing` are the user's scripts
 * (name and size), `name`/`size` the script to be written (replacing one of the same name).
 */
export function sieveQuotaProblem(existing: ReadonlyArray<{ name: string; size: number }>, name: string, size: number, quota: SieveQuota): SieveQuotaProblem | null {
  if (size > quota.maxScriptSize) return 'maxsize';
  const others = existing.filter((s) => s.name !== name);
  if (others.length + 1 > quota.maxScripts) return 'maxscripts';
  if (others.reduce((n, s) => n + s.size, 0) + size > quota.maxStorage) return 'quota';
  return null;
}

/** Checks a vacation value; returns an explanation or null. */
export function vacationProblem(v: VacationSettings): string | null {
  if (typeof v !== 'object' || v === null) return 'vacation setting must be an object';
  if (typeof v.enabled !== 'boolean') return 'enabled must be a boolean';
  if (typeof v.subject !== 'string' || typeof v.textBody !== 'string') return 'subject and textBody must be strings';
  if (v.htmlBody !== undefined && v.htmlBody !== null && typeof v.htmlBody !== 'string') return 'htmlBody must be a string';
  for (const d of [v.fromDate, v.toDate]) {
    if (d !== undefined && d !== null && (!(d instanceof Date) || Number.isNaN(d.getTime()))) return 'bad date';
  }
  if (v.subject.length > 998 || v.textBody.length + (v.htmlBody?.length ?? 0) > 1024 * 1024) return 'vacation text too long';
  return null;
}

/** Script content PostgreSQL text and the Sieve grammar can hold: no NUL. Throws nothing; returns a problem. */
export function scriptContentProblem(content: string): string | null {
  if (typeof content !== 'string') return 'script must be a string';
  if (content.includes('\u0000')) return 'script contains a NUL character';
  return null;
}
