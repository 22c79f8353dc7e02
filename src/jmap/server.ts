/**
 * JmapServer: what the JMAP routes share: the HTTP context, the method table, the per-user Account views
 * (account.ts) and the push hub. Uploads live in the store (store.jmap), so every worker process sees them.
 * One per HTTP app; no module state.
 */
import { createHash } from 'node:crypto';
import type { HttpContext } from '../http/types.js';
import type { User } from '../store/types.js';
import { Account } from './account.js';
import { CAP, LIMITS, type MethodSpec } from './api.js';
import { quotaStore } from './quota.js';
import { MAX_ATTACHMENT_BYTES } from './compose.js';
import { newUploadId } from './blob.js';
import { MAX_DELAYED_SEND_SEC } from './submission.js';
import { sieveAccountCapability, sieveBlob } from './sieve.js';
import { DEFAULT_SIEVE_QUOTA, type SieveQuota } from '../store/sieve.js';
import type { BlobSources } from './blob.js';
import { sharedAccountObject, sharedOwners, type SharedOwner } from './shared.js';
import { LocalCounter } from '../lib/connection-limit.js';

export const JMAP_PREFIX = '/jmap';
export const SESSION_PATH = `${JMAP_PREFIX}/session`;
export const API_PATH = `${JMAP_PREFIX}/api`;
export const UPLOAD_PATH = `${JMAP_PREFIX}/upload`;
export const DOWNLOAD_PATH = `${JMAP_PREFIX}/download`;
export const EVENTSOURCE_PATH = `${JMAP_PREFIX}/eventsource`;
export const WEBSOCKET_PATH = `${JMAP_PREFIX}/ws`;

/** Uploaded blobs are kept this long (RFC 8620 6.1: at least an hour unless referenced). */
export const UPLOAD_TTL_MS = 2 * 60 * 60 * 1000;
/** Total bytes of uploads kept per user. */
export const UPLOAD_BYTES_PER_USER = 200_000_000;
/**
 * Push connections one user may hold open in one process: EventSource streams and WebSockets together
 * (each holds a socket and a listener woken by every change). Enough for a webmail in many tabs and a few
 * devices; past it the request gets 429 before the stream starts or the upgrade happens.
 */
export const MAX_PUSH_CONNECTIONS_PER_USER = 20;

export function accountIdOf(userId: number): string {
  return `a${userId}`;
}

export class JmapServer {
  readonly methods = new Map<string, MethodSpec>();
  readonly capabilityNames: ReadonlySet<string>;
  /** Account views by viewer and owner ("viewer:owner"). */
  readonly #accounts = new Map<string, Account>();
  /** API requests running per user, over HTTP and WebSocket together (maxConcurrentRequests). */
  readonly #active = new LocalCounter();
  /** EventSource streams and WebSockets open per user (MAX_PUSH_CONNECTIONS_PER_USER). */
  readonly #push = new LocalCounter();
  /** Called once when a process opens a user's own account view (methods.ts resumes push subscriptions). */
  accountOpened: ((account: Account) => Promise<void>) | null = null;

  constructor(readonly ctx: HttpContext) {
    const caps: string[] = [CAP.core, CAP.mail, CAP.submission, CAP.vacation, CAP.websocket, CAP.sieve];
    if (quotaStore(ctx.store)) caps.push(CAP.quota);
    this.capabilityNames = new Set(caps);
  }

  /** Takes one of the user's maxConcurrentRequests slots; false when all are taken. Give it back with endRequest. */
  beginRequest(userId: number, max: number): boolean {
    return this.#active.admit(String(userId), max);
  }

  endRequest(userId: number): void {
    this.#active.release(String(userId));
  }

  /** Takes one of the user's push connection places; false when all are taken. Give it back with endPush. */
  beginPush(userId: number): boolean {
    return this.#push.admit(String(userId), MAX_PUSH_CONNECTIONS_PER_USER);
  }

  endPush(userId: number): void {
    this.#push.release(String(userId));
  }

  register(name: string, cap: string, fn: MethodSpec['fn']): void {
    this.methods.set(name, { fn, cap });
  }

  /** The user's account view (runRequest and the routes sync it before use). */
  async account(user: User): Promise<Account> {
    return this.#view(user, user.id);
  }

