/**
 * FETCH / UID FETCH arguments (RFC 9051 section 6.4.5, RFC 3516 BINARY, RFC 7162 CHANGEDSINCE/VANISHED,
 * RFC 8474 EMAILID/THREADID, RFC 8514 SAVEDATE, RFC 8970 PREVIEW).
 */
import { tokenize, TokenizeError, type Token } from '../wire/tokenizer.js';
import { Args, ParseError, astringOf, parseModseq, parseNumber64 } from './args.js';
import { parseSequenceSet, type SequenceSet } from './sequence.js';

export type SectionText = 'HEADER' | 'HEADER.FIELDS' | 'HEADER.FIELDS.NOT' | 'TEXT' | 'MIME';

export interface Section {
  /** Part path, e.g. [1, 2] for "1.2"; [] for the whole message. */
  part: number[];
  text: SectionText | null;
  /** Field names for HEADER.FIELDS(.NOT), as sent. */
  fields: string[];
  /** Per field: sent as a string rather than an atom (echoed quoted then, as Dovecot does). */
  quoted?: boolean[];
}

export interface Partial {
  start: number;
  length: number;
}

export type FetchItem =
  | { kind: 'FLAGS' | 'INTERNALDATE' | 'RFC822.SIZE' | 'ENVELOPE' | 'BODY' | 'BODYSTRUCTURE' | 'UID' | 'MODSEQ' | 'EMAILID' | 'THREADID' | 'SAVEDATE' }
  | { kind: 'PREVIEW'; lazy: boolean }
  | { kind: 'RFC822' | 'RFC822.HEADER' | 'RFC822.TEXT' }
  | { kind: 'BODY[]'; peek: boolean; section: Section; partial: Partial | null; name: string }
  | { kind: 'BINARY'; peek: boolean; part: number[]; partial: Partial | null; name: string }
  | { kind: 'BINARY.SIZE'; part: number[]; name: string };

export interface FetchArgs {
  set: SequenceSet;
  items: FetchItem[];
  changedSince: number | null;
  vanished: boolean;
}

const SIMPLE = new Set(['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE', 'BODY', 'BODYSTRUCTURE', 'UID', 'MODSEQ', 'EMAILID', 'THREADID', 'SAVEDATE', 'RFC822', 'RFC822.HEADER', 'RFC822.TEXT']);

const MACROS: Record<string, string[]> = {
  ALL: ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE'],
  FAST: ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE'],
  FULL: ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE', 'BODY'],
};

export function parseFetch(args: Args): FetchArgs {
  const set = parseSequenceSet(args.atom('sequence set'));
  const att = args.next('fetch attributes');
  const items: FetchItem[] = [];
  if (att.t === 'atom' && MACROS[att.v.toUpperCase()]) {
    for (const k of MACROS[att.v.toUpperCase()]!) items.push(parseFetchAtt(k));
  } else if (att.t === 'list') {
    if (!att.v.length) throw new ParseError('Empty fetch attribute list');
    for (const [i, t] of att.v.entries()) {
      const prev = items[items.length - 1];
      if (t.t === 'list' && prev?.kind === 'PREVIEW' && att.v[i - 1]?.t === 'atom') items[items.length - 1] = previewMods(t.v);
      else if (t.t !== 'atom') throw new ParseError('Invalid fetch attribute');
      else items.push(parseFetchAtt(t.v));
    }
  } else if (att.t === 'atom') {
    const it = parseFetchAtt(att.v);
    const next = args.peek();
    // RFC 8970: "PREVIEW (LAZY)" (a list starting with LAZY, not the fetch modifiers).
    if (it.kind === 'PREVIEW' && next?.t === 'list' && next.v[0]?.t === 'atom' && next.v[0].v.toUpperCase() === 'LAZY') items.push(previewMods(args.list('preview modifiers')));
    else items.push(it);
  } else {
    throw new ParseError('Invalid fetch attribute');
  }
  let changedSince: number | null = null;
  let vanished = false;
  if (!args.done) {
    const mods = args.list('fetch modifiers');
    const m = new Args(mods);
    while (!m.done) {
      const name = m.atom('fetch modifier').toUpperCase();
      if (name === 'CHANGEDSINCE') changedSince = parseModseq(m.atom('mod-sequence'));
      else if (name === 'VANISHED') vanished = true;
      else throw new ParseError(`Unknown fetch modifier ${name}`);
    }
    if (vanished && changedSince === null) throw new ParseError('VANISHED requires CHANGEDSINCE');
  }
  args.end();
  return { set, items, changedSince, vanished };
}

/** RFC 8970 preview modifiers: LAZY, at least one. */
function previewMods(mods: readonly Token[]): FetchItem {
  if (!mods.length) throw new ParseError('Empty PREVIEW modifier list');
  for (const m of mods) if (m.t !== 'atom' || m.v.toUpperCase() !== 'LAZY') throw new ParseError('Unknown PREVIEW modifier');
  return { kind: 'PREVIEW', lazy: true };
}

