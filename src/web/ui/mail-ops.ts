/** Webmail operations over JMAP: listing, moving, keywords, sending. */
import { FULL_PROPS, SUMMARY_PROPS, type EmailFull, type EmailSummary, type Invocation, type Jmap, type Mailbox } from './jmap';

export const PAGE = 100;
/**
 * Rows of the first page shown after sign-in: a screenful and a margin. The server reads each listed message's
 * MIME structure, so a short first page paints sooner; scrolling further loads the whole page.
 */
export const FIRST_PAGE = 40;

export function mailboxesCall(accountId: string): Invocation {
  return ['Mailbox/get', { accountId, ids: null }, 'm'];
}

/** Folders in display order (sortOrder, then name). */
export function sortBoxes(list: Mailbox[]): Mailbox[] {
  return list.sort((a, b) => (a.sortOrder - b.sortOrder) || a.name.localeCompare(b.name));
}

export async function loadMailboxes(j: Jmap): Promise<Mailbox[]> {
  const [r] = await j.call([mailboxesCall(j.accountId)]);
  return sortBoxes(r!.list as Mailbox[]);
}

/** The first paint in one request: the folders and the first page of `mailboxId`. */
export async function loadStart(j: Jmap, mailboxId: string, threads: boolean): Promise<{ boxes: Mailbox[]; page: ListPage }> {
  const [m, q, g, t] = await j.call([mailboxesCall(j.accountId), ...pageCalls(j.accountId, mailboxId, '', 0, threads, FIRST_PAGE)]);
  return { boxes: sortBoxes(m!.list as Mailbox[]), page: pageOf(q!, g!, t, 0) };
}

export interface ListPage {
  total: number;
  position: number;
  emails: EmailSummary[];
  /** Messages per thread (grouped lists only). */
  threadSizes: Map<string, number>;
}

/** The method calls of one page: Email/query, Email/get and, grouped by thread, Thread/get for the counts. */
export function pageCalls(accountId: string, mailboxId: string, text: string, position: number, threads: boolean, limit = PAGE): Invocation[] {
  const filter: Record<string, unknown> = { inMailbox: mailboxId };
  if (text.trim()) filter.text = text.trim();
  const calls: Invocation[] = [
    ['Email/query', { accountId, filter, sort: [{ property: 'receivedAt', isAscending: false }], collapseThreads: threads, position, limit, calculateTotal: true }, 'q'],
    ['Email/get', { accountId, '#ids': { resultOf: 'q', name: 'Email/query', path: '/ids' }, properties: SUMMARY_PROPS }, 'g'],
  ];
  if (threads) calls.push(['Thread/get', { accountId, '#ids': { resultOf: 'g', name: 'Email/get', path: '/list/*/threadId' } }, 't']);
  return calls;
}

/** Turns the answers of pageCalls into a page. */
export function pageOf(q: Record<string, any>, g: Record<string, any>, t: Record<string, any> | undefined, position: number): ListPage {
  const byId = new Map((g.list as EmailSummary[]).map((e) => [e.id, e]));
  const emails = (q.ids as string[]).map((id) => byId.get(id)).filter((e): e is EmailSummary => e !== undefined);
  const threadSizes = new Map(((t?.list ?? []) as Array<{ id: string; emailIds: string[] }>).map((x) => [x.id, x.emailIds.length]));
  return { total: (q.total as number) ?? emails.length, position: (q.position as number) ?? position, emails, threadSizes };
}

/** One page of a mailbox (or of a search), newest first; server-side sort and paging (Email/query). */
export async function loadPage(j: Jmap, mailboxId: string, text: string, position: number, threads = false): Promise<ListPage> {
  const [q, g, t] = await j.call(pageCalls(j.accountId, mailboxId, text, position, threads));
  return pageOf(q!, g!, t, position);
}

/**
 * The conversation of one message in one request: its thread (Thread/get by the message's threadId), then
 * every message of it in full, oldest first.
 */
export async function loadConversation(j: Jmap, id: string): Promise<EmailFull[]> {
  const [, , g] = await j.call([
    ['Email/get', { accountId: j.accountId, ids: [id], properties: ['threadId'] }, 'e'],
    ['Thread/get', { accountId: j.accountId, '#ids': { resultOf: 'e', name: 'Email/get', path: '/list/*/threadId' } }, 't'],
    ['Email/get', { accountId: j.accountId, '#ids': { resultOf: 't', name: 'Thread/get', path: '/list/*/emailIds' }, properties: FULL_PROPS, fetchHTMLBodyValues: true, fetchTextBodyValues: true, maxBodyValueBytes: 2_000_000 }, 'g'],
  ]);
  return (g!.list as EmailFull[]).sort((a, b) => a.receivedAt.localeCompare(b.receivedAt));
}

export interface Identity {
  id: string;
  name: string;
  email: string;
}

export async function loadIdentities(j: Jmap): Promise<Identity[]> {
  const [r] = await j.call([['Identity/get', { accountId: j.accountId, ids: null }, 'i']]);
  return r!.list as Identity[];
}