  async #view(user: User, ownerId: number): Promise<Account> {
    const key = `${user.id}:${ownerId}`;
    let a = this.#accounts.get(key);
    if (!a) {
      const access = ownerId === user.id ? null : async () => (await sharedOwners(this.ctx.store, user)).get(ownerId)?.rights ?? new Map<number, string>();
      a = new Account(this.ctx.store, ownerId, accountIdOf(ownerId), access, access ? user.id : null);
      this.#accounts.set(key, a);
      await a.sync();
      if (!access) await this.accountOpened?.(a).catch((e: unknown) => this.ctx.logger.warn({ err: String(e) }, 'could not resume push subscriptions'));
    }
    return a;
  }

  /** The owners sharing mailboxes with the user (shared.ts). */
  sharedOwners(user: User): Promise<Map<number, SharedOwner>> {
    return sharedOwners(this.ctx.store, user);
  }

  /**
   * The account `accountId` as the user sees it: the own one, or one shared with the user (in `owners`,
   * from sharedOwners), else null.
   */
  async accountFor(user: User, accountId: string, owners: ReadonlyMap<number, SharedOwner>): Promise<Account | null> {
    if (accountId === accountIdOf(user.id)) return this.account(user);
    const m = /^a([1-9]\d{0,9})$/.exec(accountId);
    const ownerId = m ? Number(m[1]) : -1;
    return owners.has(ownerId) ? this.#view(user, ownerId) : null;
  }

  close(): void {
    for (const a of this.#accounts.values()) a.close();
    this.#accounts.clear();
  }

  /** The session state: changes with the capabilities and the accounts shared with the user (and their rights). */
  sessionState(user: User, owners: ReadonlyMap<number, SharedOwner>): string {
    const shared = [...owners.values()].map((o) => `${o.ownerId}=${[...o.rights].map(([id, r]) => `${id}:${r}`).join(',')}`).join(';');
    return 's' + createHash('sha256').update(`${user.id}\0${user.address}\0${[...this.capabilityNames].join(' ')}\0${shared}`).digest('base64url').slice(0, 12);
  }

  /** The Session object (RFC 8620 2) with absolute URLs under `base` (scheme://host). */
  session(user: User, base: string, owners: ReadonlyMap<number, SharedOwner>): Record<string, unknown> {
    const aid = accountIdOf(user.id);
    const hasQuota = this.capabilityNames.has(CAP.quota);
    const wsBase = base.replace(/^http/, 'ws');
    const capabilities: Record<string, unknown> = {
      [CAP.core]: { ...LIMITS, collationAlgorithms: [...LIMITS.collationAlgorithms] },
      [CAP.mail]: {},
      [CAP.submission]: {},
      [CAP.vacation]: {},
      [CAP.sieve]: {},
      [CAP.websocket]: { url: wsBase + WEBSOCKET_PATH, supportsPush: true },
      ...(hasQuota ? { [CAP.quota]: {} } : {}),
    };
    const accountCapabilities: Record<string, unknown> = {
      [CAP.mail]: {
        maxMailboxesPerEmail: 1,
        maxMailboxDepth: null,
        maxSizeMailboxName: 490,
        maxSizeAttachmentsPerEmail: MAX_ATTACHMENT_BYTES,
        emailQuerySortOptions: ['receivedAt', 'sentAt', 'size', 'from', 'to', 'subject', 'hasKeyword', 'allInThreadHaveKeyword', 'someInThreadHaveKeyword'],
        mayCreateTopLevelMailbox: true,
      },
      [CAP.submission]: { maxDelayedSend: MAX_DELAYED_SEND_SEC, submissionExtensions: { FUTURERELEASE: [String(MAX_DELAYED_SEND_SEC)] } },
      [CAP.vacation]: {},
      [CAP.sieve]: sieveAccountCapability(this.sieveQuota),
      ...(hasQuota ? { [CAP.quota]: {} } : {}),
    };
    return {
      capabilities,
      accounts: {
        [aid]: { name: user.address, isPersonal: true, isReadOnly: false, accountCapabilities },
        ...Object.fromEntries([...owners.values()].map((o) => [accountIdOf(o.ownerId), sharedAccountObject(o, accountCapabilities[CAP.mail] as Record<string, unknown>, CAP.mail)])),
      },
      primaryAccounts: { [CAP.mail]: aid, [CAP.submission]: aid, [CAP.vacation]: aid, [CAP.sieve]: aid, ...(hasQuota ? { [CAP.quota]: aid } : {}) },
      username: user.address,
      apiUrl: base + API_PATH,
      downloadUrl: base + DOWNLOAD_PATH + '/{accountId}/{blobId}/{name}?accept={type}',
      uploadUrl: base + UPLOAD_PATH + '/{accountId}/',
      eventSourceUrl: base + EVENTSOURCE_PATH + '?types={types}&closeafter={closeafter}&ping={ping}',
      state: this.sessionState(user, owners),
    };
  }

  // ---- uploads (RFC 8620 6.1), kept in the store so any process can use them ----

  /** Stores an upload (dropping the user's oldest beyond UPLOAD_BYTES_PER_USER); resolves its id. */
  async putUpload(userId: number, type: string, data: Buffer): Promise<string> {
    const id = newUploadId();
    await this.ctx.store.jmap.putUpload(userId, { id, type, data, expiresAt: new Date(Date.now() + UPLOAD_TTL_MS) }, UPLOAD_BYTES_PER_USER);
    return id;
  }

  /** Sieve script limits: the server's (ManageSieve's) when configured. */
  get sieveQuota(): SieveQuota {
    return { ...DEFAULT_SIEVE_QUOTA, ...this.ctx.sieveQuota };
  }

  /** Where the blob ids that the mail store does not hold are read from, for `user` (uploads and scripts are the user's). */
  blobSources(user: User): BlobSources {
    return {
      upload: (id) => this.upload(user.id, id),
      sieve: (blobId) => sieveBlob(this.ctx.store, user.id, blobId),
    };
  }

  /** The user's upload `id`, or null (unknown, expired, another user's). */
  async upload(userId: number, id: string): Promise<{ data: Buffer; type: string } | null> {
    return this.ctx.store.jmap.getUpload(userId, id, new Date());
  }
}
