/**
 * The spam filter's tokenizer, in the manner of SpamBayes: a message becomes a set of feature strings.
 *
 * - Header fields: a token per field name present ("hdr:list-id"), Subject words ("subject:word"), the
 *   From/Reply-To address, its domain and display-name words, Message-ID's domain (and whether it matches
 *   From's), mailer, recipient counts (bucketed), root content type, List-* / Precedence presence,
 *   DKIM-Signature's d= domains. Received, Return-Path, Delivered-To and every X-Spam* field are skipped:
 *   they are this server's own (or untrusted) and would differ between delivery and training.
 * - Authentication results of the receiving MX ("auth:spf=pass", "auth:dkim=pass:example.org", ...), from
 *   the value passed in (LocalMessage.facts.authResults at delivery, our topmost Authentication-Results
 *   field when training from a stored copy).
 * - MIME structure: every leaf's type ("mime:image/jpeg"), charsets, transfer encodings of text,
 *   attachment extensions, "mime:html-only" when there is HTML and no plain text, image counts.
 * - Body text of every text part (charset- and transfer-decoded, HTML reduced to text, Unicode NFKC,
 *   invisible characters removed): lower-cased words of 3..12 characters, "skip:<first char> <len/10>"
 *   for longer ones, character bigrams for CJK runs, letters spelled out with separators joined again
 *   ("v.i.a.g.r.a" -> "viagra" and "obf:spaced"), and a few style clues of HTML (hidden text, tiny
 *   fonts, many images with little text).
 * - URLs and e-mail addresses in text and HTML attributes: "url:host", "url:domain", "url:tld", IP-literal
 *   hosts, URL shorteners are just hosts; "email:domain".
 *
 * Input is bounded (MAX_HEADER_BYTES of header, MAX_TEXT_BYTES of decoded text) so a huge or hostile
 * message costs bounded time. Never throws.
 */
import { indexParts, decodeMimeWords, decodePartBody, htmlToText, messageHeaderEnd } from '../mime/index.js';
import { headerFields, safeDecode } from '../mime/headers.js';
import type { MessageIndex, MimePart } from '../mime/types.js';
import { idCount, IdSet, tokenIdList, writeTokenId, type TokenIdList, type TokenIdParts, type TokenOut } from './token-ids.js';
import { regDomain, urlTokens } from './tokenize-urls.js';

/** Header bytes looked at. */
export const MAX_HEADER_BYTES = 64 * 1024;
/** Decoded text (all parts together) looked at. */
export const MAX_TEXT_BYTES = 128 * 1024;
/** Raw bytes indexed for MIME structure (the rest of a huge message is not looked at). */
export const MAX_INDEX_BYTES = 2 * 1024 * 1024;
/** Distinct tokens kept per message. */
export const MAX_TOKENS = 3000;

/** Header fields that give no tokens (this server's own, or per-recipient). */
export const SKIPPED_FIELDS: ReadonlySet<string> = new Set(['received', 'return-path', 'delivered-to', 'x-original-to', 'authentication-results', 'arc-authentication-results', 'received-spf']);
/** Field names whose presence is a token; other fields are counted only as "hdr:x-other". */
const NAMED_FIELDS = new Set([
  'list-id', 'list-unsubscribe', 'list-unsubscribe-post', 'list-post', 'precedence', 'auto-submitted', 'x-mailer', 'user-agent',
  'mime-version', 'message-id', 'date', 'in-reply-to', 'references', 'reply-to', 'organization', 'cc', 'bcc', 'sender',
  'x-priority', 'importance', 'x-msmail-priority', 'dkim-signature', 'arc-seal', 'feedback-id', 'x-campaign', 'content-language',
  'thread-index', 'x-originating-ip', 'errors-to', 'disposition-notification-to', 'to', 'from', 'subject', 'content-type',
]);

/** The token of each named field ("hdr:" and its name), made once. */
const NAMED_TOKENS = new Map([...NAMED_FIELDS].map((n) => [n, `hdr:${n}`]));

/** Fields whose value gives tokens (the cases of headerTokens' switch); the others are not decoded at all. */
const VALUE_FIELDS = new Set([
  'subject', 'from', 'reply-to', 'sender', 'to', 'cc', 'message-id', 'x-mailer', 'user-agent', 'content-type', 'dkim-signature',
  'precedence', 'auto-submitted', 'x-priority', 'importance', 'list-id',
]);