/** Parses one fetch attribute atom, e.g. "BODY.PEEK[HEADER.FIELDS (From)]<0.100>". */
export function parseFetchAtt(raw: string): FetchItem {
  const up = raw.toUpperCase();
  if (SIMPLE.has(up)) return { kind: up } as FetchItem;
  if (up === 'PREVIEW') return { kind: 'PREVIEW', lazy: false };
  // The section runs to the last "]" (a quoted header field name may hold one).
  const m = /^(BODY|BODY\.PEEK|BINARY|BINARY\.PEEK|BINARY\.SIZE)\[(.*)\](?:<(\d+)(?:\.(\d+))?>)?$/is.exec(raw);
  if (!m) throw new ParseError(`Unknown fetch attribute ${raw.slice(0, 40)}`);
  const name = m[1]!.toUpperCase();
  const sectionText = m[2]!;
  let partial: Partial | null = null;
  if (m[3] !== undefined) {
    if (m[4] === undefined) {
      throw new ParseError('Partial fetch needs <start.length>');
    }
    // section-partial: "<" number64 "." nz-number64 ">" (RFC 9051 section 9).
    const length = parseNumber64(m[4], 'partial length');
    if (length === 0) throw new ParseError('Partial length must be non-zero');
    partial = { start: parseNumber64(m[3], 'partial start'), length };
  }
  if (name === 'BINARY' || name === 'BINARY.PEEK' || name === 'BINARY.SIZE') {
    const part = sectionText === '' ? [] : parsePart(sectionText);
    if (name === 'BINARY.SIZE') {
      if (partial) throw new ParseError('BINARY.SIZE takes no partial');
      return { kind: 'BINARY.SIZE', part, name: `BINARY.SIZE[${sectionText}]` };
    }
    return { kind: 'BINARY', peek: name === 'BINARY.PEEK', part, partial, name: `BINARY[${sectionText}]` };
  }
  const section = parseSection(sectionText);
  return { kind: 'BODY[]', peek: name === 'BODY.PEEK', section, partial, name: `BODY[${formatSection(section)}]` };
}

function parsePart(s: string): number[] {
  if (!/^[1-9]\d{0,8}(\.[1-9]\d{0,8})*$/.test(s)) throw new ParseError(`Invalid section part "${s.slice(0, 40)}"`);
  return s.split('.').map(Number);
}

/** section-spec: [part ["." text]] | text, with text HEADER / HEADER.FIELDS[.NOT] (list) / TEXT / MIME. */
export function parseSection(s: string): Section {
  if (s === '') return { part: [], text: null, fields: [] };
  const m = /^((?:[1-9]\d{0,8})(?:\.[1-9]\d{0,8})*)?(?:\.?)(.*)$/s.exec(s)!;
  const partStr = m[1] ?? '';
  let rest = m[2]!;
  if (partStr && rest && s[partStr.length] !== '.') throw new ParseError('Invalid section');
  const part = partStr ? parsePart(partStr) : [];
  if (!rest) return { part, text: null, fields: [] };
  const f = /^(HEADER\.FIELDS(?:\.NOT)?) +(\(.*\))$/is.exec(rest);
  if (f) {
    const { fields, quoted } = headerList(f[2]!);
    return { part, text: f[1]!.toUpperCase() as SectionText, fields, quoted };
  }
  rest = rest.toUpperCase();
  if (rest === 'HEADER' || rest === 'TEXT') return { part, text: rest, fields: [] };
  if (rest === 'MIME') {
    if (!part.length) throw new ParseError('MIME needs a part number');
    return { part, text: 'MIME', fields: [] };
  }
  throw new ParseError(`Invalid section "${s.slice(0, 40)}"`);
}

/**
 * header-list: "(" header-fld-name *(SP header-fld-name) ")", each an astring (RFC 9051 section 9): an
 * atom, a quoted string or a literal (the tokenizer hands over a literal as a quoted string). Any astring is
 * accepted, as Dovecot does: one that is no field name ("", "a b", "a:b") matches no field.
 */
function headerList(text: string): { fields: string[]; quoted: boolean[] } {
  let tokens: Token[];
  try {
    tokens = tokenize(Buffer.from(text, 'utf8'));
  } catch (e) {
    if (e instanceof TokenizeError) throw new ParseError('Invalid header field list');
    throw e;
  }
  const list = tokens[0];
  if (tokens.length !== 1 || list?.t !== 'list') throw new ParseError('Invalid header field list');
  if (!list.v.length) throw new ParseError('Empty header field list');
  const fields: string[] = [];
  const quoted: boolean[] = [];
  for (const t of list.v) {
    if (t.t === 'list') throw new ParseError('Header field list contains non-strings');
    fields.push(astringOf(t, 'header field name'));
    // NIL sent as an atom is echoed quoted (Dovecot: it is no atom there).
    quoted.push(t.t === 'string' || t.v.toUpperCase() === 'NIL');
  }
  return { fields, quoted };
}

/** The section as echoed in the FETCH response (field names upper-cased like Dovecot, quoted as sent). */
export function formatSection(s: Section): string {
  const p = s.part.join('.');
  if (!s.text) return p;
  const t = s.text === 'HEADER.FIELDS' || s.text === 'HEADER.FIELDS.NOT' ? `${s.text} (${s.fields.map((f, i) => echoField(f, s.quoted?.[i] ?? false)).join(' ')})` : s.text;
  return p ? `${p}.${t}` : t;
}

/** One field name of an echoed header-list: an atom, a quoted string, or a literal for 8-bit text. */
function echoField(name: string, quoted: boolean): string {
  const up = name.toUpperCase();
  if (!quoted && /^[\x21\x23\x24\x26\x27\x2b-\x5b\x5d-\x7a\x7c-\x7e]+$/.test(up)) return up;
  if (/^[\x01-\x09\x0b\x0c\x0e-\x7f]*$/.test(up)) return `"${up.replace(/["\\]/g, '\\$&')}"`;
  return `{${Buffer.byteLength(up, 'utf8')}}\r\n${up}`;
}
