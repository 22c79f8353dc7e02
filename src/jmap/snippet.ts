/**
 * SearchSnippet/get (RFC 8621 5): the subject and a stretch of body text around the first match of the
 * filter's text terms (text, subject, body), with matches marked <mark></mark> and the rest HTML-escaped.
 */
import { LIMITS, type Args, type Call } from './api.js';
import { invalid, MethodError } from './errors.js';
import { MAX_TEXT_CONDITIONS } from './email-query.js';
import { readEmailIndex, readEmailRaw } from './blob.js';
import { parseHeaderBlock } from '../mime/index.js';
import { asText } from './headers.js';
import { splitBody, walk } from './body.js';
import { partText } from '../mime/index.js';

function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function terms(f: unknown, out: { subject: string[]; body: string[] }): void {
  if (typeof f !== 'object' || f === null) return;
  const o = f as Record<string, unknown>;
  if (Array.isArray(o['conditions'])) {
    if (o['operator'] !== 'NOT') for (const c of o['conditions']) terms(c, out);
    return;
  }
  if (typeof o['text'] === 'string') {
    out.subject.push(o['text']);
    out.body.push(o['text']);
  }
  if (typeof o['subject'] === 'string') out.subject.push(o['subject']);
  if (typeof o['body'] === 'string') out.body.push(o['body']);
}

/** `text` with each occurrence of any term marked; null when none occurs. */
export function mark(text: string, words: readonly string[], window: number | null): string | null {
  const lower = text.toLowerCase();
  const hits: Array<[number, number]> = [];
  for (const w of words) {
    const lw = w.toLowerCase();
    if (!lw) continue;
    for (let i = lower.indexOf(lw); i >= 0; i = lower.indexOf(lw, i + lw.length)) hits.push([i, i + lw.length]);
  }
  if (hits.length === 0) return null;
  hits.sort((a, b) => a[0] - b[0]);
  let start = 0;
  let end = text.length;
  if (window !== null) {
    start = Math.max(0, hits[0]![0] - 40);
    end = Math.min(text.length, start + window);
  }
  let out = '';
  let pos = start;
  for (const [s, e] of hits) {
    if (s < pos || e > end) continue;
    out += escapeHtml(text.slice(pos, s)) + '<mark>' + escapeHtml(text.slice(s, e)) + '</mark>';
    pos = e;
  }
  return out + escapeHtml(text.slice(pos, end));
}

export async function snippetGet(args: Args, call: Call): Promise<Args> {
  const ids = args['emailIds'];
  if (!Array.isArray(ids) || !ids.every((x) => typeof x === 'string')) invalid('emailIds must be an array of ids');
  // Each id reads and scans a message, each term scans its text: both bounded as Email/get and Email/query are.
  if (ids.length > LIMITS.maxObjectsInGet) throw new MethodError('requestTooLarge', `at most ${LIMITS.maxObjectsInGet} emailIds`);
  const t = { subject: [] as string[], body: [] as string[] };
  terms(args['filter'], t);
  if (t.subject.length + t.body.length > 2 * MAX_TEXT_CONDITIONS) invalid(`a filter has at most ${MAX_TEXT_CONDITIONS} text conditions`);
  const list: Array<Record<string, unknown>> = [];
  const notFound: string[] = [];
  for (const id of ids as string[]) {
    const raw = await readEmailRaw(call.account, id);
    const index = raw ? await readEmailIndex(call.account, id) : null;
    if (!raw || !index) {
      notFound.push(id);
      continue;
    }
    const fields = parseHeaderBlock(raw.subarray(index.root.headerStart, index.root.headerEnd));
    const subj = fields.filter((f) => f.name.toLowerCase() === 'subject').pop();
    const subject = subj ? mark(asText(subj.value), t.subject, null) : null;
    let preview: string | null = null;
    const split = splitBody(walk(index.root));
    for (const l of split.text.length ? split.text : split.html) {
      if (l.part.type !== 'text') continue;
      preview = mark(partText(raw, l.part, 1_000_000).replace(/\s+/g, ' '), t.body, 255);
      if (preview) break;
    }
    list.push({ emailId: id, subject, preview });
  }
  return { accountId: call.account.accountId, list, notFound };
}