/** True for header fields the filter must not trust or learn from (X-Spam, X-Spam-Status, X-Spamd-*, ...). */
export function isSpamField(lowerName: string): boolean {
  return lowerName.startsWith('x-spam');
}

export interface TokenizeOptions {
  /** The receiving MX's Authentication-Results value (without the field name), when known. */
  authResults?: string | null;
  /** indexMessage(raw) when the caller has it (shared with the store at delivery: mime/shared.ts). */
  index?: MessageIndex;
}

/** The message's features (distinct, at most MAX_TOKENS). */
export function tokenize(raw: Buffer, opts: TokenizeOptions = {}): string[] {
  return joinTokens(tokenParts(raw, opts.index), opts.authResults ?? null, raw.length);
}

/**
 * The tokens of a message that depend on its octets alone, in two runs: those of the header, and those of
 * the body and its MIME structure that the header did not give (each without repeats, the two disjoint). tokenize() = joinTokens(tokenParts(raw), ...):
 * the spam filter may compute the parts on another thread (mailauth/pool.ts). `failed`: the run in which
 * the tokenizer met an error (the tokens found until then are kept; none follow).
 */
export interface TokenParts {
  head: string[];
  body: string[];
  failed: 'head' | 'body' | null;
}

export function tokenParts(raw: Buffer, index?: MessageIndex): TokenParts {
  const head = new Set<string>();
  const body = new Set<string>();
  const failed = collectParts(raw, index, head, body);
  if (failed === 'empty') return { head: ['msg:empty'], body: [], failed: null };
  if (failed === 'head') return { head: [...head], body: [], failed };
  // The body's tokens that the header gave already add nothing (joinTokens keeps the first of each).
  const bodyOnly: string[] = [];
  for (const t of body) if (!head.has(t)) bodyOnly.push(t);
  return { head: [...head], body: bodyOnly, failed };
}

/**
 * tokenIdParts(tokenParts(raw, index)), made without the token strings' sets: each token is hashed once
 * into an IdSet as it is found, words straight from the text.
 */
export function tokenIdPartsOf(raw: Buffer, index?: MessageIndex): TokenIdParts {
  const head = HEAD_IDS;
  const body = BODY_IDS;
  head.clear();
  body.clear();
  const failed = collectParts(raw, index, head, body);
  if (failed === 'empty') return { head: tokenIdList(['msg:empty']), body: new Uint32Array(0), failed: null };
  if (failed === 'head') return { head: head.list(), body: new Uint32Array(0), failed };
  return { head: head.list(), body: body.listWithout(head), failed };
}

/** The sets tokenIdPartsOf fills, message after message (it runs to its end before another can start). */
const HEAD_IDS = new IdSet();
const BODY_IDS = new IdSet();

/** Puts the header's tokens into `head` and the body's into `body`; 'empty' for a message of no octets, else where it failed. */
function collectParts(raw: Buffer, index: MessageIndex | undefined, head: TokenOut, body: TokenOut): TokenParts['failed'] | 'empty' {
  if (raw.length === 0) return 'empty';
  try {
    headerTokens(raw, Math.min(messageHeaderEnd(raw), MAX_HEADER_BYTES), head);
  } catch {
    return 'head';
  }
  try {
    bodyTokens(raw, index, body);
  } catch {
    return 'body';
  }
  return null;
}

/**
 * The features of a message of `size` octets from its parts (as tokenize gives them: header, then the
 * receiving MX's authentication results, size, body), distinct, at most MAX_TOKENS.
 */
export function joinTokens(parts: TokenParts, authResults: string | null, size: number): string[] {
  if (size === 0 || parts.failed === 'head') {
    const out = new Set<string>(parts.head);
    if (size > 0) out.add('tokenizer:error');
    return out.size > MAX_TOKENS ? [...out].slice(0, MAX_TOKENS) : [...out];
  }
  // tokenParts' runs are distinct and disjoint, and none of their tokens begins "auth:" or "msg:" or is
  // "tokenizer:error" (see the prefixes above): a list in order is their union, as a Set would make it.
  const out = parts.head.slice();
  for (const t of middleTokens(authResults, size)) out.push(t);
  for (const t of parts.body) out.push(t);
  if (parts.failed) out.push('tokenizer:error');
  return out.length > MAX_TOKENS ? out.slice(0, MAX_TOKENS) : out;
}

