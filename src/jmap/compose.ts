/**
 * Builds the RFC 5322 message of an Email/set create (RFC 8621 4.6): addresses, subject, dates, ids,
 * header:* properties, and the body from textBody/htmlBody/attachments (or a bodyStructure of one level)
 * with bodyValues and uploaded or stored blobs; nodemailer's MailComposer does the MIME encoding. Throws a
 * SetError value for bad input.
 */
import MailComposer from 'nodemailer/lib/mail-composer/index.js';
import type Mail from 'nodemailer/lib/mailer/index.js';
import { setError } from './errors.js';
import { parseHeaderProp } from './headers.js';
import type { EmailAddress } from './headers.js';
import { normalizeLineEndings } from '../mime/index.js';

type Obj = Record<string, unknown>;

/** The mail capability's maxSizeAttachmentsPerEmail. */
export const MAX_ATTACHMENT_BYTES = 50_000_000;
export type BlobReader = (blobId: string) => Promise<{ data: Buffer; type: string } | null>;

function addresses(v: unknown, prop: string): Mail.Address[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) throw setError('invalidProperties', `${prop} must be a list of addresses`, [prop]);
  return (v as EmailAddress[]).map((a) => {
    if (typeof a !== 'object' || a === null || typeof a.email !== 'string' || !/^[^\s@<>]+@[^\s@<>]+$/.test(a.email)) throw setError('invalidProperties', `bad address in ${prop}`, [prop]);
    return { name: typeof a.name === 'string' ? a.name : '', address: a.email };
  });
}

function ids(v: unknown, prop: string): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string' && /^[^<>\s]+$/.test(x))) throw setError('invalidProperties', `${prop} must be a list of message ids`, [prop]);
  return (v as string[]).map((x) => `<${x}>`);
}

interface BodyPartIn {
  partId?: string;
  blobId?: string;
  type?: string;
  name?: string;
  disposition?: string;
  cid?: string;
  charset?: string;
}

