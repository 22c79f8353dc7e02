/**
 * Email/set (RFC 8621 4.6), Email/copy (4.7), Email/import (4.8), Email/parse (4.9).
 * Each Email lives in exactly one mailbox (maxMailboxesPerEmail 1): changing mailboxIds moves the message
 * (the store keeps its EMAILID), keywords are IMAP flags, destroy expunges. Moves into or out of the Junk
 * mailbox are reported to the spam filter (trainOnMove). Every change goes through the store, so IMAP IDLE,
 * POP3 and other JMAP clients see it from the change log.
 */
import { LIMITS, type Args, type Call } from './api.js';
import type { Account, Box, EmailRec } from './account.js';
import { applyPatch, checkSetSize, optBool, optString, resolveId } from './args.js';
import { MethodError, invalid, setError, type SetError } from './errors.js';
import { flagsFor, isKeyword, keywordsOf } from './keywords.js';
import { messageBlobId, readBlob, readEmailRaw } from './blob.js';
import { composeDraft } from './compose.js';
import { roleOf, storeSetError } from './mailbox.js';
import { checkRights } from './shared.js';
import { bodyOptions, bodyProperties, emailProperties, headerProperty } from './email-get.js';
import { indexMessage, normalizeLineEndings, parseHeaderBlock } from '../mime/index.js';
import type { Store } from '../store/handle.js';

type Obj = Record<string, unknown>;

/**
 * Tells the spam filter about messages moved between mailboxes (into Junk: spam; out of Junk: ham), through
 * src/spam's noteTransfer when that module is present. Never throws.
 */
export async function trainOnMove(store: Store, userId: number, from: Box, to: Box, uids: number[]): Promise<void> {
  if (uids.length === 0 || (roleOf(from) !== 'junk' && roleOf(to) !== 'junk')) return;
  try {
    const specifier: string = '../spam/index.js';
    const mod = (await import(specifier)) as { noteTransfer?: (s: Store, u: number, f: number, t: number, uids: number[]) => Promise<void> };
    await mod.noteTransfer?.(store, userId, from.mb.id, to.mb.id, uids);
  } catch {
    // training is best effort
  }
}

function readBlobFor(call: Call): (id: string) => Promise<{ data: Buffer; type: string } | null> {
  return (id: string) => readBlob(call.account, resolveId(call, id), call.server.blobSources(call.user));
}

/** The single mailbox of a mailboxIds value, or a SetError. */
function targetBox(call: Call, mailboxIds: unknown): Box {
  if (typeof mailboxIds !== 'object' || mailboxIds === null || Array.isArray(mailboxIds)) throw setError('invalidProperties', 'mailboxIds must be an object', ['mailboxIds']);
  const ids = Object.entries(mailboxIds as Obj)
    .filter(([, v]) => v === true)
    .map(([k]) => resolveId(call, k));
  if (Object.values(mailboxIds as Obj).some((v) => v !== true)) throw setError('invalidProperties', 'mailboxIds values must be true', ['mailboxIds']);
  if (ids.length === 0) throw setError('invalidProperties', 'an Email must be in a mailbox', ['mailboxIds']);
  if (ids.length > 1) throw setError('tooManyMailboxes', 'an Email is in exactly one mailbox on this server', ['mailboxIds']);
  const box = call.account.boxByObjectId.get(ids[0]!);
  if (!box) throw setError('invalidProperties', `no mailbox ${ids[0]}`, ['mailboxIds']);
  return box;
}

function keywordList(v: unknown): string[] {
  if (v === undefined || v === null) return [];
  if (typeof v !== 'object' || Array.isArray(v)) throw setError('invalidProperties', 'keywords must be an object', ['keywords']);
  const out: string[] = [];
  for (const [k, val] of Object.entries(v as Obj)) {
    if (val !== true || !isKeyword(k)) throw setError('invalidProperties', `bad keyword ${k}`, ['keywords']);
    out.push(k.toLowerCase());
  }
  return out;
}

