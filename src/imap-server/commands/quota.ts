/**
 * GETQUOTA, GETQUOTAROOT and SETQUOTA (RFC 9208 QUOTA, resources STORAGE and MESSAGE) over the store's
 * per-user quotas (store/quota.ts).
 *
 * Grammar (RFC 9208 section 9):
 *   GETQUOTA SP quota-root-name
 *   GETQUOTAROOT SP mailbox
 *   SETQUOTA SP quota-root-name SP "(" [resource-name SP resource-limit *(SP resource-name SP resource-limit)] ")"
 *     quota-root-name = astring; resource-name = atom; resource-limit = number64
 * A malformed command (a resource name that is no atom, a limit that is no number64, e.g. negative, an odd
 * list, a resource named twice) is BAD.
 *
 * One quota root per user, named "" (as in RFC 9208's examples): every mailbox of the user is in it.
 * STORAGE is in units of 1024 octets (usage rounded up, the limit down); MESSAGE counts messages. Only
 * resources with a limit are reported; a user without any limit has no quota root (GETQUOTAROOT lists none,
 * GETQUOTA "" is NO), since a QUOTA response needs at least one resource. Any other root name is NO.
 *
 * SETQUOTA needs the administrator role (isAdmin, store/directory.ts); everyone else gets NO [NOPERM]. It sets the caller's
 * own root "": the resources named get those limits, the others none (RFC 9208 4.1.3); an unknown
 * resource is NO and changes nothing. SETQUOTA is not advertised (no QUOTASET): only administrators use it.
 */
import { Args, ParseError, parseNumber } from '../../imap/grammar/args.js';
import { WireWriter } from '../../imap/wire/encode.js';
import type { QuotaLimits, QuotaStore, QuotaUsage } from '../../store/quota.js';
import type { Mailbox } from '../../store/types.js';
import { isAdmin } from '../../store/directory.js';
import { no, ok } from '../errors.js';
import { AUTH, currentUser, defineCommand, type CommandContext } from '../session.js';
import { resolveMailbox } from '../namespaces.js';

/** The name of each user's one quota root. */
export const QUOTA_ROOT = '';

/** The resources advertised as QUOTA=RES-... and reported by GETQUOTA. */
export const QUOTA_RESOURCES = ['STORAGE', 'MESSAGE'] as const;
export type QuotaResource = (typeof QUOTA_RESOURCES)[number];

// ---- grammar ----

export interface SetQuotaArgs {
  root: string;
  limits: Array<{ resource: string; limit: number }>;
}

export function parseGetQuota(args: Args): { root: string } {
  const root = args.astring('quota root name');
  args.end();
  return { root };
}

export function parseGetQuotaRoot(args: Args): { mailbox: string } {
  const mailbox = args.astring('mailbox name');
  args.end();
  return { mailbox };
}

export function parseSetQuota(args: Args): SetQuotaArgs {
  const root = args.astring('quota root name');
  const list = args.list('resource limit list');
  args.end();
  if (list.length % 2) throw new ParseError('Each resource needs a limit');
  const limits: SetQuotaArgs['limits'] = [];
  for (let i = 0; i < list.length; i += 2) {
    const name = list[i]!;
    const value = list[i + 1]!;
    if (name.t !== 'atom') throw new ParseError('Invalid resource name');
    if (value.t !== 'atom') throw new ParseError('Invalid resource limit');
    const resource = name.v.toUpperCase();
    if (limits.some((l) => l.resource === resource)) throw new ParseError(`Resource ${resource} given twice`);
    limits.push({ resource, limit: parseNumber(value.v, 'resource limit', Number.MAX_SAFE_INTEGER) });
  }
  return { root, limits };
}

// ---- handlers ----

/** RFC 9208 resource values: STORAGE in units of 1024 octets (usage up, limit down), MESSAGE as is. */
export function quotaItems(usage: QuotaUsage, limits: QuotaLimits): string[] {
  const items: string[] = [];
  if (limits.storage !== null) items.push(`STORAGE ${Math.ceil(usage.storage / 1024)} ${Math.floor(limits.storage / 1024)}`);
  if (limits.messages !== null) items.push(`MESSAGE ${usage.messages} ${limits.messages}`);
  return items;
}

