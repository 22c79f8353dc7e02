/**
 * Header field parsed forms of RFC 8621 4.1.2 (Raw, Text, Addresses, GroupedAddresses, MessageIds, Date,
 * URLs) and the `header:{name}[:as{Form}][:all]` property syntax (4.1.3).
 */
import { parseAddressList, decodeMimeWords, unfoldHeader } from '../mime/index.js';
import type { EnvelopeAddress } from '../mime/types.js';

export type HeaderForm = 'Raw' | 'Text' | 'Addresses' | 'GroupedAddresses' | 'MessageIds' | 'Date' | 'URLs';

export interface EmailAddress {
  name: string | null;
  email: string;
}

export interface HeaderProp {
  name: string;
  form: HeaderForm;
  all: boolean;
}

const FORMS = new Set<HeaderForm>(['Raw', 'Text', 'Addresses', 'GroupedAddresses', 'MessageIds', 'Date', 'URLs']);

/** Header fields whose form is restricted (RFC 8621 4.1.2): which forms each may be asked in. */
const ALLOWED: Record<string, HeaderForm[]> = {
  subject: ['Raw', 'Text'],
  comments: ['Raw', 'Text'],
  keywords: ['Raw', 'Text'],
  'list-id': ['Raw', 'Text'],
  from: ['Raw', 'Addresses', 'GroupedAddresses'],
  sender: ['Raw', 'Addresses', 'GroupedAddresses'],
  'reply-to': ['Raw', 'Addresses', 'GroupedAddresses'],
  to: ['Raw', 'Addresses', 'GroupedAddresses'],
  cc: ['Raw', 'Addresses', 'GroupedAddresses'],
  bcc: ['Raw', 'Addresses', 'GroupedAddresses'],
  'resent-from': ['Raw', 'Addresses', 'GroupedAddresses'],
  'resent-sender': ['Raw', 'Addresses', 'GroupedAddresses'],
  'resent-reply-to': ['Raw', 'Addresses', 'GroupedAddresses'],
  'resent-to': ['Raw', 'Addresses', 'GroupedAddresses'],
  'resent-cc': ['Raw', 'Addresses', 'GroupedAddresses'],
  'resent-bcc': ['Raw', 'Addresses', 'GroupedAddresses'],
  date: ['Raw', 'Date'],
  'resent-date': ['Raw', 'Date'],
  'message-id': ['Raw', 'MessageIds'],
  'in-reply-to': ['Raw', 'MessageIds'],
  references: ['Raw', 'MessageIds'],
  'resent-message-id': ['Raw', 'MessageIds'],
  'list-help': ['Raw', 'URLs'],
  'list-unsubscribe': ['Raw', 'URLs'],
  'list-subscribe': ['Raw', 'URLs'],
  'list-post': ['Raw', 'URLs'],
  'list-owner': ['Raw', 'URLs'],
  'list-archive': ['Raw', 'URLs'],
};

/** Parses "header:Name[:asForm][:all]"; null when malformed or the form is not allowed for the field. */
export function parseHeaderProp(prop: string): HeaderProp | null {
  if (!prop.startsWith('header:')) return null;
  const parts = prop.slice(7).split(':');
  const name = parts.shift() ?? '';
  if (!/^[\x21-\x39\x3b-\x7e]+$/.test(name)) return null;
  let form: HeaderForm = 'Raw';
  let all = false;
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i]!;
    if (p === 'all' && i === parts.length - 1) all = true;
    else if (i === 0 && p.startsWith('as') && FORMS.has(p.slice(2) as HeaderForm)) form = p.slice(2) as HeaderForm;
    else return null;
  }
  const allowed = ALLOWED[name.toLowerCase()];
  if (allowed && !allowed.includes(form)) return null;
  return { name, form, all };
}

function toAddress(a: EnvelopeAddress): EmailAddress {
  const email = a.host ? `${a.mailbox ?? ''}@${a.host}` : (a.mailbox ?? '');
  return { name: a.name ? decodeMimeWords(a.name.replace(/^"|"$/g, '')) : null, email };
}

export function asAddresses(raw: Buffer): EmailAddress[] {
  const list = parseAddressList(unfoldHeader(raw)) ?? [];
  const out: EmailAddress[] = [];
  for (const a of list) {
    if (a.host === null) continue; // group start/end markers
    out.push(toAddress(a));
  }
  return out;
}