function receivedAt(v: unknown): Date | undefined {
  if (v === undefined || v === null) return undefined;
  const d = typeof v === 'string' ? new Date(v) : null;
  if (!d || Number.isNaN(d.getTime())) throw setError('invalidProperties', 'receivedAt must be a UTCDate', ['receivedAt']);
  return d;
}

const CREATE_PROPS = new Set([
  'mailboxIds', 'keywords', 'receivedAt', 'messageId', 'inReplyTo', 'references', 'sender', 'from', 'to', 'cc', 'bcc', 'replyTo', 'subject', 'sentAt',
  'bodyStructure', 'bodyValues', 'textBody', 'htmlBody', 'attachments',
]);

/** The keywords the viewer may set on a message of `boxId`: \Seen needs "s", \Deleted "t", others "w" (RFC 4314 4). */
function permittedFlags(a: Account, boxId: number, flags: string[]): string[] {
  const r = a.rightsOf(boxId);
  return flags.filter((f) => (f.toLowerCase() === '\\seen' ? r.includes('s') : f.toLowerCase() === '\\deleted' ? r.includes('t') : r.includes('w')));
}

async function appendAndFind(call: Call, box: Box, raw: Buffer, flags: string[], date: Date | undefined): Promise<EmailRec> {
  const a = call.account;
  checkRights(a, box.mb.id, 'i', 'adding a message');
  const allowed = permittedFlags(a, box.mb.id, flags);
  const privateSeen = a.viewerId !== null && allowed.some((f) => f.toLowerCase() === '\\seen');
  const shared = a.viewerId === null ? allowed : allowed.filter((f) => f.toLowerCase() !== '\\seen');
  const r = await a.store.mail.append(box.mb.id, raw, { flags: shared, ...(date ? { internalDate: date } : {}) });
  if (privateSeen && a.viewerId !== null) await a.store.acl.setSeen(box.mb.id, a.viewerId, [r.uid], true);
  await call.account.sync();
  const rec = call.account.emails.get(r.emailId);
  // Added to a shared mailbox the user may not read ("i" without "r"): the account never sees it.
  if (!rec && !call.account.rightsOf(box.mb.id).includes('r')) return { id: r.emailId, threadId: '', mailboxId: box.mb.id, uid: r.uid, flags, receivedAt: Date.now(), size: raw.length, modseq: r.modseq };
  if (!rec) throw setError('serverFail', 'appended message not found');
  return rec;
}

async function createEmail(call: Call, e: Obj): Promise<EmailRec> {
  for (const k of Object.keys(e)) if (!CREATE_PROPS.has(k) && !k.startsWith('header:')) throw setError('invalidProperties', `cannot set ${k}`, [k]);
  const box = targetBox(call, e['mailboxIds']);
  const keywords = keywordList(e['keywords']);
  const date = receivedAt(e['receivedAt']);
  const raw = await composeDraft(e, readBlobFor(call));
  return appendAndFind(call, box, raw, flagsFor(keywords), date);
}

