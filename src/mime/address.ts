/**
 * A small, tolerant RFC 5322 section 3.4 address-list parser producing IMAP ENVELOPE address
 * structures (RFC 9051 section 7.5.2): raw (not RFC 2047-decoded) display names, mailbox and host split,
 * group start/end markers. Never throws.
 *
 * Conventions (chosen to keep every result a valid IMAP address):
 * - display name: the phrase before `<`, quoted strings unquoted, runs of whitespace/comments collapsed
 *   to one space; when there is no phrase, the last comment (e.g. `a@b (Real Name)`) is used; else null.
 * - a mailbox without `@` gets host "" (not NIL, which IMAP reserves for group markers).
 * - `<>` gives mailbox "" and host "".
 * - group `name: a@b, c@d;` gives { mailbox: name, host: null }, the members, then { mailbox: null, host: null }.
 * - a quoted local part is reported unquoted (`"a b"@c` gives mailbox `a b`), as Dovecot does.
 * - a source route (`<@a,@b:user@host>`) is reported in adl as written (`@a,@b`); otherwise adl is null.
 */
import type { EnvelopeAddress } from './types.js';

type Tok =
  | { t: 'atom'; v: string; ws: boolean }
  | { t: 'quoted'; v: string; ws: boolean }
  | { t: 'comment'; v: string; ws: boolean }
  | { t: 'special'; v: string; ws: boolean };

const SPECIALS = '<>,:;@';

/**
 * Tokens read from one address-list field (a plain `user@host,` is four): about 12,000 addresses. The rest
 * of a longer field is ignored, so every reader of address lists (ENVELOPE at delivery, SEARCH FROM/TO,
 * JMAP, Sieve) does bounded work: a To field of 800,000 addresses (9.5 MB) took 32 s of a worker's CPU to
 * deliver, every other session of that worker waiting, and SEARCH TO over it 1.6 s per session.
 */
export const MAX_ADDRESS_TOKENS = 50_000;

/** The field's tokens; `cut` when it stopped at MAX_ADDRESS_TOKENS (the address being read may lack tokens). */
function tokenize(s: string): { toks: Tok[]; cut: boolean } {
  const out: Tok[] = [];
  let i = 0;
  const n = s.length;
  let ws = false;
  while (i < n) {
    if (out.length >= MAX_ADDRESS_TOKENS) return { toks: out, cut: true };
    const c = s[i]!;
    if (c === ' ' || c === '\t' || c === '\r' || c === '\n') {
      ws = true;
      i++;
      continue;
    }
    if (c === '"') {
      let v = '';
      i++;
      while (i < n && s[i] !== '"') {
        if (s[i] === '\\' && i + 1 < n) i++;
        v += s[i];
        i++;
      }
      i++;
      out.push({ t: 'quoted', v, ws });
      ws = false;
      continue;
    }
    if (c === '(') {
      let depth = 1;
      let v = '';
      i++;
      while (i < n && depth > 0) {
        const d = s[i]!;
        if (d === '\\' && i + 1 < n) {
          v += s[i + 1];
          i += 2;
          continue;
        }
        if (d === '(') depth++;
        else if (d === ')') {
          depth--;
          if (depth === 0) {
            i++;
            break;
          }
        }
        v += d;
        i++;
      }
      out.push({ t: 'comment', v: v.trim(), ws });
      ws = true; // a comment separates like whitespace
      continue;
    }
    if (SPECIALS.includes(c)) {
      out.push({ t: 'special', v: c, ws });
      ws = false;
      i++;
      continue;
    }
    const start = i;
    while (i < n) {
      const d = s[i]!;
      if (d === ' ' || d === '\t' || d === '\r' || d === '\n' || d === '"' || d === '(' || SPECIALS.includes(d)) break;
      i++;
    }
    out.push({ t: 'atom', v: s.slice(start, i), ws });
    ws = false;
  }
  return { toks: out, cut: false };
}