/** The tokens joinTokens puts between the header's and the body's: authentication results and size. */
function middleTokens(authResults: string | null, size: number): string[] {
  return [...authTokenList(authResults), ...sizeTokens(size)];
}

/** The authentication results' tokens (distinct), as joinTokens puts them after the header's. */
export function authTokenList(authResults: string | null): string[] {
  const auth = new Set<string>();
  if (authResults) authTokens(authResults, auth);
  else auth.add('auth:none');
  return [...auth];
}

function sizeTokens(size: number): string[] {
  return size > MAX_INDEX_BYTES ? ['msg:huge', `msg:size:${sizeBucket(size)}`] : [`msg:size:${sizeBucket(size)}`];
}

/** The ids of tokenParts (token-ids.ts). */
export function tokenIdParts(parts: TokenParts): TokenIdParts {
  return { head: tokenIdList(parts.head), body: tokenIdList(parts.body), failed: parts.failed };
}

/**
 * joinTokens over ids: the ids of joinTokens(parts, authResults, size) for the parts of these ids. `auth`
 * is the Authentication-Results value, or the ids of its tokens (tokenIdList(authTokenList(value))).
 */
export function joinTokenIds(parts: TokenIdParts, auth: string | null | TokenIdList, size: number): TokenIdList {
  const whole = !(size === 0 || parts.failed === 'head');
  const authIds = whole ? (auth instanceof Uint32Array ? auth : tokenIdList(authTokenList(auth))) : new Uint32Array(0);
  const extra = whole ? sizeTokens(size) : size > 0 ? ['tokenizer:error'] : [];
  const body = whole ? parts.body : null;
  const tail = body && parts.failed ? ['tokenizer:error'] : [];
  const n = Math.min(MAX_TOKENS, idCount(parts.head) + idCount(authIds) + extra.length + (body ? idCount(body) : 0) + tail.length);
  const out = new Uint32Array(2 * n);
  let k = 0;
  for (const run of [parts.head, authIds]) {
    const take = Math.min(n - k, idCount(run));
    out.set(run.subarray(0, 2 * take), 2 * k);
    k += take;
  }
  for (const t of extra) if (k < n) writeTokenId(t, out, k++);
  if (body && k < n) {
    const take = Math.min(n - k, idCount(body));
    out.set(body.subarray(0, 2 * take), 2 * k);
    k += take;
  }
  for (const t of tail) if (k < n) writeTokenId(t, out, k++);
  return out;
}

function bodyTokens(raw: Buffer, index: MessageIndex | undefined, out: TokenOut): void {
  const limited = raw.length > MAX_INDEX_BYTES ? raw.subarray(0, MAX_INDEX_BYTES) : raw;
  const state: BodyState = { budget: MAX_TEXT_BYTES, plain: 0, html: 0, images: 0, textChars: 0 };
  const root = index && index.size === raw.length && limited === raw ? index.root : indexParts(limited);
  walk(limited, root, out, state, 0);
  if (state.html > 0 && state.plain === 0) out.add('mime:html-only');
  if (state.images > 0) out.add(`mime:images:${Math.min(state.images, 5)}`);
  if (state.images > 0 && state.textChars < 200) out.add('mime:images-little-text');
  if (state.textChars === 0) out.add('body:no-text');
}

// ---- header ----