/** Applies one Email/set update. */
async function updateEmail(call: Call, rec: EmailRec, patch: Obj): Promise<void> {
  const a = call.account;
  const cur: Obj = { keywords: keywordsOf(rec.flags), mailboxIds: { [a.boxes.get(rec.mailboxId)!.mb.mailboxObjectId]: true } };
  for (const k of Object.keys(patch)) {
    const top = k.split('/')[0]!;
    if (top !== 'keywords' && top !== 'mailboxIds') throw setError('invalidProperties', `${top} cannot be changed`, [top]);
  }
  let next: Obj;
  try {
    next = applyPatch(cur, Object.fromEntries(Object.entries(patch).map(([k, v]) => [k.startsWith('mailboxIds/') ? `mailboxIds/${resolveId(call, k.slice(11))}` : k, v])));
  } catch (e) {
    throw setError('invalidPatch', (e as Error).message);
  }
  const keywords = keywordList(next['keywords']);
  const to = targetBox(call, next['mailboxIds']);
  const from = a.boxes.get(rec.mailboxId)!;
  const flags = flagsFor(keywords, rec.flags);
  const same = flags.length === rec.flags.length && flags.every((f) => rec.flags.some((g) => g.toLowerCase() === f.toLowerCase()));
  if (!same) {
    const has = (list: string[], f: string) => list.some((g) => g.toLowerCase() === f.toLowerCase());
    const changed = [...flags.filter((f) => !has(rec.flags, f)), ...rec.flags.filter((f) => !has(flags, f))];
    if (permittedFlags(a, rec.mailboxId, changed).length !== changed.length) throw setError('forbidden', 'changing these keywords needs the s, w or t right on this mailbox');
    if (a.viewerId === null) await a.store.mail.storeFlags(rec.mailboxId, [rec.uid], { op: 'set', flags });
    else {
      // In a shared mailbox \Seen is the viewer's own (store.acl); the other flags are everyone's.
      const isSeenFlag = (f: string) => f.toLowerCase() === '\\seen';
      const added = changed.filter((f) => has(flags, f) && !isSeenFlag(f));
      const removed = changed.filter((f) => !has(flags, f) && !isSeenFlag(f));
      if (added.length) await a.store.mail.storeFlags(rec.mailboxId, [rec.uid], { op: 'add', flags: added });
      if (removed.length) await a.store.mail.storeFlags(rec.mailboxId, [rec.uid], { op: 'remove', flags: removed });
      if (changed.some(isSeenFlag)) await a.store.acl.setSeen(rec.mailboxId, a.viewerId, [rec.uid], flags.some(isSeenFlag));
    }
  }
  if (to.mb.id !== from.mb.id) {
    checkRights(a, from.mb.id, 'te', 'moving a message out');
    checkRights(a, to.mb.id, 'i', 'moving a message in');
    const r = await a.store.mail.move(from.mb.id, [rec.uid], to.mb.id);
    await trainOnMove(a.store, a.userId, from, to, r.pairs.map((p) => p[1]));
  }
}

async function destroyEmails(a: Account, recs: EmailRec[]): Promise<void> {
  const byBox = new Map<number, number[]>();
  for (const r of recs) {
    let l = byBox.get(r.mailboxId);
    if (!l) byBox.set(r.mailboxId, (l = []));
    l.push(r.uid);
  }
  for (const [boxId, uids] of byBox) {
    await a.store.mail.storeFlags(boxId, uids, { op: 'add', flags: ['\\Deleted'] });
    await a.store.mail.expunge(boxId, uids);
  }
}

export async function emailSet(args: Args, call: Call): Promise<Args> {
  const a = call.account;
  checkSetSize(args);
  const oldState = a.emailState();
  const ifInState = optString(args, 'ifInState');
  if (ifInState !== null && ifInState !== oldState) throw new MethodError('stateMismatch');
  const created: Record<string, unknown> = {};
  const notCreated: Record<string, SetError> = {};
  const updated: Record<string, unknown> = {};
  const notUpdated: Record<string, SetError> = {};
  const destroyed: string[] = [];
  const notDestroyed: Record<string, SetError> = {};
  for (const [cid, e] of Object.entries((args['create'] ?? {}) as Record<string, Obj>)) {
    try {
      if (typeof e !== 'object' || e === null) throw setError('invalidProperties', 'not an object');
      const rec = await createEmail(call, e);
      call.createdIds.set(cid, rec.id);
      created[cid] = { id: rec.id, blobId: messageBlobId(rec.id), threadId: rec.threadId || null, size: rec.size };
    } catch (err) {
      notCreated[cid] = storeSetError(err);
    }
  }
  for (const [rawId, patch] of Object.entries((args['update'] ?? {}) as Record<string, Obj>)) {
    const id = resolveId(call, rawId);
    try {
      const rec = a.emails.get(id);
      if (!rec) throw setError('notFound');
      if (typeof patch !== 'object' || patch === null) throw setError('invalidPatch');
      await updateEmail(call, rec, patch);
      updated[id] = null;
    } catch (err) {
      notUpdated[id] = storeSetError(err);
    }
  }
  const toDestroy: EmailRec[] = [];
  for (const rawId of (args['destroy'] ?? []) as string[]) {
    const id = resolveId(call, rawId);
    const rec = a.emails.get(id);
    if (!rec) notDestroyed[id] = setError('notFound');
    else if (!/t.*e|e.*t/.test(a.rightsOf(rec.mailboxId))) notDestroyed[id] = setError('forbidden', 'destroying needs the t and e rights on this mailbox');
    else {
      toDestroy.push(rec);
      destroyed.push(id);
    }
  }
  if (toDestroy.length) await destroyEmails(a, toDestroy);
  await a.sync();
  return { accountId: a.accountId, oldState, newState: a.emailState(), created, updated, destroyed, notCreated, notUpdated, notDestroyed };
}

