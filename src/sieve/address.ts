/**
 * Address handling for the address and envelope tests (RFC 5228 2.7.4, RFC 5233 subaddress) and address
 * validity for redirect and vacation :from. Header values are parsed with the project's RFC 5322 parser
 * (groups, comments, quoted local parts); group markers are skipped, members kept.
 */
import { parseAddressList } from '../mime/index.js';

export interface ParsedAddress {
  local: string;
  domain: string;
  /** Set when the field held no usable address: `local` is the whole value, only :all sees it. */
  invalid?: true;
}

/**
 * The addresses of one field value. A value that yields no address at all (e.g. an empty group
 * "undisclosed-recipients:;") is kept whole for :all comparisons, as Pigeonhole does.
 */
export function addressesOf(value: string): ParsedAddress[] {
  const hit = parsed.get(value);
  if (hit) return hit;
  const out = parseAddresses(value);
  if (parsed.size >= PARSED_MAX) parsed.clear();
  parsed.set(value, out);
  return out;
}

/** Parsed header values: a script tests the same From/To many times per message (callers never change them). */
const parsed = new Map<string, ParsedAddress[]>();
const PARSED_MAX = 512;

function parseAddresses(value: string): ParsedAddress[] {
  const list = parseAddressList(value) ?? [];
  const out: ParsedAddress[] = [];
  for (const a of list) {
    if (a.host === null || a.mailbox === null) continue; // group start/end markers
    if (a.host === '') continue; // no domain ("broken@", "root"): not an addr-spec, dropped as Pigeonhole does
    out.push({ local: a.mailbox, domain: a.host });
  }
  if (out.length === 0 && value.trim() !== '') out.push({ local: value.trim(), domain: '', invalid: true });
  return out;
}

/** Split of an envelope address path ("<a@b>" or "a@b"; "" for the null path). */
export function envelopeAddress(path: string): ParsedAddress | null {
  let p = path.trim();
  if (p.startsWith('<') && p.endsWith('>')) p = p.slice(1, -1);
  if (p === '') return null;
  const at = p.lastIndexOf('@');
  return at < 0 ? { local: p, domain: '' } : { local: p.slice(0, at), domain: p.slice(at + 1) };
}

export type AddressPart = 'all' | 'localpart' | 'domain' | 'user' | 'detail';

/** RFC 5233: separator "+" as Dovecot's default recipient_delimiter. */
const SEPARATOR = '+';

/** The part of an address the test compares; null when the part does not exist (:detail without "+"). */
export function addressPart(a: ParsedAddress, part: AddressPart): string | null {
  if (a.invalid) return part === 'all' ? a.local : null;
  switch (part) {
    case 'localpart':
      return a.local;
    case 'domain':
      return a.domain;
    case 'user': {
      const i = a.local.indexOf(SEPARATOR);
      return i < 0 ? a.local : a.local.slice(0, i);
    }
    case 'detail': {
      const i = a.local.indexOf(SEPARATOR);
      return i < 0 ? null : a.local.slice(i + 1);
    }
    default:
      return a.domain === '' ? a.local : `${a.local}@${a.domain}`;
  }
}

const ATOM = "[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+";
const DOT_ATOM = `${ATOM}(?:\\.${ATOM})*`;
const QUOTED = '"(?:[^"\\\\\\r\\n]|\\\\.)*"';
const ADDR_SPEC = new RegExp(`^(?:${DOT_ATOM}|${QUOTED})@(?:${DOT_ATOM}|\\[[^\\[\\]\\\\]*\\])$`);

/**
 * Null when `s` is a valid RFC 5322 addr-spec (with `allowName`, also `Name <addr-spec>`), else the reason
 * in Pigeonhole's words.
 */
export function validRedirectAddress(s: string, allowName = false): string | null {
  let a = s.trim();
  if (allowName) {
    const m = /<([^<>]*)>\s*$/.exec(a);
    if (m) a = m[1]!.trim();
  }
  if (ADDR_SPEC.test(a)) return null;
  if (!a.includes('@')) return `invalid or lonely local part '${a.split(/\s/)[0]}' (expecting '@')`;
  return 'invalid address';
}