function quotaStore(ctx: CommandContext): QuotaStore {
  const q = ctx.service.quota;
  if (!q) throw no('Quotas are not available');
  return q;
}

/** Sends "* QUOTA "" (...)" for the user and returns true, or returns false when the user has no limit. */
async function sendQuota(ctx: CommandContext, userId: number): Promise<boolean> {
  const q = quotaStore(ctx);
  const [usage, limits] = await Promise.all([q.usage(userId), q.limits(userId)]);
  const items = quotaItems(usage, limits);
  if (!items.length) return false;
  const w = new WireWriter(ctx.session.utf8);
  w.text('* QUOTA ').astring(QUOTA_ROOT).text(` (${items.join(' ')})\r\n`);
  ctx.session.send(w.toBuffer());
  return true;
}

export const getquota = defineCommand({
  states: AUTH,
  seq: 'none',
  parse: parseGetQuota,
  async run(ctx, args) {
    if (args.root !== QUOTA_ROOT || !(await sendQuota(ctx, currentUser(ctx).id))) throw no('Quota root does not exist');
    return ok('Getquota completed');
  },
});

export const getquotaroot = defineCommand({
  states: AUTH,
  seq: 'none',
  parse: parseGetQuotaRoot,
  async run(ctx, args) {
    // Another owner's mailbox (namespaces.ts) counts against the owner's quota, whose root is not the
    // caller's "": it is answered without a quota root.
    const target = await resolveMailbox(ctx, ctx.session.decodeMailbox(args.mailbox), 'l');
    const mb: Mailbox = target.shown;
    const q = quotaStore(ctx);
    const limits = await q.limits(mb.userId);
    const rooted = target.own && (limits.storage !== null || limits.messages !== null);
    const w = new WireWriter(ctx.session.utf8);
    w.text('* QUOTAROOT ').astring(ctx.session.encodeMailbox(mb.name));
    if (rooted) w.sp().astring(QUOTA_ROOT);
    ctx.session.send(w.text('\r\n').toBuffer());
    if (rooted) await sendQuota(ctx, mb.userId);
    return ok('Getquotaroot completed');
  },
});

export const setquota = defineCommand({
  states: AUTH,
  seq: 'none',
  parse: parseSetQuota,
  async run(ctx, args) {
    const user = currentUser(ctx);
    if (!isAdmin(user)) throw no('Permission denied', 'NOPERM');
    if (args.root !== QUOTA_ROOT) throw no('Quota root does not exist');
    const unknown = args.limits.find((l) => !(QUOTA_RESOURCES as readonly string[]).includes(l.resource));
    if (unknown) throw no(`Unknown resource ${unknown.resource}`);
    const storage = args.limits.find((l) => l.resource === 'STORAGE')?.limit;
    const messages = args.limits.find((l) => l.resource === 'MESSAGE')?.limit;
    if (storage !== undefined && storage > Math.floor(Number.MAX_SAFE_INTEGER / 1024)) throw no('Storage limit too large');
    await quotaStore(ctx).setLimits(user.id, {
      storage: storage === undefined ? Number.POSITIVE_INFINITY : storage * 1024,
      messages: messages ?? Number.POSITIVE_INFINITY,
    });
    await sendQuota(ctx, user.id);
    return ok('Setquota completed');
  },
});

/**
 * STATUS DELETED-STORAGE (RFC 9208 section 4.2): what an EXPUNGE would give back, the sizes of the
 * messages with \Deleted, in units of 1024 octets (rounded up, as STORAGE usage is).
 */
export async function deletedStorage(ctx: CommandContext, mb: Mailbox): Promise<number> {
  let octets = 0;
  for (const m of await ctx.service.store.listMessages(mb.id)) if (m.flags.some((f) => f.toLowerCase() === '\\deleted')) octets += m.size;
  return Math.ceil(octets / 1024);
}
