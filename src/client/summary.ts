/**
 * Header summaries for the message index and the human view of a message, built on the MIME indexer.
 */
import { indexMessage, decodeMimeWords, partText, normalizeLineEndings } from '../mime/index.js';
import type { EnvelopeAddress, MessageIndex, MimePart } from '../mime/types.js';
import type { Summary } from './store/state.js';

function formatAddresses(list: EnvelopeAddress[] | null): string {
  if (!list) return '';
  const out: string[] = [];
  for (const a of list) {
    if (a.host === null) continue; // group start/end markers
    const addr = a.mailbox ? `${a.mailbox}@${a.host}` : '';
    const name = a.name ? decodeMimeWords(a.name) : '';
    out.push(name ? `${name} <${addr}>` : addr);
  }
  return out.join(', ');
}

function countAttachments(part: MimePart): number {
  if (part.children.length) return part.children.reduce((n, c) => n + countAttachments(c), 0);
  return part.disposition?.value === 'attachment' ? 1 : 0;
}

/** The summary of a raw message (header-only input is fine: the body is then empty). */
export function summaryFromRaw(raw: Buffer): { summary: Summary; index: MessageIndex } {
  const index = indexMessage(normalizeLineEndings(raw));
  const env = index.envelope;
  return {
    index,
    summary: {
      subject: env.subject ? decodeMimeWords(env.subject) : '',
      from: formatAddresses(env.from),
      to: formatAddresses(env.to),
      date: env.date,
      messageId: env.messageId,
      contentType: `${index.root.type}/${index.root.subtype}`,
      attachments: countAttachments(index.root),
    },
  };
}

/** A date header (or internal date) as ms since the epoch; `fallback` when unparseable. */
export function parseDate(s: string | null | undefined, fallback: number): number {
  if (!s) return fallback;
  const t = Date.parse(s.replace(/\s*\([^)]*\)\s*$/, ''));
  return Number.isFinite(t) ? t : fallback;
}

function firstText(part: MimePart): MimePart | null {
  if (part.children.length) {
    for (const c of part.children) {
      const t = firstText(c);
      if (t && t.subtype === 'plain') return t;
    }
    for (const c of part.children) {
      const t = firstText(c);
      if (t) return t;
    }
    return null;
  }
  return part.type === 'text' && part.disposition?.value !== 'attachment' ? part : null;
}

/**
 * A readable rendering: the main headers decoded, then the first text part decoded to UTF-8. `attachments`
 * overrides the count found in `raw` (when `raw` holds only the shown part of a message).
 */
export function renderMessage(raw: Buffer, opts: { attachments?: number } = {}): string {
  const norm = normalizeLineEndings(raw);
  const { summary, index } = summaryFromRaw(norm);
  const lines = [`From: ${summary.from}`, `To: ${summary.to}`, `Date: ${summary.date ?? ''}`, `Subject: ${summary.subject}`];
  const attachments = opts.attachments ?? summary.attachments;
  if (attachments) lines.push(`Attachments: ${attachments}`);
  lines.push('');
  const text = firstText(index.root);
  lines.push(text ? partText(norm, text).replace(/\r\n/g, '\n') : '(no text part)');
  return lines.join('\n');
}
