/**
 * Test-only IMAP renderings of ENVELOPE and BODYSTRUCTURE (RFC 9051 section 7.5.2) from a
 * MessageIndex, so expected values can be written out as the wire text a server would send.
 * Types and subtypes are written as indexed (lowercased), encodings uppercased; the real server
 * serializer lives with the IMAP code.
 */
import type { Envelope, EnvelopeAddress, MimePart, ParameterizedValue } from '../../src/mime/types.js';

export function q(s: string | null): string {
  if (s === null) return 'NIL';
  return '"' + s.replace(/(["\\])/g, '\\$1') + '"';
}

function addrList(list: EnvelopeAddress[] | null): string {
  if (list === null) return 'NIL';
  return '(' + list.map((a) => `(${q(a.name)} ${q(a.adl)} ${q(a.mailbox)} ${q(a.host)})`).join('') + ')';
}

export function envelope(e: Envelope): string {
  return `(${q(e.date)} ${q(e.subject)} ${addrList(e.from)} ${addrList(e.sender)} ${addrList(e.replyTo)} ${addrList(e.to)} ${addrList(e.cc)} ${addrList(e.bcc)} ${q(e.inReplyTo)} ${q(e.messageId)})`;
}

function params(p: Array<[string, string]>): string {
  if (p.length === 0) return 'NIL';
  return '(' + p.map(([k, v]) => `${q(k)} ${q(v)}`).join(' ') + ')';
}

function disp(d: ParameterizedValue | null, raw: boolean): string {
  return d === null ? 'NIL' : `(${q(d.value)} ${params(raw ? (d.rawParams ?? d.params) : d.params)})`;
}

function lang(l: string[] | null): string {
  return l === null ? 'NIL' : '(' + l.map(q).join(' ') + ')';
}

/** BODYSTRUCTURE text; with `raw`, RFC 2231 parameters are written in wire form (rawParams). */
export function bodystructure(p: MimePart, raw = false): string {
  const ps = raw ? (p.rawParams ?? p.params) : p.params;
  if (p.type === 'multipart') {
    return `(${p.children.map((c) => bodystructure(c, raw)).join('')} ${q(p.subtype)} ${params(ps)} ${disp(p.disposition, raw)} ${lang(p.language)} ${q(p.location)})`;
  }
  let s = `(${q(p.type)} ${q(p.subtype)} ${params(ps)} ${q(p.id)} ${q(p.description)} ${q(p.encoding.toUpperCase())} ${p.octets}`;
  if (p.message) s += ` ${envelope(p.message.envelope)} ${bodystructure(p.message.root, raw)} ${p.lines}`;
  else if (p.type === 'text') s += ` ${p.lines}`;
  return s + ` ${q(p.md5)} ${disp(p.disposition, raw)} ${lang(p.language)} ${q(p.location)})`;
}