function headerTokens(raw: Buffer, end: number, out: TokenOut): void {
  let others = 0;
  let fromDomain = '';
  let msgIdDomain = '';
  // The header block read once: values of an ASCII block (nearly all) are cut from its one string.
  const h = headerFields(raw, 0, end);
  for (let i = 0; i < h.fields.length; i++) {
    const f = h.fields[i]!;
    const name = f.name.toLowerCase();
    if (SKIPPED_FIELDS.has(name) || isSpamField(name)) continue;
    const named = NAMED_TOKENS.get(name);
    if (named) out.add(named);
    else others++;
    if (!VALUE_FIELDS.has(name)) continue;
    const value = h.value(i);
    switch (name) {
      case 'subject': {
        const s = decodeMimeWords(value);
        addWords(s, 20, out, 'subject:');
        if (/[A-Z]{4,}/.test(s) && s === s.toUpperCase()) out.add('subject:all-caps');
        if (/[!?$€]{2,}/.test(s)) out.add('subject:punct');
        if (/=\?/.test(value)) out.add(`subject:encoded:${/=\?([^?]+)\?/.exec(value)?.[1]?.toLowerCase() ?? ''}`);
        break;
      }
      case 'from':
      case 'reply-to':
      case 'sender': {
        const d = decodeMimeWords(value);
        const addr = firstAddress(d);
        if (addr) {
          out.add(`${name}:addr:${addr}`);
          const dom = addr.slice(addr.lastIndexOf('@') + 1);
          out.add(`${name}:domain:${dom}`);
          if (name === 'from') fromDomain = dom;
          if (/^\d/.test(addr) || /\d{4,}/.test(addr.split('@')[0] ?? '')) out.add(`${name}:digits`);
        } else out.add(`${name}:no-addr`);
        const display = d.replace(/<[^>]*>/g, ' ');
        addWords(display, 6, out, `${name}:name:`);
        break;
      }
      case 'to':
      case 'cc': {
        const n = (value.match(/@/g) ?? []).length;
        out.add(`${name}:count:${n > 10 ? 'many' : n > 2 ? 'some' : String(n)}`);
        if (/undisclosed/i.test(value)) out.add(`${name}:undisclosed`);
        break;
      }
      case 'message-id': {
        const m = /@([^>\s]+)/.exec(value);
        msgIdDomain = m ? m[1]!.toLowerCase() : '';
        out.add(m ? `message-id:domain:${msgIdDomain}` : 'message-id:no-domain');
        break;
      }
      case 'x-mailer':
      case 'user-agent':
        out.add(`mailer:${value.toLowerCase().replace(/[\d.]+/g, '').trim().slice(0, 30)}`);
        break;
      case 'content-type':
        out.add(`root:${value.toLowerCase().split(';')[0]!.trim()}`);
        break;
      case 'dkim-signature': {
        const m = /(?:^|;)\s*d=([^;\s]+)/.exec(value);
        if (m) out.add(`dkim-sig:${m[1]!.toLowerCase()}`);
        break;
      }
      case 'precedence':
      case 'auto-submitted':
      case 'x-priority':
      case 'importance':
        out.add(`${name}:${value.toLowerCase().slice(0, 20)}`);
        break;
      case 'list-id': {
        const m = /<([^>]+)>/.exec(value);
        out.add(`list-id:${(m ? m[1]! : value).toLowerCase().slice(0, 60)}`);
        break;
      }
      default:
        break;
    }
  }
  out.add(`hdr:others:${others > 8 ? 'many' : others > 3 ? 'some' : String(others)}`);
  if (fromDomain && msgIdDomain) out.add(msgIdDomain.endsWith(fromDomain) || fromDomain.endsWith(msgIdDomain) ? 'message-id:matches-from' : 'message-id:differs-from');
}

