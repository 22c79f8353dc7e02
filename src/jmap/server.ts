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

export function accountIdOf(userId: number): string {
  return `a${userId}`;
}

export class JmapServer {
  readonly methods = new Map<string, MethodSpec>();
  readonly capabilityNames: ReadonlySet<string>;
  readonly #accounts = new Map<number, Account>();
  readonly active = new Map<number, number>();

  constructor(readonly ctx: HttpContext) {
    const caps: string[] = [CAP.core, CAP.mail, CAP.submission, CAP.vacation, CAP.websocket, CAP.sieve];
    if (quotaStore(ctx.store)) caps.push(CAP.quota);
    this.capabilityNames = new Set(caps);
  }

  register(name: string, cap: string, fn: MethodSpec['fn']): void {
    this.methods.set(name, { fn, cap });
  }

  /** The user's account view (runRequest and the routes sync it before use). */
  async account(user: User): Promise<Account> {
    let a = this.#accounts.get(user.id);
    if (!a) {
      a = new Account(this.ctx.store, user.id, accountIdOf(user.id));
      this.#accounts.set(user.id, a);
      await a.sync();
    }
    return a;
  }

  close(): void {
    for (const a of this.#accounts.values()) a.close();
    this.#accounts.clear();
  }

  sessionState(user: User): string {
    return 's' + createHash('sha256').update(`${user.id}\0${user.address}\0${[...this.capabilityNames].join(' ')}`).digest('base64url').slice(0, 12);
  }

  /** The Session object (RFC 8620 2) with absolute URLs under `base` (scheme://host). */
  session(user: User, base: string): Record<string, unknown> {
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
      accounts: { [aid]: { name: user.address, isPersonal: true, isReadOnly: false, accountCapabilities } },
      primaryAccounts: { [CAP.mail]: aid, [CAP.submission]: aid, [CAP.vacation]: aid, [CAP.sieve]: aid, ...(hasQuota ? { [CAP.quota]: aid } : {}) },
      username: user.address,
      apiUrl: base + API_PATH,
      downloadUrl: base + DOWNLOAD_PATH + '/{accountId}/{blobId}/{name}?accept={type}',
      uploadUrl: base + UPLOAD_PATH + '/{accountId}/',
      eventSourceUrl: base + EVENTSOURCE_PATH + '?types={types}&closeafter={closeafter}&ping={ping}',
      state: this.sessionState(user),
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

  /** Where the blob ids of `account` that the mail store does not hold are read from. */
  blobSources(account: Account): BlobSources {
    return {
      upload: (id) => this.upload(account.userId, id),
      sieve: (blobId) => sieveBlob(this.ctx.store, account.userId, blobId),
    };
  }

  /** The user's upload `id`, or null (unknown, expired, another user's). */
  async upload(userId: number, id: string): Promise<{ data: Buffer; type: string } | null> {
    return this.ctx.store.jmap.getUpload(userId, id, new Date());
  }
}
