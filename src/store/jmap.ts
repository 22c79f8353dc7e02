/**
 * What the JMAP server keeps beyond mail (store.jmap), so that any process serving the HTTP listener can
 * answer any request (several workers share one store):
 * - uploads (RFC 8620 6.1): per user, bytes with a media type and an expiry; a per-user byte budget is
 *   kept by dropping that user's oldest uploads first;
 * - typed objects with a state counter and a change log (Identity overrides, EmailSubmission records): one
 *   write bumps the (user, kind) state once; destroyed objects stay as tombstones so /changes is exact;
 * - snapshots: small opaque texts kept under a state string (Mailbox/changes compares the snapshot of an
 *   old state with the current one), the newest `keep` per (user, kind).
 *
 * Errors: INVALID for a bad id, kind or argument; NOT_FOUND is never thrown (reads answer null).
 */
import { StoreError } from './types.js';

export interface JmapUpload {
  id: string;
  type: string;
  data: Buffer;
  expiresAt: Date;
}

export interface JmapObject {
  id: string;
  data: Record<string, unknown>;
}

export interface JmapObjectChanges {
  state: number;
  created: string[];
  updated: string[];
  destroyed: string[];
}

export interface JmapObjectWrite {
  /** Creates or replaces these objects. */
  put?: JmapObject[];
  /** Marks these ids destroyed (ids that do not exist are ignored). */
  destroy?: string[];
}

export interface JmapStore {
  /**
   * Keeps an upload until `expiresAt`. Expired uploads of every user may be dropped meanwhile; the user's
   * oldest uploads are dropped until the user's total fits `maxBytesPerUser`. Throws INVALID (bad id,
   * type, or data larger than the budget).
   */
  putUpload(userId: number, up: JmapUpload, maxBytesPerUser: number): Promise<void>;
  /** The user's upload, or null when unknown, another user's, or expired at `now`. */
  getUpload(userId: number, id: string, now: Date): Promise<JmapUpload | null>;

  /** The live objects of a kind and the current state (0 before the first write). */
  listObjects(userId: number, kind: string): Promise<{ state: number; objects: JmapObject[] }>;
  /**
   * Applies `write` in one transaction and returns the new state; when `ifInState` is given and differs
   * from the current state, writes nothing and returns null. An empty write returns the state unchanged.
   */
  writeObjects(userId: number, kind: string, write: JmapObjectWrite, ifInState?: number | null): Promise<number | null>;
  /**
   * Ids created, updated and destroyed after state `since` (an object created and destroyed since then is
   * not reported); null when `since` is not a state of this (user, kind).
   */
  objectChanges(userId: number, kind: string, since: number): Promise<JmapObjectChanges | null>;

  /** Keeps `data` under `state`, then drops all but the newest `keep` snapshots of (user, kind). */
  putSnapshot(userId: number, kind: string, state: string, data: string, keep: number): Promise<void>;
  getSnapshot(userId: number, kind: string, state: string): Promise<string | null>;
}

/** Object ids, upload ids, kinds and snapshot states: JMAP Id syntax (RFC 8620 1.2), bounded. */
export function checkJmapId(id: unknown, what: string): string {
  if (typeof id !== 'string' || !/^[A-Za-z0-9_-]{1,255}$/.test(id)) throw new StoreError('INVALID', `bad ${what}`);
  return id;
}

/** Media types as uploads record them: a token/token pair with optional parameters, at most 255 octets. */
export function checkUploadType(type: unknown): string {
  if (typeof type !== 'string' || type.length === 0 || type.length > 255 || /[\u0000-\u001f\u007f]/.test(type)) throw new StoreError('INVALID', 'bad media type');
  return type;
}

/** Checks a put's arguments shared by both backends. */
export function checkUpload(up: JmapUpload, maxBytesPerUser: number): void {
  checkJmapId(up.id, 'upload id');
  checkUploadType(up.type);
  if (!Buffer.isBuffer(up.data)) throw new StoreError('INVALID', 'upload data must be a Buffer');
  if (!(up.expiresAt instanceof Date) || Number.isNaN(up.expiresAt.getTime())) throw new StoreError('INVALID', 'bad expiry');
  if (up.data.length > maxBytesPerUser) throw new StoreError('INVALID', 'upload larger than the per-user budget');
}

/** Checks a write; returns the JSON text of each put. */
export function checkObjectWrite(kind: string, write: JmapObjectWrite): { puts: Array<{ id: string; json: string }>; destroy: string[] } {
  checkJmapId(kind, 'object kind');
  const puts = (write.put ?? []).map((o) => {
    checkJmapId(o.id, 'object id');
    if (typeof o.data !== 'object' || o.data === null || Array.isArray(o.data)) throw new StoreError('INVALID', 'object data must be an object');
    const json = JSON.stringify(o.data);
    if (json.includes('\\u0000')) throw new StoreError('INVALID', 'object data contains NUL');
    return { id: o.id, json };
  });
  const destroy = (write.destroy ?? []).map((id) => checkJmapId(id, 'object id'));
  return { puts, destroy };
}

/** Sorts change rows into created / updated / destroyed (RFC 8620 5.2). */
export function classifyChanges(
  state: number,
  rows: ReadonlyArray<{ id: string; createdState: number; alive: boolean }>,
  since: number,
): JmapObjectChanges {
  const out: JmapObjectChanges = { state, created: [], updated: [], destroyed: [] };
  for (const r of rows) {
    const isNew = r.createdState > since;
    if (!r.alive) {
      if (!isNew) out.destroyed.push(r.id);
    } else if (isNew) out.created.push(r.id);
    else out.updated.push(r.id);
  }
  return out;
}