/**
 * Email/copy (RFC 8621 4.7): within one account a store COPY; between accounts (the user's own and those
 * shared with the user, shared.ts) the message bytes are appended to the target mailbox. New EMAILIDs
 * either way; the target mailbox needs the "i" right.
 */
export async function emailCopy(args: Args, call: Call): Promise<Args> {
  const a = call.account;
  const fromAccountId = args['fromAccountId'];
  if (typeof fromAccountId !== 'string') invalid('fromAccountId is required');
  const from = fromAccountId === a.accountId ? a : await call.server.accountFor(call.user, fromAccountId, call.owners);
  if (!from) throw new MethodError('fromAccountNotFound');
  if (from !== a) await from.sync();
  const ifFrom = optString(args, 'ifFromInState');
  if (ifFrom !== null && ifFrom !== from.emailState()) throw new MethodError('stateMismatch');
  const ifIn = optString(args, 'ifInState');
  const oldState = a.emailState();
  if (ifIn !== null && ifIn !== oldState) throw new MethodError('stateMismatch');
  const create = args['create'];
  if (typeof create !== 'object' || create === null || Array.isArray(create)) invalid('create must be an object');
  const created: Record<string, unknown> = {};
  const notCreated: Record<string, SetError> = {};
  const originals: string[] = [];
  for (const [cid, e] of Object.entries(create as Record<string, Obj>)) {
    try {
      const src = typeof e['id'] === 'string' ? from.emails.get(resolveId(call, e['id'])) : undefined;
      if (!src) throw setError('notFound', 'no such email');
      const box = targetBox(call, e['mailboxIds']);
      if (from !== a) {
        const raw = await readEmailRaw(from, src.id);
        if (!raw) throw setError('notFound', 'no such email');
        const keywords = e['keywords'] !== undefined ? keywordList(e['keywords']) : Object.keys(keywordsOf(src.flags));
        const rec = await appendAndFind(call, box, raw, flagsFor(keywords), receivedAt(e['receivedAt']) ?? new Date(src.receivedAt));
        call.createdIds.set(cid, rec.id);
        created[cid] = { id: rec.id, blobId: messageBlobId(rec.id), threadId: rec.threadId || null, size: rec.size };
        originals.push(src.id);
        continue;
      }
      checkRights(a, box.mb.id, 'i', 'copying a message in');
      const r = await a.store.mail.copy(src.mailboxId, [src.uid], box.mb.id);
      await a.sync();
      const newUid = r.pairs[0]?.[1];
      const rec = newUid === undefined ? undefined : box.byUid.get(newUid);
      if (!rec) throw setError('serverFail', 'copy not found');
      if (e['keywords'] !== undefined) await a.store.mail.storeFlags(box.mb.id, [rec.uid], { op: 'set', flags: flagsFor(keywordList(e['keywords'])) });
      call.createdIds.set(cid, rec.id);
      created[cid] = { id: rec.id, blobId: messageBlobId(rec.id), threadId: rec.threadId || null, size: rec.size };
      originals.push(src.id);
    } catch (err) {
      notCreated[cid] = storeSetError(err);
    }
  }
  await a.sync();
  if (optBool(args, 'onSuccessDestroyOriginal', false) && originals.length) {
    const r = await emailSet({ accountId: from.accountId, destroy: originals, ...(args['destroyFromIfInState'] ? { ifInState: args['destroyFromIfInState'] } : {}) }, { ...call, account: from });
    call.follow.push(['Email/set', r, call.callId]);
  }
  return { fromAccountId, accountId: a.accountId, oldState, newState: a.emailState(), created, notCreated };
}

