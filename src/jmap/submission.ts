/**
 * Identity (RFC 8621 6) and EmailSubmission (RFC 8621 7). Identities are the user's address and the aliases
 * that resolve to them (the same ownership rule as SMTP submission, delivery/sender.ts), with a name and
 * signatures kept per server process. Sending follows the submission path: the header From/Sender and the
 * envelope MAIL FROM must be the user's (forbiddenFrom / forbiddenMailFrom), Bcc is removed, a missing
 * Date or Message-ID is added, every recipient goes to the outbound queue (which delivers local ones through
 * the delivery stages and relays the rest), and a copy goes to Sent per the user's setting unless one with
 * that Message-ID is there. undoStatus is "final" (no delayed sending: maxDelayedSend 0); deliveryStatus
 * is read from the outbound queue: a recipient still queued is "queued" (with the last error), one no
 * longer queued "yes".
 */
import { randomBytes } from 'node:crypto';
import type { Args, Call } from './api.js';
import type { Account } from './account.js';
import { checkSetSize, getIds, optString, resolveId } from './args.js';
import { MethodError, invalid, setError, type SetError } from './errors.js';
import { readEmailRaw } from './blob.js';
import { emailSet } from './email-set.js';
import { storeSetError } from './mailbox.js';
import { asAddresses } from './headers.js';
import { parseHeaderBlock } from '../mime/index.js';
import { completeHeader } from '../delivery/submission.js';
import { notOwnedInHeader, ownsAddress } from '../delivery/sender.js';
import { saveToSent, sentCopyWanted } from '../delivery/sent.js';
import { receivedHeader } from '../delivery/trace.js';

interface IdentityRec {
  id: string;
  name: string;
  email: string;
  replyTo: null;
  bcc: null;
  textSignature: string;
  htmlSignature: string;
  mayDelete: boolean;
}

interface SubmissionRec {
  id: string;
  identityId: string;
  emailId: string;
  threadId: string;
  envelope: { mailFrom: { email: string; parameters: null }; rcptTo: Array<{ email: string; parameters: null }> };
  sendAt: string;
  queueId: string | null;
  rcpts: string[];
}

/** Per account, per process: identity settings and submissions (RFC 8621 7: the server may forget old ones). */
interface Book {
  identities: Map<string, IdentityRec>;
  identityState: number;
  submissions: Map<string, SubmissionRec>;
  submissionState: number;
  destroyedSubmissions: Map<string, number>;
  createdSubmissions: Map<string, number>;
}
const books = new WeakMap<Account, Book>();

async function book(call: Call): Promise<Book> {
  const a = call.account;
  let b = books.get(a);
  if (!b) {
    b = { identities: new Map(), identityState: 0, submissions: new Map(), submissionState: 0, destroyedSubmissions: new Map(), createdSubmissions: new Map() };
    books.set(a, b);
    const addrs = [call.user.address];
    for (const al of await a.store.directory.listAliases()) if (await ownsAddress(a.store.directory, call.user, al.from)) addrs.push(al.from);
    for (const [i, email] of addrs.entries()) {
      const id = i === 0 ? 'primary' : `alias${i}`;
      b.identities.set(id, { id, name: '', email, replyTo: null, bcc: null, textSignature: '', htmlSignature: '', mayDelete: false });
    }
  }
  return b;
}

export async function identityGet(args: Args, call: Call): Promise<Args> {
  const b = await book(call);
  const ids = getIds(args, call);
  const list = ids === null ? [...b.identities.values()] : ids.map((i) => b.identities.get(i)).filter((x): x is IdentityRec => !!x);
  const notFound = ids === null ? [] : ids.filter((i) => !b.identities.has(i));
  return { accountId: call.account.accountId, state: String(b.identityState), list, notFound };
}

export async function identityChanges(args: Args, call: Call): Promise<Args> {
  const b = await book(call);
  const since = args['sinceState'];
  if (typeof since !== 'string') invalid('sinceState is required');
  if (since !== String(b.identityState)) throw new MethodError('cannotCalculateChanges');
  return { accountId: call.account.accountId, oldState: since, newState: since, hasMoreChanges: false, created: [], updated: [], destroyed: [] };
}

