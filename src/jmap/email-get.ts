/**
 * Email/get (RFC 8621 4.2): metadata from the account view, header properties from the stored header
 * block, body properties from the stored MIME index and message bytes. Reads only what the asked
 * properties need: metadata alone touches no message data.
 */
import { jsonSizeWithin, type Args, type Call } from './api.js';
import type { EmailRec } from './account.js';
import { getIds, optBool, optStrings, optUint } from './args.js';
import { invalid, MethodError } from './errors.js';
import { keywordsOf } from './keywords.js';
import { messageBlobId } from './blob.js';
import { parseHeaderBlock } from '../mime/index.js';
import type { MessageIndex } from '../mime/types.js';
import { asAddresses, asDate, asMessageIds, asText, headerProp, parseHeaderProp } from './headers.js';
import { DEFAULT_BODY_PROPERTIES, bodyPart, bodyValue, isBodyProperty, preview, splitBody, walk, type Leaf } from './body.js';

export const DEFAULT_EMAIL_PROPERTIES = [
  'id', 'blobId', 'threadId', 'mailboxIds', 'keywords', 'size', 'receivedAt', 'messageId', 'inReplyTo', 'references', 'sender', 'from', 'to',
  'cc', 'bcc', 'replyTo', 'subject', 'sentAt', 'hasAttachment', 'preview', 'bodyValues', 'textBody', 'htmlBody', 'attachments',
];
const META = new Set(['id', 'blobId', 'threadId', 'mailboxIds', 'keywords', 'size', 'receivedAt']);
const HEADER = new Set(['headers', 'messageId', 'inReplyTo', 'references', 'sender', 'from', 'to', 'cc', 'bcc', 'replyTo', 'subject', 'sentAt']);
const BODY = new Set(['bodyStructure', 'bodyValues', 'textBody', 'htmlBody', 'attachments', 'hasAttachment', 'preview']);
const KNOWN = new Set([...META, ...HEADER, ...BODY]);

export interface BodyOptions {
  bodyProperties: string[];
  fetchText: boolean;
  fetchHTML: boolean;
  fetchAll: boolean;
  maxBodyValueBytes: number;
}

/**
 * Most distinct properties (and body properties) one Email/get may ask for. Each header:{name} form is
 * computed for every Email (and body part) asked for: 100 000 of them made 5 Emails a 16 MB, 4.5 s answer.
 */
export const MAX_PROPERTIES = 256;
/** Most JSON one Email/get builds; past it the call is requestTooLarge (fewer ids or properties will do). */
export const MAX_GET_RESPONSE = 64 * 1024 * 1024;

/** The distinct strings of a properties argument, at most MAX_PROPERTIES of them, or null when absent. */
function propertyList(args: Args, name: string): string[] | null {
  const list = optStrings(args, name);
  if (list === null) return null;
  const distinct = [...new Set(list)];
  if (distinct.length > MAX_PROPERTIES) invalid(`at most ${MAX_PROPERTIES} ${name}`);
  return distinct;
}

export function emailProperties(args: Args): string[] {
  const props = propertyList(args, 'properties');
  if (props === null) return [...DEFAULT_EMAIL_PROPERTIES];
  for (const p of props) if (!KNOWN.has(p) && !(p.startsWith('header:') && parseHeaderProp(p))) invalid(`unknown or malformed property ${p}`);
  return props.includes('id') ? props : ['id', ...props];
}

export function bodyOptions(args: Args): BodyOptions {
  const bp = propertyList(args, 'bodyProperties') ?? DEFAULT_BODY_PROPERTIES;
  for (const p of bp) if (!isBodyProperty(p) || (p.startsWith('header:') && !parseHeaderProp(p))) invalid(`unknown body property ${p}`);
  return {
    bodyProperties: bp,
    fetchText: optBool(args, 'fetchTextBodyValues', false),
    fetchHTML: optBool(args, 'fetchHTMLBodyValues', false),
    fetchAll: optBool(args, 'fetchAllBodyValues', false),
    maxBodyValueBytes: optUint(args, 'maxBodyValueBytes', 0) ?? 0,
  };
}

/** The message-level header convenience properties from the top-level header fields. */
export function headerProperty(fields: ReadonlyArray<{ name: string; value: Buffer }>, prop: string): unknown {
  const last = (name: string): Buffer | null => {
    let v: Buffer | null = null;
    for (const f of fields) if (f.name.toLowerCase() === name) v = f.value;
    return v;
  };
  switch (prop) {
    case 'headers':
      return fields.map((f) => ({ name: f.name, value: f.value.toString('utf8') }));
    case 'messageId':
    case 'inReplyTo':
    case 'references': {
      const v = last(prop === 'messageId' ? 'message-id' : prop === 'inReplyTo' ? 'in-reply-to' : 'references');
      return v ? asMessageIds(v) : null;
    }
    case 'sender':
    case 'from':
    case 'to':
    case 'cc':
    case 'bcc':
    case 'replyTo': {
      const v = last(prop === 'replyTo' ? 'reply-to' : prop);
      return v ? asAddresses(v) : null;
    }
    case 'subject': {
      const v = last('subject');
      return v ? asText(v) : null;
    }
    case 'sentAt': {
      const v = last('date');
      return v ? asDate(v) : null;
    }
    default:
      if (prop.startsWith('header:')) {
        const hp = parseHeaderProp(prop);
        return hp ? headerProp(fields, hp) : null;
      }
      return undefined;
  }
}