function firstAddress(s: string): string | null {
  const m = /<([^<>\s@]+@[^<>\s@]+)>/.exec(s) ?? /([^\s<>"',;:@]+@[^\s<>"',;:@]+)/.exec(s);
  return m ? m[1]!.toLowerCase().slice(0, 80) : null;
}

/** Tokens of an Authentication-Results value (RFC 8601): method=result, with the DKIM/SPF domain. */
function authTokens(value: string, out: TokenOut): void {
  const parts = value.split(';').slice(1);
  if (parts.length === 0 || /^\s*none\s*$/i.test(parts[0] ?? '')) out.add('auth:empty');
  for (const p of parts) {
    const m = /^\s*([a-z0-9-]+)\s*=\s*([a-z]+)/i.exec(p);
    if (!m) continue;
    const method = m[1]!.toLowerCase();
    const result = m[2]!.toLowerCase();
    out.add(`auth:${method}=${result}`);
    const dom = /(?:header\.d|header\.from|smtp\.mailfrom|header\.i)\s*=\s*@?([^\s;]+)/i.exec(p);
    if (dom) {
      const d = dom[1]!.toLowerCase().replace(/^.*@/, '');
      out.add(`auth:${method}=${result}:${d}`);
    }
  }
}

// ---- body ----

interface BodyState {
  budget: number;
  plain: number;
  html: number;
  images: number;
  textChars: number;
}

function walk(raw: Buffer, p: MimePart, out: TokenOut, st: BodyState, depth: number): void {
  if (depth > 20) return;
  if (p.children.length > 0) {
    out.add(`mime:multipart/${p.subtype}`);
    for (const c of p.children) walk(raw, c, out, st, depth + 1);
    return;
  }
  if (p.message) {
    out.add('mime:message/rfc822');
    walk(raw, p.message.root, out, st, depth + 1);
    return;
  }
  const type = `${p.type}/${p.subtype}`;
  out.add(`mime:${type}`);
  const filename = p.disposition?.params.find(([k]) => k === 'filename')?.[1] ?? p.params.find(([k]) => k === 'name')?.[1];
  if (filename) {
    const ext = /\.([a-z0-9]{1,6})$/i.exec(filename)?.[1]?.toLowerCase();
    out.add(ext ? `attach:ext:${ext}` : 'attach:no-ext');
    if (/\.(exe|scr|js|vbs|bat|cmd|jar|iso|img|lnk|hta)$/i.test(filename)) out.add('attach:executable');
  }
  if (p.type === 'image') st.images++;
  if (p.type !== 'text' || st.budget <= 0) return;
  const charset = p.params.find(([k]) => k === 'charset')?.[1] ?? 'us-ascii';
  out.add(`charset:${charset.toLowerCase()}`);
  out.add(`cte:${p.encoding.toLowerCase()}`);
  let bytes: Buffer;
  try {
    bytes = decodePartBody(raw, p, st.budget);
  } catch {
    out.add('cte:unknown');
    bytes = raw.subarray(p.bodyStart, Math.min(p.bodyEnd, p.bodyStart + st.budget));
  }
  st.budget -= bytes.length;
  let text = safeDecode(bytes, charset);
  if (p.subtype === 'html') {
    st.html++;
    htmlClues(text, out, st);
    text = htmlToText(text);
  } else {
    st.plain++;
    urlTokens(text, out);
  }
  textTokens(text, out, st);
}

function htmlClues(html: string, out: TokenOut, st: BodyState): void {
  const imgs = (html.match(/<img\b/gi) ?? []).length;
  st.images += imgs;
  if (/display\s*:\s*none|visibility\s*:\s*hidden/i.test(html)) out.add('html:hidden');
  // Tags are matched within [^<>] runs of bounded length: "[^>]*" made hostile HTML ("<a " repeated) quadratic.
  if (/font-size\s*:\s*[01](?:px|pt)?\b|<font[^<>]{1,1000}size=["']?1/i.test(html)) out.add('html:tiny-font');
  if (/color\s*[:=]\s*["']?#?(?:fff|ffffff|white)\b/i.test(html)) out.add('html:white-text');
  if (/<form\b/i.test(html)) out.add('html:form');
  if (/<script\b/i.test(html)) out.add('html:script');
  if (/<table\b/i.test(html)) out.add('html:table');
  const attrs = html.match(/(?:href|src)\s*=\s*["']?[^"'\s>]+/gi) ?? [];
  for (const a of attrs.slice(0, 200)) urlTokens(a.replace(/^(?:href|src)\s*=\s*["']?/i, ''), out);
  // An anchor whose text shows one host and whose href goes to another.
  const re = /<a\b[^<>]{0,1000}href\s*=\s*["']?https?:\/\/([^/"'\s<>:]+)[^<>]{0,1000}>([^<]{0,200})/gi;
  let m: RegExpExecArray | null;
  let n = 0;
  while ((m = re.exec(html)) && n++ < 100) {
    const shown = /https?:\/\/([^/\s<]+)|www\.([^/\s<]+)/i.exec(m[2]!);
    const host = m[1]!.toLowerCase();
    const shownHost = (shown?.[1] ?? (shown?.[2] ? `www.${shown[2]}` : ''))?.toLowerCase();
    if (shownHost && regDomain(shownHost) !== regDomain(host)) out.add('html:link-mismatch');
  }
}

const NON_ASCII = /[^\x00-\x7f]/;

/** Whether a UTF-16 code unit is one of RegExp's \s characters. */
function isSpace(c: number): boolean {
  if (c <= 0x20) return c === 0x20 || (c >= 0x09 && c <= 0x0d);
  if (c < 0xa0) return false;
  return c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000 || c === 0xfeff;
}

/** t.split(/\s+/).length (runs of \s plus one), without building anything. */
function countWords(t: string): number {
  let runs = 0;
  let inRun = false;
  for (let i = 0; i < t.length; i++) {
    const sp = isSpace(t.charCodeAt(i));
    if (sp && !inRun) runs++;
    inRun = sp;
  }
  return runs + 1;
}

const INVISIBLE = /[\u00ad\u200b-\u200f\u2060-\u2064\ufeff\u034f\u180e]/;
const INVISIBLE_ALL = new RegExp(INVISIBLE.source, 'g');
const CJK = /[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]/;
const CJK_RUN = /[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]+/g;
/** Single letters or digits joined by one separator, 4 or more: "v.i.a.g.r.a", "f r e e". */
const SPACED = /(?:^|[^\p{L}\p{N}])((?:[\p{L}\p{N}][ .\-_*|]){3,}[\p{L}\p{N}])(?![\p{L}\p{N}])/gu;
/** SPACED for ASCII-only text (the same matches there: ASCII's letters and digits are [A-Za-z0-9]), without Unicode classes. */
const SPACED_ASCII = /(?:^|[^A-Za-z0-9])((?:[A-Za-z0-9][ .\-_*|]){3,}[A-Za-z0-9])(?![A-Za-z0-9])/g;

/**
 * What every SPACED match contains (separator, letter, separator, letter, separator: its 2nd to 6th
 * characters), found far faster than SPACED itself: text without it has no SPACED match.
 */
const SPACED_HINT = /[ .\-_*|][\p{L}\p{N}][ .\-_*|][\p{L}\p{N}][ .\-_*|]/u;
const SPACED_HINT_ASCII = /[ .\-_*|][A-Za-z0-9][ .\-_*|][A-Za-z0-9][ .\-_*|]/;

/** The replacement of a SPACED match: its letters joined (what comes before them kept). */
function joinSpaced(all: string, inner: string): string {
  return all.slice(0, all.length - inner.length) + inner.replace(/[ .\-_*|]/g, '');
}

function textTokens(text: string, out: TokenOut, st: BodyState): void {
  if (text.length === 0) return;
  const invisible = INVISIBLE.test(text);
  if (invisible) out.add('text:invisible-chars');
  // NFKC leaves ASCII as it is: only text with other characters is normalized.
  let t = invisible ? text.replace(INVISIBLE_ALL, '') : text;
  const ascii = !NON_ASCII.test(t);
  if (!ascii) t = t.normalize('NFKC');
  st.textChars += t.length;
  // Every match drops at least three separators, so the text changes exactly when something was joined.
  if ((ascii ? SPACED_HINT_ASCII : SPACED_HINT).test(t)) {
    const joined = t.replace(ascii ? SPACED_ASCII : SPACED, joinSpaced);
    if (joined.length !== t.length) out.add('obf:spaced');
    t = joined;
  }
  if (!ascii && CJK.test(t)) {
    CJK_RUN.lastIndex = 0;
    let m: RegExpExecArray | null;
    let n = 0;
    while ((m = CJK_RUN.exec(t)) && n < 2000) {
      const run = m[0];
      for (let i = 0; i + 1 < run.length && n < 2000; i++, n++) out.add(run.slice(i, i + 2));
    }
  }
  const upper = (t.match(/\b[A-Z]{3,}\b/g) ?? []).length;
  const wordsAll = countWords(t);
  if (wordsAll > 10 && upper / wordsAll > 0.3) out.add('text:shouting');
  if (/[$€£]\s?\d|\d\s?(?:usd|eur|\$|€)/i.test(t)) out.add('text:money');
  if (/[!]{3,}/.test(t)) out.add('text:exclaim');
  addWords(t, 5000, out, '', ascii);
}

/**
 * Adds `prefix` + each lower-cased word of `s` (at most `max` words, repeats counted): 3..12 characters
 * kept, longer ones as "skip:<first> <len/10>"; digits-only as "num:<len>"; with digits and letters as
 * "mixed:" and the word with # for each digit. `ascii`: `s` is known to be ASCII only (then it is scanned
 * by character code, and an IdSet gets each plain word hashed from `s` without a string made for it).
 */
function addWords(s: string, max: number, out: TokenOut, prefix: string, ascii = !NON_ASCII.test(s)): void {
  if (ascii) addAsciiWords(s, max, out, prefix);
  else for (const w of unicodeWords(s, max)) out.add(prefix + w);
}

/** The words of addWords for text that is not ASCII only. */
function unicodeWords(s: string, max: number): string[] {
  const outw: string[] = [];
  const cjk = CJK.test(s);
  const re = /[\p{L}\p{N}][\p{L}\p{N}'’$€%-]*/gu;
  let m: RegExpExecArray | null;
  while ((m = re.exec(s)) && outw.length < max) {
    let w = m[0].toLowerCase();
    const last = w.charCodeAt(w.length - 1);
    if (last === 39 || last === 0x2019 || last === 45) w = w.replace(/['’-]+$/, '');
    if (cjk && CJK.test(w)) continue;
    if (DIGIT.test(w)) {
      if (ALL_DIGITS.test(w)) {
        outw.push(`num:${Math.min(w.length, 9)}`);
        continue;
      }
      if (w.length >= 3 && w.length <= 12 && LETTER.test(w)) {
        outw.push(`mixed:${w.replace(DIGITS, '#')}`);
        continue;
      }
    }
    if (w.length < 3) continue;
    outw.push(w.length > 12 ? `skip:${w[0]} ${Math.floor(w.length / 10) * 10}` : w);
  }
  return outw;
}

/**
 * addWords of ASCII-only text, scanned by character code: the same words as the Unicode expression finds
 * there ([A-Za-z0-9][A-Za-z0-9'$%-]*, trailing ' and - dropped), without a regular expression per word or a
 * string for each word that is dropped (or, into an IdSet, for any plain word).
 */
function addAsciiWords(s: string, max: number, out: TokenOut, prefix: string): void {
  const ids = out instanceof IdSet ? out : null;
  const n = s.length;
  let i = 0;
  let count = 0;
  while (i < n && count < max) {
    const first = s.charCodeAt(i);
    if (!((first >= 97 && first <= 122) || (first >= 65 && first <= 90) || (first >= 48 && first <= 57))) {
      i++;
      continue;
    }
    const start = i;
    let digits = 0;
    let letters = 0;
    let upper = false;
    for (; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 97 && c <= 122) letters++;
      else if (c >= 65 && c <= 90) {
        letters++;
        upper = true;
      } else if (c >= 48 && c <= 57) digits++;
      else if (c !== 39 && c !== 45 && c !== 36 && c !== 37) break;
    }
    let end = i;
    for (let c = s.charCodeAt(end - 1); c === 39 || c === 45; c = s.charCodeAt(end - 1)) end--;
    const len = end - start;
    if (digits > 0) {
      if (digits === len) {
        out.add(`${prefix}num:${Math.min(len, 9)}`);
        count++;
        continue;
      }
      if (len >= 3 && len <= 12 && letters > 0) {
        out.add(`${prefix}mixed:${s.slice(start, end).toLowerCase().replace(DIGITS, '#')}`);
        count++;
        continue;
      }
    }
    if (len < 3) continue;
    count++;
    if (len > 12) out.add(`${prefix}skip:${s.charAt(start).toLowerCase()} ${Math.floor(len / 10) * 10}`);
    else if (ids) ids.addRange(prefix, s, start, end, upper);
    else out.add(prefix + (upper ? s.slice(start, end).toLowerCase() : s.slice(start, end)));
  }
}

const DIGIT = /\d/;
const DIGITS = /\d/g;
const ALL_DIGITS = /^\d+$/;
const LETTER = /\p{L}/u;

function sizeBucket(n: number): string {
  if (n < 1024) return '<1k';
  if (n < 4096) return '<4k';
  if (n < 16384) return '<16k';
  if (n < 65536) return '<64k';
  return 'big';
}