export async function loadEmail(j: Jmap, id: string): Promise<EmailFull | null> {
  const [g] = await j.call([
    ['Email/get', { accountId: j.accountId, ids: [id], properties: FULL_PROPS, fetchHTMLBodyValues: true, fetchTextBodyValues: true, maxBodyValueBytes: 2_000_000 }, 'g'],
  ]);
  return ((g!.list as EmailFull[])[0] as EmailFull | undefined) ?? null;
}

export async function updateEmails(j: Jmap, patch: Record<string, Record<string, unknown>>): Promise<void> {
  const [r] = await j.call([['Email/set', { accountId: j.accountId, update: patch }, 's']]);
  const failed = r!.notUpdated as Record<string, { type: string; description?: string }> | null;
  if (failed && Object.keys(failed).length) throw new Error(Object.values(failed)[0]!.description ?? Object.values(failed)[0]!.type);
}

export function setKeyword(j: Jmap, ids: string[], keyword: string, on: boolean): Promise<void> {
  return updateEmails(j, Object.fromEntries(ids.map((id) => [id, { [`keywords/${keyword}`]: on ? true : null }])));
}

export function moveTo(j: Jmap, emails: EmailSummary[], target: string): Promise<void> {
  return updateEmails(j, Object.fromEntries(emails.map((e) => [e.id, { mailboxIds: { [target]: true } }])));
}

export async function destroy(j: Jmap, ids: string[]): Promise<void> {
  await j.call([['Email/set', { accountId: j.accountId, destroy: ids }, 'd']]);
}

export function byRole(boxes: Mailbox[], role: string): Mailbox | undefined {
  return boxes.find((b) => b.role === role);
}

export interface Draft {
  to: string;
  cc: string;
  subject: string;
  body: string;
  inReplyTo: string[] | null;
  references: string[] | null;
  attachments: Array<{ blobId: string; name: string; type: string; size: number }>;
}

/** Who a message is from: an identity (Identity/get), or just the signed-in address before those are known. */
export type Sender = Identity | { id: null; name: string; email: string };

function draftEmail(j: Jmap, d: Draft, from: Sender, draftsId: string, parse: (s: string) => Array<{ name: string | null; email: string }>): Record<string, unknown> {
  const e: Record<string, unknown> = {
    mailboxIds: { [draftsId]: true },
    keywords: { $draft: true, $seen: true },
    from: [{ name: from.name || null, email: from.email }],
    to: parse(d.to),
    subject: d.subject,
    bodyValues: { body: { value: d.body } },
    textBody: [{ partId: 'body', type: 'text/plain' }],
    attachments: d.attachments.map((a) => ({ blobId: a.blobId, name: a.name, type: a.type, disposition: 'attachment' })),
  };
  if (d.cc.trim()) e.cc = parse(d.cc);
  if (d.inReplyTo) e.inReplyTo = d.inReplyTo;
  if (d.references) e.references = d.references;
  return e;
}

/** Saves the draft (replacing `previousId`); returns the new draft's id. */
export async function saveDraft(j: Jmap, d: Draft, from: Sender, draftsId: string, previousId: string | null, parse: (s: string) => Array<{ name: string | null; email: string }>): Promise<string> {
  const [r] = await j.call([
    ['Email/set', { accountId: j.accountId, create: { draft: draftEmail(j, d, from, draftsId, parse) }, ...(previousId ? { destroy: [previousId] } : {}) }, 's'],
  ]);
  const created = (r!.created as Record<string, { id: string }> | null)?.draft;
  if (!created) throw new Error('the draft could not be saved');
  return created.id;
}

/**
 * Sends: a draft in Drafts, then EmailSubmission/set with the chosen identity, which moves it to Sent and
 * clears $draft on success.
 */
export async function send(j: Jmap, d: Draft, from: Sender, boxes: Mailbox[], previousDraft: string | null, parse: (s: string) => Array<{ name: string | null; email: string }>): Promise<void> {
  const drafts = byRole(boxes, 'drafts');
  const sent = byRole(boxes, 'sent');
  if (!drafts) throw new Error('no Drafts mailbox');
  const identities = from.id === null ? await loadIdentities(j) : [from];
  const identity = identities.find((i) => i.email === from.email) ?? identities[0];
  if (!identity) throw new Error('no sending identity');
  const onSuccess: Record<string, unknown> = { [`mailboxIds/${drafts.id}`]: null, 'keywords/$draft': null };
  if (sent) onSuccess[`mailboxIds/${sent.id}`] = true;
  const res = await j.call([
    ['Email/set', { accountId: j.accountId, create: { c: draftEmail(j, d, from, drafts.id, parse) }, ...(previousDraft ? { destroy: [previousDraft] } : {}) }, 'e'],
    ['EmailSubmission/set', { accountId: j.accountId, create: { s: { identityId: identity.id, emailId: '#c' } }, onSuccessUpdateEmail: { '#s': onSuccess } }, 'x'],
  ]);
  const notCreated = res[0]!.notCreated as Record<string, { description?: string; type: string }> | null;
  if (notCreated?.c) throw new Error(notCreated.c.description ?? notCreated.c.type);
  const notSub = res[1]!.notCreated as Record<string, { description?: string; type: string }> | null;
  if (notSub?.s) throw new Error(notSub.s.description ?? notSub.s.type);
}