export async function identitySet(args: Args, call: Call): Promise<Args> {
  const b = await book(call);
  checkSetSize(args);
  const oldState = String(b.identityState);
  if (args['ifInState'] !== undefined && args['ifInState'] !== null && args['ifInState'] !== oldState) throw new MethodError('stateMismatch');
  const created: Record<string, unknown> = {};
  const notCreated: Record<string, SetError> = {};
  const updated: Record<string, unknown> = {};
  const notUpdated: Record<string, SetError> = {};
  const destroyed: string[] = [];
  const notDestroyed: Record<string, SetError> = {};
  for (const [cid, o] of Object.entries((args['create'] ?? {}) as Record<string, Record<string, unknown>>)) {
    const email = typeof o['email'] === 'string' ? o['email'].toLowerCase() : '';
    if (!email || !(await ownsAddress(call.account.store.directory, call.user, email))) {
      notCreated[cid] = setError('forbiddenFrom', `${email} is not one of your addresses`);
      continue;
    }
    const id = 'i' + randomBytes(6).toString('hex');
    b.identities.set(id, { id, name: typeof o['name'] === 'string' ? o['name'] : '', email, replyTo: null, bcc: null, textSignature: String(o['textSignature'] ?? ''), htmlSignature: String(o['htmlSignature'] ?? ''), mayDelete: true });
    call.createdIds.set(cid, id);
    created[cid] = { id, mayDelete: true };
    b.identityState++;
  }
  for (const [rawId, patch] of Object.entries((args['update'] ?? {}) as Record<string, Record<string, unknown>>)) {
    const id = resolveId(call, rawId);
    const rec = b.identities.get(id);
    if (!rec) {
      notUpdated[id] = setError('notFound');
      continue;
    }
    const bad = Object.keys(patch).find((k) => !['name', 'textSignature', 'htmlSignature'].includes(k) || typeof patch[k] !== 'string');
    if (bad) {
      notUpdated[id] = setError('invalidProperties', `cannot set ${bad}`, [bad]);
      continue;
    }
    Object.assign(rec, patch);
    updated[id] = null;
    b.identityState++;
  }
  for (const rawId of (args['destroy'] ?? []) as string[]) {
    const id = resolveId(call, rawId);
    const rec = b.identities.get(id);
    if (!rec) notDestroyed[id] = setError('notFound');
    else if (!rec.mayDelete) notDestroyed[id] = setError('forbidden', 'this identity is your own address');
    else {
      b.identities.delete(id);
      destroyed.push(id);
      b.identityState++;
    }
  }
  return { accountId: call.account.accountId, oldState, newState: String(b.identityState), created, updated, destroyed, notCreated, notUpdated, notDestroyed };
}

async function deliveryStatus(call: Call, s: SubmissionRec): Promise<Record<string, unknown>> {
  const queued = s.queueId ? (await call.account.store.queue.list()).find((m) => m.id === s.queueId) : undefined;
  const out: Record<string, unknown> = {};
  for (const r of s.rcpts) {
    const waiting = queued?.recipients.some((x) => x.toLowerCase() === r.toLowerCase());
    out[r] = waiting
      ? { smtpReply: queued?.lastError ?? '250 2.0.0 Queued', delivered: 'queued', displayed: 'unknown' }
      : { smtpReply: '250 2.0.0 Delivered', delivered: 'yes', displayed: 'unknown' };
  }
  return out;
}

async function submissionObject(call: Call, s: SubmissionRec): Promise<Record<string, unknown>> {
  return {
    id: s.id,
    identityId: s.identityId,
    emailId: s.emailId,
    threadId: s.threadId,
    envelope: s.envelope,
    sendAt: s.sendAt,
    undoStatus: 'final',
    deliveryStatus: await deliveryStatus(call, s),
    dsnBlobIds: [],
    mdnBlobIds: [],
  };
}

export async function submissionGet(args: Args, call: Call): Promise<Args> {
  const b = await book(call);
  const ids = getIds(args, call);
  const recs = ids === null ? [...b.submissions.values()] : ids.map((i) => b.submissions.get(i)).filter((x): x is SubmissionRec => !!x);
  const list = [];
  for (const r of recs) list.push(await submissionObject(call, r));
  const props = args['properties'];
  const shaped = Array.isArray(props) ? list.map((o) => Object.fromEntries(Object.entries(o).filter(([k]) => k === 'id' || (props as string[]).includes(k)))) : list;
  return { accountId: call.account.accountId, state: String(b.submissionState), list: shaped, notFound: ids === null ? [] : ids.filter((i) => !b.submissions.has(i)) };
}

export async function submissionChanges(args: Args, call: Call): Promise<Args> {
  const b = await book(call);
  const since = Number(args['sinceState']);
  if (!Number.isInteger(since) || since < 0 || since > b.submissionState) throw new MethodError('cannotCalculateChanges');
  const created = [...b.createdSubmissions].filter(([id, st]) => st > since && b.submissions.has(id)).map(([id]) => id);
  const destroyed = [...b.destroyedSubmissions].filter(([, st]) => st > since).map(([id]) => id);
  return { accountId: call.account.accountId, oldState: String(since), newState: String(b.submissionState), hasMoreChanges: false, created, updated: [], destroyed };
}