/** Builds the requested body properties for one message held by blob `blobBase` (part blob ids extend it). */
export function bodyProperties(blobBase: string, raw: Buffer, index: MessageIndex, props: readonly string[], o: BodyOptions): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const root = walk(index.root);
  const split = splitBody(root);
  const parts = (list: Leaf[]): unknown[] => list.map((l) => bodyPart(blobBase, l, raw, o.bodyProperties));
  for (const p of props) {
    switch (p) {
      case 'bodyStructure':
        out[p] = bodyPart(blobBase, root, raw, o.bodyProperties.includes('subParts') ? o.bodyProperties : [...o.bodyProperties, 'subParts']);
        break;
      case 'textBody':
        out[p] = parts(split.text);
        break;
      case 'htmlBody':
        out[p] = parts(split.html);
        break;
      case 'attachments':
        out[p] = parts(split.attachments);
        break;
      case 'hasAttachment':
        out[p] = split.attachments.some((l) => !(l.part.disposition?.value !== 'attachment' && l.part.type === 'image' && l.part.id));
        break;
      case 'preview':
        out[p] = preview(raw, split.text.length ? split.text : split.html);
        break;
      case 'bodyValues': {
        const values: Record<string, unknown> = {};
        const want: Leaf[] = [];
        if (o.fetchAll) {
          const all = (l: Leaf): void => {
            if (l.partId === null) l.children.forEach(all);
            else if (l.part.type === 'text') want.push(l);
          };
          all(root);
        } else {
          if (o.fetchText) want.push(...split.text);
          if (o.fetchHTML) want.push(...split.html);
        }
        for (const l of want) {
          if (l.partId === null || l.part.type !== 'text' || values[l.partId]) continue;
          values[l.partId] = bodyValue(raw, l.part, o.maxBodyValueBytes);
        }
        out[p] = values;
        break;
      }
    }
  }
  return out;
}

/** Email objects for `recs` (same order) with `props`. */
export async function buildEmails(call: Call, recs: readonly EmailRec[], props: readonly string[], o: BodyOptions): Promise<Array<Record<string, unknown>>> {
  const account = call.account;
  const needHeader = props.some((p) => HEADER.has(p) || p.startsWith('header:'));
  const needBody = props.some((p) => BODY.has(p));
  const out: Array<Record<string, unknown>> = [];
  const byBox = new Map<number, EmailRec[]>();
  for (const r of recs) {
    let l = byBox.get(r.mailboxId);
    if (!l) byBox.set(r.mailboxId, (l = []));
    l.push(r);
  }
  const headers = new Map<string, Buffer>();
  const indexes = new Map<string, MessageIndex>();
  if (needHeader || needBody) {
    for (const [boxId, list] of byBox) {
      const uids = list.map((r) => r.uid).sort((a, b) => a - b);
      const byUid = new Map(list.map((r) => [r.uid, r]));
      const it = needBody ? account.store.mail.readMessages(boxId, uids, { index: true, header: true }) : account.store.mail.readMessages(boxId, uids, { header: true });
      for await (const m of it) {
        const r = byUid.get(m.uid);
        if (!r) continue;
        headers.set(r.id, m.header);
        if ('index' in m) indexes.set(r.id, (m as { index: MessageIndex }).index);
      }
    }
  }
  let budget = MAX_GET_RESPONSE;
  const charge = (v: unknown): void => {
    const n = jsonSizeWithin(v, budget);
    if (n === Infinity) throw new MethodError('requestTooLarge', `the Emails asked for come to more than ${MAX_GET_RESPONSE} octets of JSON; ask for fewer ids or properties`);
    budget -= n;
  };
  for (const r of recs) {
    const e: Record<string, unknown> = {};
    for (const p of props) {
      if (p === 'id') e[p] = r.id;
      else if (p === 'blobId') e[p] = messageBlobId(r.id);
      else if (p === 'threadId') e[p] = r.threadId;
      else if (p === 'mailboxIds') e[p] = { [account.boxes.get(r.mailboxId)?.mb.mailboxObjectId ?? '']: true };
      else if (p === 'keywords') e[p] = keywordsOf(r.flags);
      else if (p === 'size') e[p] = r.size;
      else if (p === 'receivedAt') e[p] = new Date(r.receivedAt).toISOString().replace(/\.\d{3}Z$/, 'Z');
    }
    const h = headers.get(r.id);
    if (needHeader && h) {
      const fields = parseHeaderBlock(h);
      for (const p of props) if (HEADER.has(p) || p.startsWith('header:')) charge((e[p] = headerProperty(fields, p)));
    }
    if (needBody) {
      const index = indexes.get(r.id);
      let raw: Buffer | null = null;
      try {
        raw = index ? await account.store.mail.readBytes(r.mailboxId, r.uid) : null;
      } catch {
        raw = null;
      }
      if (!index || !raw) continue; // expunged meanwhile: reported as notFound
      const body = bodyProperties(messageBlobId(r.id), raw, index, props, o);
      charge(body);
      Object.assign(e, body);
    }
    out.push(e);
  }
  return out;
}

export async function emailGet(args: Args, call: Call): Promise<Args> {
  const ids = getIds(args, call);
  const props = emailProperties(args);
  const o = bodyOptions(args);
  const account = call.account;
  const recs: EmailRec[] = [];
  const notFound: string[] = [];
  if (ids === null) {
    if (account.emails.size > 1000) throw new MethodError('requestTooLarge', 'give ids (Email/query) for mailboxes of this size');
    recs.push(...account.emails.values());
  } else {
    for (const id of new Set(ids)) {
      const r = account.emails.get(id);
      if (r) recs.push(r);
      else notFound.push(id);
    }
  }
  const list = await buildEmails(call, recs, props, o);
  const found = new Set(list.map((e) => e['id']));
  for (const r of recs) if (!found.has(r.id)) notFound.push(r.id);
  return { accountId: account.accountId, state: account.emailState(), list, notFound };
}
