/**
 * Resolving IMAP URLs (url.ts) against the store, shared by IMAP (APPEND CATENATE RFC 4469, GENURLAUTH
 * and URLFETCH RFC 4467/5524) and submission (BURL RFC 4468), so both verify and read the same way.
 *
 * URLAUTH: the token is HMAC-SHA1 (hex) of the URL's rump (everything before ";URLAUTH=") plus
 * ";URLAUTH=<access>", keyed with the mailbox's access key (MailStore.urlauthKey; RESETKEY forgets it, so
 * every URL signed before stops resolving). Access identifiers (RFC 4467 section 3): "user+<id>" only for
 * that user, "submit+<id>" only for submission acting for that user, "authuser" for any user of this
 * server; "anonymous" is refused. An expired URL (;EXPIRE=) does not resolve.
 *
 * resolveUrl returns null for anything that does not resolve (bad syntax, no such user, mailbox,
 * UIDVALIDITY, message or section, failed authorization): the callers answer BADURL / NIL / 554. It throws
 * only store failures other than NOT_FOUND.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { MailStore } from '../store/mail.js';
import type { User } from '../store/types.js';
import { isStoreError } from '../store/types.js';
import type { MessageIndex } from '../mime/types.js';
import { parseSection, type Section } from '../imap/grammar/fetch.js';
import { applyPartial, sectionBytes } from '../imap-server/fetch/render.js';
import { parseImapUrl, type ImapUrl } from './url.js';

/** The store parts URL resolution reads. */
export type UrlStore = Pick<MailStore, 'getMailbox' | 'readMessages' | 'readBytes' | 'urlauthKey'>;

export interface UrlContext {
  mail: UrlStore;
  /** Looks up the URL's owner when it is not `user`; null: only the user's own URLs resolve. */
  directory: { getUser(address: string): Promise<User | null> } | null;
  /** Who resolves the URL (the logged-in IMAP user, the authenticated submission user). */
  user: { id: number; address: string };
}

/**
 * How the URL is used: 'own' (CATENATE: the user's own messages; an URLAUTH part is checked when
 * present), 'fetch' (URLFETCH: URLAUTH required, access user+/authuser), 'submit' (BURL: URLAUTH required,
 * access submit+/authuser).
 */
export type UrlUse = 'own' | 'fetch' | 'submit';

export interface ResolvedUrl {
  url: ImapUrl;
  mailboxId: number;
  uid: number;
  index: MessageIndex;
  section: Section;
}

/** The URLAUTH token of `rumpWithAccess` (the URL up to and including ";URLAUTH=<access>"). */
export function urlauthToken(key: Buffer, rumpWithAccess: string): string {
  return createHmac('sha1', key).update(rumpWithAccess, 'utf8').digest('hex');
}

/** Whether `access` (an RFC 4467 access identifier) lets `user` use the URL this way. */
export function accessAllows(access: string, use: UrlUse, user: { address: string }): boolean {
  const a = access.toLowerCase();
  if (a === 'authuser') return true;
  const m = /^(user|submit)\+(.+)$/.exec(a);
  if (!m) return false;
  const kind = use === 'submit' ? 'submit' : 'user';
  return m[1] === kind && sameUser(m[2]!, user.address);
}

/** The URL's user names this address ("u1@example.org", or "u1" with host example.org). */
function sameUser(name: string, address: string, host?: string | null): boolean {
  const n = name.toLowerCase();
  const a = address.toLowerCase();
  return n === a || (!n.includes('@') && host != null && `${n}@${host}` === a);
}

/** Parses and resolves `text`; null when it does not resolve (see the module comment). */
export async function resolveUrl(ctx: UrlContext, text: string, use: UrlUse): Promise<ResolvedUrl | null> {
  const url = parseImapUrl(text);
  if (!url) return null;
  let section: Section;
  try {
    section = parseSection(url.section);
  } catch {
    return null;
  }
  if (use !== 'own' && (!url.auth || url.user === null)) return null;
  if (url.expire && url.expire.getTime() <= Date.now()) return null;
  const ownerId = await ownerOf(ctx, url);
  if (ownerId === null) return null;
  if (use === 'own' && !url.auth && ownerId !== ctx.user.id) return null;
  try {
    const mb = await ctx.mail.getMailbox(ownerId, url.mailbox);
    if (!mb || (url.uidValidity !== null && url.uidValidity !== mb.uidValidity)) return null;
    if (url.auth) {
      if (url.auth.mechanism.toUpperCase() !== 'INTERNAL' || !accessAllows(url.auth.access, use === 'own' ? 'fetch' : use, ctx.user)) return null;
      const key = await ctx.mail.urlauthKey(mb.id, false);
      if (!key) return null;
      const want = Buffer.from(urlauthToken(key, `${url.rump};URLAUTH=${url.auth.access}`), 'latin1');
      const got = Buffer.from(url.auth.token.toLowerCase(), 'latin1');
      if (want.length !== got.length || !timingSafeEqual(want, got)) return null;
    }
    for await (const m of ctx.mail.readMessages(mb.id, [url.uid], { index: true })) {
      return { url, mailboxId: mb.id, uid: m.uid, index: m.index, section };
    }
    return null;
  } catch (e) {
    if (isStoreError(e, 'NOT_FOUND')) return null;
    throw e;
  }
}

async function ownerOf(ctx: UrlContext, url: ImapUrl): Promise<number | null> {
  if (url.user === null || sameUser(url.user, ctx.user.address, url.host)) return ctx.user.id;
  if (!ctx.directory) return null;
  const names = url.user.includes('@') || !url.host ? [url.user] : [`${url.user}@${url.host}`, url.user];
  for (const n of names) {
    const u = await ctx.directory.getUser(n.toLowerCase());
    if (u) return u.id;
  }
  return null;
}

/** The bytes the URL designates (section, then partial); null when the section does not exist. */
export async function urlBytes(ctx: UrlContext, r: ResolvedUrl): Promise<Buffer | null> {
  try {
    const data = await sectionBytes(ctx.mail, r.mailboxId, r.uid, r.index, r.section);
    if (data === null || !r.url.partial) return data;
    const p = r.url.partial;
    return applyPartial(data, { start: p.start, length: p.length ?? data.length });
  } catch (e) {
    if (isStoreError(e, 'NOT_FOUND')) return null;
    throw e;
  }
}

/**
 * GENURLAUTH (RFC 4467 section 5.2): signs `rump` (an absolute IMAP URL of the user's own message ending
 * in ";URLAUTH=<access>") with the mailbox's key, creating it on first use. Returns the authorized URL,
 * or null when the rump is not one (wrong form, another user, no such mailbox, "anonymous" access).
 */
export async function generateUrlauth(ctx: UrlContext, rump: string): Promise<string | null> {
  const url = parseImapUrl(rump);
  if (!url || url.user === null || !url.auth || url.auth.mechanism || url.auth.token) return null;
  if (!/^(?:authuser|(?:user|submit)\+.+)$/i.test(url.auth.access)) return null;
  try {
    parseSection(url.section);
  } catch {
    return null;
  }
  if ((await ownerOf({ ...ctx, directory: null }, url)) !== ctx.user.id) return null;
  const mb = await ctx.mail.getMailbox(ctx.user.id, url.mailbox);
  if (!mb || (url.uidValidity !== null && url.uidValidity !== mb.uidValidity)) return null;
  const key = await ctx.mail.urlauthKey(mb.id, true);
  if (!key) return null;
  const signed = `${url.rump};URLAUTH=${url.auth.access}`;
  return `${signed}:INTERNAL:${urlauthToken(key, signed)}`;
}
