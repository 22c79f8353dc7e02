/**
 * EmailSubmission (RFC 8621 7), kept in the store (store.jmap, kind "EmailSubmission") so every worker
 * process answers the same and /changes is exact. Sending follows the submission path: the header
 * From/Sender and the envelope MAIL FROM must be the user's (forbiddenFrom / forbiddenMailFrom), Bcc is
 * removed, a missing Date or Message-ID is added, every recipient goes to the outbound queue (which
 * delivers local ones through the delivery stages and relays the rest), and a copy goes to Sent per the
 * user's setting unless one with that Message-ID is there.
 *
 * Delayed sending (7.5, FUTURERELEASE RFC 4865 semantics): a sendAt in the future, an envelope MAIL FROM
 * parameter HOLDFOR (seconds) or HOLDUNTIL (a date), or the server's default hold (sendDelaySec) puts the
 * message in the outbound queue with its first attempt at that time. Until then undoStatus is "pending" and
 * an update of undoStatus to "canceled" takes the message out of the queue; once the queue has tried it,
 * it is "final". deliveryStatus is read from the queue: a recipient still queued is "queued" (with the last
 * error), one no longer queued "yes", every recipient of a canceled submission "no".
 */
import { randomBytes } from 'node:crypto';
import type { Args, Call } from './api.js';
import { checkSetSize, getIds, optObject, optString, optStrings, resolveId } from './args.js';
import { invalid, setError } from './errors.js';
import { checkIfInState, setOutcome, storedChanges } from './stored.js';
import { readEmailRaw } from './blob.js';
import { emailSet } from './email-set.js';
import { storeSetError } from './mailbox.js';
import { asAddresses } from './headers.js';
import { loadIdentities } from './identity.js';
import { parseHeaderBlock } from '../mime/index.js';
import { completeHeader } from '../delivery/submission.js';
import { notOwnedInHeader, ownsAddress } from '../delivery/sender.js';
import { saveToSent, sentCopyWanted } from '../delivery/sent.js';
import { receivedHeader } from '../delivery/trace.js';
import { isStoreError, type OutboundMessage } from '../store/types.js';

export { identityChanges, identityGet, identitySet } from './identity.js';

export const SUBMISSION_KIND = 'EmailSubmission';
/** Longest hold a submission may ask for (the capability's maxDelayedSend), in seconds. */
export const MAX_DELAYED_SEND_SEC = 30 * 24 * 3600;

type Parameters = Record<string, string | null> | null;

interface SubmissionRec {
  id: string;
  identityId: string;
  emailId: string;
  threadId: string;
  envelope: { mailFrom: { email: string; parameters: Parameters }; rcptTo: Array<{ email: string; parameters: Parameters }> };
  sendAt: string;
  queueId: string | null;
  rcpts: string[];
  /** Set once the submission was canceled while held. */
  canceled?: boolean;
  messageId?: string | null;
}

function utcDate(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

async function loadSubmissions(call: Call): Promise<{ state: number; list: SubmissionRec[] }> {
  const { state, objects } = await call.account.store.jmap.listObjects(call.account.userId, SUBMISSION_KIND);
  return { state, list: objects.map((o) => o.data as unknown as SubmissionRec) };
}

async function queued(call: Call, s: SubmissionRec): Promise<OutboundMessage | undefined> {
  return s.queueId && !s.canceled ? (await call.account.store.queue.list()).find((m) => m.id === s.queueId) : undefined;
}

/** Pending while the queue holds the message and has not tried it yet. */
function undoStatus(s: SubmissionRec, q: OutboundMessage | undefined, now: number): 'pending' | 'final' | 'canceled' {
  if (s.canceled) return 'canceled';
  return q && q.attempts === 0 && q.nextAttemptAt.getTime() > now ? 'pending' : 'final';
}

function deliveryStatus(s: SubmissionRec, q: OutboundMessage | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const r of s.rcpts) {
    const waiting = q?.recipients.some((x) => x.toLowerCase() === r.toLowerCase());
    out[r] = s.canceled
      ? { smtpReply: '250 2.0.0 Canceled', delivered: 'no', displayed: 'unknown' }
      : waiting
        ? { smtpReply: q?.lastError ?? '250 2.0.0 Queued', delivered: 'queued', displayed: 'unknown' }
        : { smtpReply: '250 2.0.0 Delivered', delivered: 'yes', displayed: 'unknown' };
  }
  return out;
}

async function submissionObject(call: Call, s: SubmissionRec): Promise<Record<string, unknown>> {
  const q = await queued(call, s);
  return {
    id: s.id,
    identityId: s.identityId,
    emailId: s.emailId,
    threadId: s.threadId,
    envelope: s.envelope,
    sendAt: s.sendAt,
    undoStatus: undoStatus(s, q, Date.now()),
    deliveryStatus: deliveryStatus(s, q),
    dsnBlobIds: [],
    mdnBlobIds: [],
  };
}