/** Phrase text: words separated by one space where the source had whitespace or comments. */
function phrase(toks: Tok[]): string {
  let out = '';
  for (const t of toks) {
    if (t.t === 'comment') continue;
    if (out && t.ws) out += ' ';
    out += t.v;
  }
  return out.trim();
}

/** Token text without CFWS (local parts, domains, routes); quoted strings contribute their content. */
function specText(toks: Tok[]): string {
  let out = '';
  for (const t of toks) if (t.t !== 'comment') out += t.v;
  return out;
}

function lastComment(toks: Tok[]): string | null {
  for (let i = toks.length - 1; i >= 0; i--) {
    const t = toks[i]!;
    if (t.t === 'comment' && t.v) return t.v;
  }
  return null;
}

function splitSpec(toks: Tok[]): { adl: string | null; mailbox: string; host: string } {
  // Source route (obs-route, "@a,@b:" inside angle brackets): everything up to the last ':'.
  let from = 0;
  for (let i = 0; i < toks.length; i++) {
    const t = toks[i]!;
    if (t.t === 'special' && t.v === ':') from = i + 1;
  }
  const adl = from > 0 ? specText(toks.slice(0, from - 1)) || null : null;
  const body = toks.slice(from);
  let at = -1;
  for (let i = body.length - 1; i >= 0; i--) {
    const t = body[i]!;
    if (t.t === 'special' && t.v === '@') {
      at = i;
      break;
    }
  }
  if (at < 0) return { adl, mailbox: specText(body.filter((t) => t.t !== 'special' || t.v === '@')), host: '' };
  return {
    adl,
    mailbox: specText(body.slice(0, at).filter((t) => t.t !== 'special' || t.v === '@')),
    host: specText(body.slice(at + 1).filter((t) => t.t !== 'special')),
  };
}

function parseMailbox(toks: Tok[]): EnvelopeAddress | null {
  if (!toks.some((t) => t.t !== 'comment')) return null;
  const lt = toks.findIndex((t) => t.t === 'special' && t.v === '<');
  if (lt >= 0) {
    let gt = toks.findIndex((t, i) => i > lt && t.t === 'special' && t.v === '>');
    if (gt < 0) gt = toks.length;
    const name = phrase(toks.slice(0, lt)) || lastComment(toks.slice(gt)) || null;
    const { adl, mailbox, host } = splitSpec(toks.slice(lt + 1, gt));
    return { name, adl, mailbox, host };
  }
  const { adl, mailbox, host } = splitSpec(toks);
  return { name: lastComment(toks), adl, mailbox, host };
}

/**
 * Parses an unfolded address-list header value into ENVELOPE addresses.
 * Returns null (NIL) when the value holds no address at all. Past MAX_ADDRESS_TOKENS the rest is ignored:
 * the address being read there is dropped (not reported cut short) and an open group is closed.
 */
export function parseAddressList(value: string): EnvelopeAddress[] | null {
  const { toks, cut } = tokenize(value);
  const out: EnvelopeAddress[] = [];
  let cur: Tok[] = [];
  let inGroup = false;
  let angle = false;
  const flush = (): void => {
    const a = parseMailbox(cur);
    if (a) out.push(a);
    cur = [];
  };
  for (const t of toks) {
    if (t.t === 'special') {
      if (t.v === '<') angle = true;
      else if (t.v === '>') angle = false;
      else if (!angle && t.v === ',') {
        flush();
        continue;
      } else if (!angle && t.v === ':' && !inGroup && !cur.some((x) => x.t === 'special')) {
        out.push({ name: null, adl: null, mailbox: phrase(cur), host: null });
        cur = [];
        inGroup = true;
        continue;
      } else if (!angle && t.v === ';') {
        flush();
        if (inGroup) out.push({ name: null, adl: null, mailbox: null, host: null });
        inGroup = false;
        continue;
      }
    }
    cur.push(t);
  }
  if (!cut) flush();
  if (inGroup) out.push({ name: null, adl: null, mailbox: null, host: null });
  return out.length ? out : null;
}