export async function emailImport(args: Args, call: Call): Promise<Args> {
  const a = call.account;
  const oldState = a.emailState();
  const ifIn = optString(args, 'ifInState');
  if (ifIn !== null && ifIn !== oldState) throw new MethodError('stateMismatch');
  const emails = args['emails'];
  if (typeof emails !== 'object' || emails === null || Array.isArray(emails)) invalid('emails must be an object');
  if (Object.keys(emails).length > 1000) throw new MethodError('requestTooLarge');
  const created: Record<string, unknown> = {};
  const notCreated: Record<string, SetError> = {};
  for (const [cid, e] of Object.entries(emails as Record<string, Obj>)) {
    try {
      if (typeof e['blobId'] !== 'string') throw setError('invalidProperties', 'blobId is required', ['blobId']);
      const blob = await readBlobFor(call)(e['blobId']);
      if (!blob) throw { ...setError('blobNotFound'), notFound: [e['blobId']] };
      const box = targetBox(call, e['mailboxIds']);
      const raw = normalizeLineEndings(blob.data);
      if (parseHeaderBlock(raw.subarray(0, Math.min(raw.length, 65536))).length === 0) throw setError('invalidEmail', 'no header fields');
      const rec = await appendAndFind(call, box, raw, flagsFor(keywordList(e['keywords'])), receivedAt(e['receivedAt']));
      call.createdIds.set(cid, rec.id);
      created[cid] = { id: rec.id, blobId: messageBlobId(rec.id), threadId: rec.threadId || null, size: rec.size };
    } catch (err) {
      notCreated[cid] = storeSetError(err);
    }
  }
  return { accountId: a.accountId, oldState, newState: a.emailState(), created, notCreated };
}

const PARSE_DEFAULT = ['messageId', 'inReplyTo', 'references', 'sender', 'from', 'to', 'cc', 'bcc', 'replyTo', 'subject', 'sentAt', 'hasAttachment', 'preview', 'bodyValues', 'textBody', 'htmlBody', 'attachments'];

export async function emailParse(args: Args, call: Call): Promise<Args> {
  const blobIds = args['blobIds'];
  if (!Array.isArray(blobIds) || !blobIds.every((b) => typeof b === 'string')) invalid('blobIds must be an array of ids');
  // Each blob is parsed whole: bounded as a /get's ids are, and a blob named twice is parsed once.
  if (blobIds.length > LIMITS.maxObjectsInGet) throw new MethodError('requestTooLarge', `at most ${LIMITS.maxObjectsInGet} blobIds`);
  const props = args['properties'] === undefined || args['properties'] === null ? PARSE_DEFAULT : emailProperties(args).filter((p) => p !== 'id');
  for (const p of props) if (['id', 'mailboxIds', 'keywords', 'receivedAt', 'threadId'].includes(p)) invalid(`${p} is not available from Email/parse`);
  const o = bodyOptions(args);
  const parsed: Record<string, unknown> = {};
  const notParsable: string[] = [];
  const notFound: string[] = [];
  for (const id of new Set(blobIds as string[])) {
    const blob = await readBlobFor(call)(id);
    if (!blob) {
      notFound.push(id);
      continue;
    }
    try {
      const raw = normalizeLineEndings(blob.data);
      const index = indexMessage(raw);
      const fields = parseHeaderBlock(raw.subarray(index.root.headerStart, index.root.headerEnd));
      const e: Obj = {};
      for (const p of props) {
        if (p === 'blobId') e[p] = id;
        else if (p === 'size') e[p] = raw.length;
        else {
          const h = headerProperty(fields, p);
          if (h !== undefined) e[p] = h;
        }
      }
      Object.assign(e, bodyProperties(resolveId(call, id), raw, index, props, o));
      parsed[id] = e;
    } catch {
      notParsable.push(id);
    }
  }
  return { accountId: call.account.accountId, parsed, notParsable, notFound };
}