export async function submissionQuery(args: Args, call: Call): Promise<Args> {
  const b = await book(call);
  const f = (args['filter'] ?? {}) as Record<string, unknown>;
  let list = [...b.submissions.values()];
  if (Array.isArray(f['emailIds'])) list = list.filter((s) => (f['emailIds'] as string[]).includes(s.emailId));
  if (Array.isArray(f['threadIds'])) list = list.filter((s) => (f['threadIds'] as string[]).includes(s.threadId));
  if (Array.isArray(f['identityIds'])) list = list.filter((s) => (f['identityIds'] as string[]).includes(s.identityId));
  list.sort((x, y) => (x.sendAt < y.sendAt ? 1 : -1));
  return { accountId: call.account.accountId, queryState: String(b.submissionState), canCalculateChanges: false, position: 0, ids: list.map((s) => s.id) };
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

async function send(call: Call, b: Book, o: Record<string, unknown>): Promise<SubmissionRec> {
  const a = call.account;
  const identity = typeof o['identityId'] === 'string' ? b.identities.get(resolveId(call, o['identityId'])) : undefined;
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
  const env = o['envelope'] as { mailFrom?: { email?: unknown }; rcptTo?: Array<{ email?: unknown }> } | null | undefined;
  if (env) {
    if (typeof env.mailFrom?.email !== 'string' || !Array.isArray(env.rcptTo)) throw setError('invalidProperties', 'bad envelope', ['envelope']);
    mailFrom = env.mailFrom.email;
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
  const { raw, messageId } = completeHeader(withoutBcc(stored), call.server.ctx.hostname);
  const date = new Date();
  const hop = receivedHeader({ helo: 'jmap', remoteAddress: call.remoteAddress, by: call.server.ctx.hostname, protocol: 'HTTP', id: randomBytes(6).toString('hex'), date });
  const queueId = await a.store.queue.enqueue(mailFrom, rcpts, Buffer.concat([Buffer.from(hop, 'utf8'), raw]));
  call.server.ctx.queue?.kick();
  const id = 'S' + randomBytes(9).toString('base64url').replace(/_/g, 'x');
  const s: SubmissionRec = {
    id,
    identityId: identity.id,
    emailId,
    threadId: rec.threadId,
    envelope: { mailFrom: { email: mailFrom, parameters: null }, rcptTo: rcpts.map((r) => ({ email: r, parameters: null })) },
    sendAt: date.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    queueId,
    rcpts,
  };
  return Object.assign(s, { messageId } as object);
}

export async function submissionSet(args: Args, call: Call): Promise<Args> {
  const b = await book(call);
  const a = call.account;
  checkSetSize(args);
  const oldState = String(b.submissionState);
  const ifIn = optString(args, 'ifInState');
  if (ifIn !== null && ifIn !== oldState) throw new MethodError('stateMismatch');
  const created: Record<string, unknown> = {};
  const notCreated: Record<string, SetError> = {};
  const notUpdated: Record<string, SetError> = {};
  const destroyed: string[] = [];
  const notDestroyed: Record<string, SetError> = {};
  const sent: Array<{ cid: string; s: SubmissionRec & { messageId?: string | null } }> = [];
  for (const [cid, o] of Object.entries((args['create'] ?? {}) as Record<string, Record<string, unknown>>)) {
    try {
      const s = await send(call, b, o);
      b.submissions.set(s.id, s);
      b.submissionState++;
      b.createdSubmissions.set(s.id, b.submissionState);
      call.createdIds.set(cid, s.id);
      created[cid] = { id: s.id, undoStatus: 'final', sendAt: s.sendAt };
      sent.push({ cid, s });
    } catch (e) {
      notCreated[cid] = storeSetError(e);
    }
  }
  for (const id of Object.keys((args['update'] ?? {}) as object)) notUpdated[id] = b.submissions.has(id) ? setError('cannotUnsend', 'the message has been sent') : setError('notFound');
  for (const id of (args['destroy'] ?? []) as string[]) {
    if (b.submissions.delete(id)) {
      b.submissionState++;
      b.destroyedSubmissions.set(id, b.submissionState);
      destroyed.push(id);
    } else notDestroyed[id] = setError('notFound');
  }
  const out: Args = { accountId: a.accountId, oldState, newState: String(b.submissionState), created, updated: {}, destroyed, notCreated, notUpdated, notDestroyed };
  // RFC 8621 7.5: onSuccessUpdateEmail / onSuccessDestroyEmail, run as an implicit Email/set after this response.
  const upd = args['onSuccessUpdateEmail'] as Record<string, Record<string, unknown>> | undefined | null;
  const des = args['onSuccessDestroyEmail'] as string[] | undefined | null;
  if (upd !== undefined && upd !== null && (typeof upd !== 'object' || Array.isArray(upd))) invalid('onSuccessUpdateEmail must be an object');
  if (des !== undefined && des !== null && !Array.isArray(des)) invalid('onSuccessDestroyEmail must be an array');
  const ref = (k: string): string | null => {
    if (!k.startsWith('#')) return b.submissions.get(k)?.emailId ?? null;
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
