/**
 * The header overview of one IMAP message as the client index keeps it: the summary (subject, addresses,
 * date, Message-ID, top-level type, attachment count) from ENVELOPE and BODYSTRUCTURE, the flags without
 * \\Recent, and INTERNALDATE in ms. Pure functions over imapflow's FETCH objects.
 */
import type { FetchMessageObject, MessageAddressObject, MessageStructureObject } from 'imapflow';
import type { Summary } from '../store/state.js';

function addr(list: MessageAddressObject[] | undefined): string {
  return (list ?? []).map((a) => (a.name ? `${a.name} <${a.address ?? ''}>` : (a.address ?? ''))).join(', ');
}

function countAttachments(s: MessageStructureObject | undefined): number {
  if (!s) return 0;
  if (s.childNodes?.length) return s.childNodes.reduce((n, c) => n + countAttachments(c), 0);
  return s.disposition === 'attachment' ? 1 : 0;
}

export function summaryOf(m: FetchMessageObject): Summary {
  const e = m.envelope;
  const date = e?.date instanceof Date ? e.date.toUTCString() : (e?.date ?? null);
  return {
    subject: e?.subject ?? '',
    from: addr(e?.from),
    to: addr(e?.to),
    date,
    messageId: e?.messageId ?? null,
    contentType: m.bodyStructure?.type ?? 'text/plain',
    attachments: countAttachments(m.bodyStructure),
  };
}

export function flagsOf(m: FetchMessageObject): string[] {
  return [...(m.flags ?? new Set<string>())].filter((f) => f !== '\\Recent').sort();
}

export function dateMs(d: Date | string | undefined, fallback: number): number {
  if (d instanceof Date) return d.getTime();
  if (typeof d === 'string') {
    const t = Date.parse(d);
    return Number.isFinite(t) ? t : fallback;
  }
  return fallback;
}