export async function composeDraft(e: Obj, readBlob: BlobReader): Promise<Buffer> {
  const values = (e['bodyValues'] ?? {}) as Record<string, { value?: unknown }>;
  const textOf = (p: BodyPartIn, prop: string): string => {
    if (typeof p.partId !== 'string') throw setError('invalidProperties', `${prop} parts need a partId`, [prop]);
    const v = values[p.partId]?.value;
    if (typeof v !== 'string') throw setError('invalidProperties', `no bodyValue for part ${p.partId}`, ['bodyValues']);
    return v;
  };
  const opts: Mail.Options = {};
  const from = addresses(e['from'], 'from');
  if (from) opts.from = from.length === 1 ? from[0]! : (from as unknown as Mail.Address);
  const to = addresses(e['to'], 'to');
  if (to) opts.to = to;
  const cc = addresses(e['cc'], 'cc');
  if (cc) opts.cc = cc;
  const bcc = addresses(e['bcc'], 'bcc');
  if (bcc) opts.bcc = bcc;
  const replyTo = addresses(e['replyTo'], 'replyTo');
  if (replyTo) opts.replyTo = replyTo;
  const sender = addresses(e['sender'], 'sender');
  if (sender?.[0]) opts.sender = sender[0];
  if (e['subject'] !== undefined && e['subject'] !== null) {
    if (typeof e['subject'] !== 'string') throw setError('invalidProperties', 'subject must be a string', ['subject']);
    opts.subject = e['subject'];
  }
  if (e['sentAt'] !== undefined && e['sentAt'] !== null) {
    const d = typeof e['sentAt'] === 'string' ? new Date(e['sentAt']) : null;
    if (!d || Number.isNaN(d.getTime())) throw setError('invalidProperties', 'sentAt must be a Date', ['sentAt']);
    opts.date = d;
  }
  const mid = ids(e['messageId'], 'messageId');
  if (mid?.[0]) opts.messageId = mid[0];
  const irt = ids(e['inReplyTo'], 'inReplyTo');
  if (irt) opts.inReplyTo = irt.join(' ');
  const refs = ids(e['references'], 'references');
  if (refs) opts.references = refs;
  const headers: Array<{ key: string; value: string }> = [];
  for (const [k, v] of Object.entries(e)) {
    if (!k.startsWith('header:')) continue;
    const hp = parseHeaderProp(k);
    if (!hp || hp.all || hp.form !== 'Raw' && hp.form !== 'Text') throw setError('invalidProperties', `cannot set ${k}`, [k]);
    if (typeof v !== 'string' || /[\r\n]/.test(hp.form === 'Text' ? v : v.replace(/\r\n[ \t]/g, ''))) throw setError('invalidProperties', `${k} must be a string`, [k]);
    headers.push({ key: hp.name, value: v.trim() });
  }
  if (headers.length) opts.headers = headers;

  let text = partList(e['textBody'], 'textBody');
  let html = partList(e['htmlBody'], 'htmlBody');
  let atts = partList(e['attachments'], 'attachments') ?? [];
  const bs = e['bodyStructure'] as (BodyPartIn & { subParts?: unknown }) | undefined | null;
  if (bs !== undefined && bs !== null && !isPart(bs)) throw setError('invalidProperties', 'bodyStructure must be an EmailBodyPart', ['bodyStructure']);
  if (bs) {
    if (text || html || (e['attachments'] !== undefined && e['attachments'] !== null)) throw setError('invalidProperties', 'bodyStructure excludes textBody, htmlBody and attachments', ['bodyStructure']);
    const leaves = partList(bs.subParts, 'bodyStructure') ?? [bs];
    text = leaves.filter((p) => p.type === 'text/plain' && p.partId);
    html = leaves.filter((p) => p.type === 'text/html' && p.partId);
    atts = leaves.filter((p) => p.blobId);
  }
  if (text && (!Array.isArray(text) || text.length > 1)) throw setError('invalidProperties', 'textBody holds one text/plain part', ['textBody']);
  if (html && (!Array.isArray(html) || html.length > 1)) throw setError('invalidProperties', 'htmlBody holds one text/html part', ['htmlBody']);
  if (text?.[0]) {
    if (text[0].type !== undefined && text[0].type !== 'text/plain') throw setError('invalidProperties', 'textBody must be text/plain', ['textBody']);
    opts.text = textOf(text[0], 'textBody');
  }
  if (html?.[0]) {
    if (html[0].type !== undefined && html[0].type !== 'text/html') throw setError('invalidProperties', 'htmlBody must be text/html', ['htmlBody']);
    opts.html = textOf(html[0], 'htmlBody');
  }
  if (!Array.isArray(atts)) throw setError('invalidProperties', 'attachments must be a list', ['attachments']);
  const attachments: Mail.Attachment[] = [];
  let attachmentBytes = 0;
  for (const a of atts) {
    if (typeof a.blobId !== 'string') throw setError('invalidProperties', 'an attachment needs a blobId', ['attachments']);
    const blob = await readBlob(a.blobId);
    if (!blob) throw { ...setError('blobNotFound', `no blob ${a.blobId}`), notFound: [a.blobId] };
    attachmentBytes += blob.data.length;
    if (attachmentBytes > MAX_ATTACHMENT_BYTES) throw setError('tooLarge', `attachments over ${MAX_ATTACHMENT_BYTES} octets`, ['attachments']);
    const att: Mail.Attachment = { content: blob.data, contentType: a.type ?? blob.type ?? 'application/octet-stream', contentDisposition: a.disposition === 'inline' ? 'inline' : 'attachment' };
    if (a.name) att.filename = a.name;
    if (a.cid) att.cid = a.cid;
    attachments.push(att);
  }
  if (attachments.length) opts.attachments = attachments;
  if (opts.text === undefined && opts.html === undefined && attachments.length === 0) opts.text = '';
  const node = new MailComposer(opts).compile();
  (node as unknown as { keepBcc: boolean }).keepBcc = true;
  return normalizeLineEndings(await node.build());
}

function isPart(p: unknown): p is BodyPartIn {
  return typeof p === 'object' && p !== null && !Array.isArray(p);
}

/** A list of EmailBodyPart objects (textBody, htmlBody, attachments, subParts), or null when absent; else a SetError. */
function partList(v: unknown, prop: string): BodyPartIn[] | null {
  if (v === undefined || v === null) return null;
  if (!Array.isArray(v) || !v.every(isPart)) throw setError('invalidProperties', `${prop} must be a list of EmailBodyPart objects`, [prop]);
  return v;
}