export function asGroupedAddresses(raw: Buffer): Array<{ name: string | null; addresses: EmailAddress[] }> {
  const list = parseAddressList(unfoldHeader(raw)) ?? [];
  const out: Array<{ name: string | null; addresses: EmailAddress[] }> = [];
  let group: { name: string | null; addresses: EmailAddress[] } | null = null;
  for (const a of list) {
    if (a.host === null && a.mailbox !== null) {
      group = { name: decodeMimeWords(a.mailbox), addresses: [] };
      out.push(group);
    } else if (a.host === null && a.mailbox === null) group = null;
    else if (group) group.addresses.push(toAddress(a));
    else {
      const last = out[out.length - 1];
      if (last && last.name === null) last.addresses.push(toAddress(a));
      else out.push({ name: null, addresses: [toAddress(a)] });
    }
  }
  return out;
}

export function asMessageIds(raw: Buffer): string[] | null {
  const s = unfoldHeader(raw);
  const ids = [...s.matchAll(/<([^<>\s]+)>/g)].map((m) => m[1]!);
  return ids.length ? ids : null;
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];

/** RFC 5322 date-time to RFC 3339 with the original offset; null when unparseable. */
export function asDate(raw: Buffer | string): string | null {
  const s = (typeof raw === 'string' ? raw : unfoldHeader(raw)).replace(/\([^)]*\)/g, ' ');
  const m = /(\d{1,2})\s+([A-Za-z]{3})[a-z]*\s+(\d{2,4})\s+(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([+-]\d{4}|[A-Za-z]{1,5})?/.exec(s);
  if (!m) return null;
  const mon = MONTHS.indexOf(m[2]!.toLowerCase());
  if (mon < 0) return null;
  let year = Number(m[3]);
  if (m[3]!.length === 2) year += year < 50 ? 2000 : 1900;
  else if (m[3]!.length === 3) year += 1900;
  const zone = m[7] ?? '+0000';
  let offMin = 0;
  if (/^[+-]\d{4}$/.test(zone)) offMin = (zone[0] === '-' ? -1 : 1) * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(3)));
  else {
    const named: Record<string, number> = { UT: 0, GMT: 0, Z: 0, EST: -300, EDT: -240, CST: -360, CDT: -300, MST: -420, MDT: -360, PST: -480, PDT: -420 };
    offMin = named[zone.toUpperCase()] ?? 0;
  }
  const day = Number(m[1]);
  const hh = Number(m[4]);
  const mm = Number(m[5]);
  const ss = Number(m[6] ?? 0);
  if (day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 60) return null;
  const pad = (n: number, w = 2): string => String(n).padStart(w, '0');
  const sign = offMin < 0 ? '-' : '+';
  const abs = Math.abs(offMin);
  return `${pad(year, 4)}-${pad(mon + 1)}-${pad(day)}T${pad(hh)}:${pad(mm)}:${pad(Math.min(ss, 59))}${offMin === 0 ? 'Z' : `${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`}`;
}

export function asURLs(raw: Buffer): string[] | null {
  const s = unfoldHeader(raw);
  const urls = [...s.matchAll(/<([^<>]+)>/g)].map((m) => m[1]!.replace(/\s+/g, ''));
  return urls.length ? urls : null;
}

export function asText(raw: Buffer): string {
  return decodeMimeWords(unfoldHeader(raw).replace(/\s+/g, ' '));
}

/** One header value in the given form. */
export function headerValue(raw: Buffer, form: HeaderForm): unknown {
  switch (form) {
    case 'Raw':
      return raw.toString('utf8');
    case 'Text':
      return asText(raw);
    case 'Addresses':
      return asAddresses(raw);
    case 'GroupedAddresses':
      return asGroupedAddresses(raw);
    case 'MessageIds':
      return asMessageIds(raw);
    case 'Date':
      return asDate(raw);
    case 'URLs':
      return asURLs(raw);
  }
}

/** The value of a header property over the fields of one header block (last instance, or all with :all). */
export function headerProp(fields: ReadonlyArray<{ name: string; value: Buffer }>, hp: HeaderProp): unknown {
  const lower = hp.name.toLowerCase();
  const matching = fields.filter((f) => f.name.toLowerCase() === lower);
  if (hp.all) return matching.map((f) => headerValue(f.value, hp.form));
  const last = matching[matching.length - 1];
  if (!last) return null;
  return headerValue(last.value, hp.form);
}