export async function submissionGet(args: Args, call: Call): Promise<Args> {
  const { state, list: all } = await loadSubmissions(call);
  const ids = getIds(args, call);
  const byId = new Map(all.map((r) => [r.id, r]));
  const recs = ids === null ? all : ids.map((i) => byId.get(i)).filter((x): x is SubmissionRec => !!x);
  const list = [];
  for (const r of recs) list.push(await submissionObject(call, r));
  const props = args['properties'];
  const shaped = Array.isArray(props) ? list.map((o) => Object.fromEntries(Object.entries(o).filter(([k]) => k === 'id' || (props as string[]).includes(k)))) : list;
  return { accountId: call.account.accountId, state: String(state), list: shaped, notFound: ids === null ? [] : ids.filter((i) => !byId.has(i)) };
}

export async function submissionChanges(args: Args, call: Call): Promise<Args> {
  return storedChanges(args, call, SUBMISSION_KIND);
}

export async function submissionQuery(args: Args, call: Call): Promise<Args> {
  const { state, list: all } = await loadSubmissions(call);
  const f = (args['filter'] ?? {}) as Record<string, unknown>;
  let list = all;
  if (Array.isArray(f['emailIds'])) list = list.filter((s) => (f['emailIds'] as string[]).includes(s.emailId));
  if (Array.isArray(f['threadIds'])) list = list.filter((s) => (f['threadIds'] as string[]).includes(s.threadId));
  if (Array.isArray(f['identityIds'])) list = list.filter((s) => (f['identityIds'] as string[]).includes(s.identityId));
  if (typeof f['undoStatus'] === 'string') {
    const now = Date.now();
    const keep: SubmissionRec[] = [];
    for (const s of list) if (undoStatus(s, await queued(call, s), now) === f['undoStatus']) keep.push(s);
    list = keep;
  }
  list = [...list].sort((x, y) => (x.sendAt < y.sendAt ? 1 : x.sendAt > y.sendAt ? -1 : 0));
  return { accountId: call.account.accountId, queryState: String(state), canCalculateChanges: false, position: 0, ids: list.map((s) => s.id) };
}

/**
 * When a new submission should leave: sendAt, else the envelope's FUTURERELEASE parameter (HOLDFOR seconds
 * or HOLDUNTIL date), else now plus the server's default hold. Throws a SetError for a bad value or a hold
 * beyond MAX_DELAYED_SEND_SEC.
 */
export function releaseTime(o: Record<string, unknown>, params: Parameters, defaultDelaySec: number, now: number): number {
  let at = now + Math.max(0, defaultDelaySec) * 1000;
  const sendAt = o['sendAt'];
  const holdFor = params?.['HOLDFOR'] ?? params?.['holdfor'];
  const holdUntil = params?.['HOLDUNTIL'] ?? params?.['holduntil'];
  if (sendAt !== undefined && sendAt !== null) {
    const t = typeof sendAt === 'string' && /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/.test(sendAt) ? Date.parse(sendAt) : NaN;
    if (Number.isNaN(t)) throw setError('invalidProperties', 'sendAt must be a UTCDate', ['sendAt']);
    at = Math.max(now, t);
  } else if (typeof holdFor === 'string') {
    if (!/^\d{1,9}$/.test(holdFor)) throw setError('invalidProperties', 'HOLDFOR must be a number of seconds', ['envelope']);
    at = now + Number(holdFor) * 1000;
  } else if (typeof holdUntil === 'string') {
    const t = Date.parse(holdUntil);
    if (Number.isNaN(t)) throw setError('invalidProperties', 'HOLDUNTIL must be a date', ['envelope']);
    at = Math.max(now, t);
  }
  if (at - now > MAX_DELAYED_SEND_SEC * 1000) throw setError('invalidProperties', `at most ${MAX_DELAYED_SEND_SEC} seconds of delay`, [sendAt !== undefined && sendAt !== null ? 'sendAt' : 'envelope']);
  return at;
}

function parametersOf(v: unknown): Parameters {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'object' || Array.isArray(v) || !Object.values(v).every((x) => x === null || typeof x === 'string')) throw setError('invalidProperties', 'envelope parameters must map names to strings or null', ['envelope']);
  return v as Record<string, string | null>;
}

