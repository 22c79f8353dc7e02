/**
 * The DNS records a local domain needs for mail (for `mailroom domain dns` and the web interface's domain
 * page): MX (RFC 5321 5.1), SPF (RFC 7208), one DKIM key record per key (RFC 6376 3.6.1), DMARC (RFC 7489
 * 6.1). Values are what goes in the record; formatZoneLine() writes a zone-file line (TXT values split in
 * strings of at most 255 octets, RFC 1035 3.3.14).
 */
import type { DkimKeyStore } from '../store/dkim.js';
import { dkimRecordName, dkimRecordValue } from './keys.js';

export interface DnsRecord {
  /** What the record is for. */
  kind: 'MX' | 'SPF' | 'DKIM' | 'DMARC';
  /** Owner name, without the final dot. */
  name: string;
  type: 'MX' | 'TXT';
  /** MX: "10 mail.example.org."; TXT: the whole text, unsplit. */
  value: string;
  /** DKIM only. */
  selector?: string;
}

/** The SPF policy suggested: the domain's MX hosts send its mail; nothing else may (RFC 7208 5.4, 5.2 -all). */
export const SPF_VALUE = 'v=spf1 mx -all';
/** The DMARC policy suggested: failing mail goes to the receiver's spam folder; relaxed alignment. */
export const DMARC_VALUE = 'v=DMARC1; p=quarantine; adkim=r; aspf=r';

/**
 * The records `domain` needs when mail for it is handled by `mailHost` (the server's host name), with
 * one DKIM record per key the store holds for it (none when it has no keys yet).
 */
export async function domainDnsRecords(store: { dkim: DkimKeyStore }, domain: string, mailHost: string): Promise<DnsRecord[]> {
  const d = domain.toLowerCase().replace(/\.$/, '');
  const keys = await store.dkim.list(d);
  return [
    { kind: 'MX', name: d, type: 'MX', value: `10 ${mailHost.replace(/\.$/, '')}.` },
    { kind: 'SPF', name: d, type: 'TXT', value: SPF_VALUE },
    ...keys.map((k): DnsRecord => ({ kind: 'DKIM', name: dkimRecordName(k), type: 'TXT', value: dkimRecordValue(k), selector: k.selector })),
    { kind: 'DMARC', name: `_dmarc.${d}`, type: 'TXT', value: DMARC_VALUE },
  ];
}

/** A TXT value as zone-file character-strings: quoted, at most 255 octets each, quotes and backslashes escaped. */
export function txtStrings(value: string): string {
  const parts: string[] = [];
  for (let i = 0; i < value.length || i === 0; i += 255) parts.push(`"${value.slice(i, i + 255).replace(/["\\]/g, '\\$&')}"`);
  return parts.join(' ');
}

/** One zone-file line: `name. IN TYPE value`. */
export function formatZoneLine(r: Pick<DnsRecord, 'name' | 'type' | 'value'>): string {
  return `${r.name}. IN ${r.type} ${r.type === 'TXT' ? txtStrings(r.value) : r.value}`;
}