/** Removes Bcc fields from a header block (RFC 5322 3.6.3: the copies sent carry none). */
function withoutBcc(raw: Buffer): Buffer {
  const end = raw.indexOf('\r\n\r\n');
  const head = end < 0 ? raw : raw.subarray(0, end + 2);
  const lines = head.toString('latin1').split(/\r\n(?![ \t])/);
  const kept = lines.filter((l) => !/^bcc\s*:/i.test(l));
  if (kept.length === lines.length) return raw;
  return Buffer.concat([Buffer.from(kept.join('\r\n'), 'latin1'), end < 0 ? Buffer.alloc(0) : raw.subarray(end + 2)]);
}

async function send(call: Call, identities: Map<string, { id: string; email: string }>, o: Record<string, unknown>): Promise<SubmissionRec> {
  const a = call.account;
  const identity = typeof o['identityId'] === 'string' ? identities.get(resolveId(call, o['identityId'])) : undefined;
  if (!identity) throw setError('invalidProperties', 'no such identity', ['identityId']);
  const emailId = typeof o['emailId'] === 'string' ? resolveId(call, o['emailId']) : '';
  const rec = a.emails.get(emailId);
  if (!rec) throw setError('invalidProperties', 'no such email', ['emailId']);
  const stored = await readEmailRaw(a, emailId);
  if (!stored) throw setError('invalidProperties', 'no such email', ['emailId']);
  const forged = await notOwnedInHeader(a.store.directory, call.user, stored);
  if (forged) throw setError('forbiddenFrom', forged);
  const fields = parseHeaderBlock(stored.subarray(0, Math.max(0, stored.indexOf('\r\n\r\n')) + 2));
  let mailFrom: string;
  let rcpts: string[];
  let params: Parameters = null;
  const env = o['envelope'] as { mailFrom?: { email?: unknown; parameters?: unknown }; rcptTo?: Array<{ email?: unknown }> } | null | undefined;
  if (env) {
    if (typeof env.mailFrom?.email !== 'string' || !Array.isArray(env.rcptTo)) throw setError('invalidProperties', 'bad envelope', ['envelope']);
    mailFrom = env.mailFrom.email;
    params = parametersOf(env.mailFrom.parameters);
    rcpts = env.rcptTo.map((r) => String(r.email));
  } else {
    const pick = (n: string) => fields.filter((f) => f.name.toLowerCase() === n).flatMap((f) => asAddresses(f.value).map((x) => x.email));
    mailFrom = pick('sender')[0] ?? pick('from')[0] ?? identity.email;
    rcpts = [...new Set([...pick('to'), ...pick('cc'), ...pick('bcc')].map((x) => x.toLowerCase()))];
  }
  if (!(await ownsAddress(a.store.directory, call.user, mailFrom))) throw setError('forbiddenMailFrom', `${mailFrom} is not one of your addresses`);
  if (rcpts.length === 0) throw setError('noRecipients');
  const bad = rcpts.filter((r) => !/^[^\s@<>]+@[^\s@<>]+$/.test(r));
  if (bad.length) throw { ...setError('invalidRecipients'), invalidRecipients: bad };
  const now = Date.now();
  const release = releaseTime(o, params, call.server.ctx.sendDelaySec ?? 0, now);
  const { raw, messageId } = completeHeader(withoutBcc(stored), call.server.ctx.hostname);
  const date = new Date(now);
  const hop = receivedHeader({ helo: 'jmap', remoteAddress: call.remoteAddress, by: call.server.ctx.hostname, protocol: 'HTTP', id: randomBytes(6).toString('hex'), date });
  const held = release > now;
  const queueId = await a.store.queue.enqueue(mailFrom, rcpts, Buffer.concat([Buffer.from(hop, 'utf8'), raw]), held ? { notBefore: new Date(release) } : {});
  if (!held) call.server.ctx.queue?.kick();
  return {
    id: 'S' + randomBytes(9).toString('base64url').replace(/_/g, 'x'),
    identityId: identity.id,
    emailId,
    threadId: rec.threadId,
    envelope: { mailFrom: { email: mailFrom, parameters: params }, rcptTo: rcpts.map((r) => ({ email: r, parameters: null })) },
    sendAt: utcDate(new Date(release)),
    queueId,
    rcpts,
    messageId,
  };
}

/** Cancels a held submission (update {undoStatus: "canceled"}); throws a SetError when it cannot. */
async function cancel(call: Call, s: SubmissionRec | undefined, patch: unknown): Promise<SubmissionRec> {
  if (!s) throw setError('notFound');
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) throw setError('invalidPatch');
  const bad = Object.keys(patch).find((k) => k !== 'undoStatus');
  if (bad) throw setError('invalidProperties', `cannot change ${bad}`, [bad]);
  if ((patch as Record<string, unknown>)['undoStatus'] !== 'canceled') throw setError('invalidProperties', 'undoStatus can only become canceled', ['undoStatus']);
  const q = await queued(call, s);
  // Not within a second of release: the queue may be about to claim it.
  if (undoStatus(s, q, Date.now() + 1000) !== 'pending' || !s.queueId) throw setError('cannotUnsend', 'the message has been sent');
  try {
    await call.account.store.queue.remove(s.queueId);
  } catch (e) {
    if (isStoreError(e, 'NOT_FOUND')) throw setError('cannotUnsend', 'the message has been sent');
    throw e;
  }
  return { ...s, canceled: true };
}

export async function submissionSet(args: Args, call: Call): Promise<Args> {
  const a = call.account;
  checkSetSize(args);
  // Checked before anything is sent: a bad implicit Email/set must not fail a call that already submitted.
  const upd = optObject(args, 'onSuccessUpdateEmail') as Record<string, Record<string, unknown>> | null;
  const des = optStrings(args, 'onSuccessDestroyEmail');
  const { state, list } = await loadSubmissions(call);
  const byId = new Map(list.map((r) => [r.id, r]));
  const oldState = String(state);
  optString(args, 'ifInState');
  checkIfInState(args, oldState);
  const identities = new Map((await loadIdentities(call)).list.map((i) => [i.id, i]));
  const outcome = setOutcome();
  const { created, notCreated, updated, notUpdated, destroyed, notDestroyed } = outcome;
  const put: SubmissionRec[] = [];
  const sent: Array<{ cid: string; s: SubmissionRec }> = [];
  for (const [cid, o] of Object.entries((args['create'] ?? {}) as Record<string, Record<string, unknown>>)) {
    try {
      const s = await send(call, identities, o);
      put.push(s);
      call.createdIds.set(cid, s.id);
      created[cid] = { id: s.id, undoStatus: s.sendAt > utcDate(new Date()) ? 'pending' : 'final', sendAt: s.sendAt };
      sent.push({ cid, s });
    } catch (e) {
      notCreated[cid] = storeSetError(e);
    }
  }
  for (const [rawId, patch] of Object.entries((args['update'] ?? {}) as Record<string, unknown>)) {
    const id = resolveId(call, rawId);
    try {
      put.push(await cancel(call, byId.get(id) ?? put.find((p) => p.id === id), patch));
      updated[id] = { undoStatus: 'canceled' };
    } catch (e) {
      notUpdated[id] = storeSetError(e);
    }
  }
  const gone: string[] = [];
  for (const rawId of (args['destroy'] ?? []) as string[]) {
    const id = resolveId(call, rawId);
    if (byId.has(id) || put.some((p) => p.id === id)) {
      gone.push(id);
      destroyed.push(id);
    } else notDestroyed[id] = setError('notFound');
  }
  // Messages already queued are not undone when this write fails: it only records them.
  const newState = await a.store.jmap.writeObjects(a.userId, SUBMISSION_KIND, { put: put.map((s) => ({ id: s.id, data: { ...s } })), destroy: gone });
  const out: Args = { accountId: a.accountId, oldState, newState: String(newState), ...outcome };
  // RFC 8621 7.5: onSuccessUpdateEmail / onSuccessDestroyEmail, run as an implicit Email/set after this response.
  const ref = (k: string): string | null => {
    if (!k.startsWith('#')) return byId.get(k)?.emailId ?? null;
    const hit = sent.find((x) => x.cid === k.slice(1));
    return hit ? hit.s.emailId : null;
  };
  const update: Record<string, unknown> = {};
  for (const [k, patch] of Object.entries(upd ?? {})) {
    const e = ref(k);
    if (e) update[e] = patch;
  }
  const destroy = (des ?? []).map(ref).filter((x): x is string => !!x);
  if (Object.keys(update).length || destroy.length) {
    const r = await emailSet({ accountId: a.accountId, update, destroy }, call);
    call.follow.push(['Email/set', r, call.callId]);
  }
  // The Sent copy of the submission path, unless the client filed the message itself (same Message-ID).
  for (const { s } of sent) {
    try {
      if (await sentCopyWanted(a.store.mail, a.userId, true)) {
        const raw = await readEmailRaw(a, s.emailId);
        const box = a.boxes.get(a.emails.get(s.emailId)?.mailboxId ?? -1);
        const filed = box && box.mb.specialUse === '\\Sent';
        if (raw && !filed && !destroy.includes(s.emailId)) await saveToSent(a.store.mail, a.userId, withoutBcc(raw), s.messageId ?? null);
      }
    } catch (e) {
      call.server.ctx.logger.warn({ err: String(e) }, 'could not save Sent copy');
    }
  }
  await a.sync();
  return out;
}
