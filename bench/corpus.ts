/**
 * Deterministic message corpus for the benchmark: message i of seed s is always the same bytes, and any
 * message can be generated on its own (no need to generate 0..i-1 first), so a 10 000-message mailbox is
 * produced as a stream and only its digests are kept in memory.
 *
 * The mix is meant to look like a real mailbox:
 * - sizes from 1 KB to 5 MB, log-normal around a median of ~8 KB, with a tail of messages carrying
 *   attachments (a few hundred KB) and, every `bigEvery` messages, one at the 5 MB ceiling;
 * - plain text (7bit, quoted-printable or base64), multipart/alternative (text + HTML), multipart/mixed
 *   with base64 attachments, and forwarded messages nested as message/rfc822;
 * - non-ASCII Subject and From display names as RFC 2047 encoded words (B and Q), some lines that start
 *   with "." (dot-stuffing in POP3 and LMTP) and long header folding.
 *
 * A marker word (NEEDLE) is planted in the decoded body text of roughly 4% of the messages, and nowhere
 * else, so SEARCH BODY has a known answer: `needle` in the returned info says whether message i has it.
 * All line endings are CRLF; no line exceeds 998 octets.
 */
import { createHash } from 'node:crypto';
import { VARIED_BASE, variedMessage } from './corpus-varied.js';

export { VARIED_BASE } from './corpus-varied.js';

/** Word planted in the body text of the messages whose info says `needle: true`. */
export const NEEDLE = 'quokkaberry';

export interface CorpusOptions {
  seed: number;
  /** Upper bound on a message's size in octets (default 5 MB). Smoke runs lower it. */
  maxSize?: number;
  /** One message of every `bigEvery` is sized at maxSize (default 1000; 0 = never). */
  bigEvery?: number;
  /** Domain used in addresses (default "bench.test"). */
  domain?: string;
  /**
   * 'varied' selects the profile of bench/corpus-varied.ts (more charsets, nested multiparts, threads, odd
   * dates, a larger tail) for every index; indices from VARIED_BASE on are always varied, so one CorpusIndex
   * and one populate path serve both profiles.
   */
  variety?: 'classic' | 'varied';
}

export interface MessageInfo {
  index: number;
  size: number;
  /** Hex SHA-256 of the raw message. */
  sha256: string;
  /** Hex SHA-256 of the body (the octets after the header's blank line). */
  bodySha256: string;
  messageId: string;
  needle: boolean;
  kind: MessageKind;
  /** INTERNALDATE to use when the message is stored directly. */
  date: Date;
  /** Flags the message starts with when a mailbox is populated (70% \Seen, 5% \Flagged). */
  flags: string[];
}

/** The classic mix has the first four; the varied profile (bench/corpus-varied.ts) adds the others. */
export type MessageKind = 'plain' | 'alternative' | 'attachment' | 'forward' | 'related' | 'nested' | 'large' | 'report';

export interface GeneratedMessage {
  raw: Buffer;
  info: MessageInfo;
}

/** mulberry32: small, fast, good enough for test data; never use for anything secret. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function mix(seed: number, i: number): number {
  let h = (seed ^ 0x9e3779b9) >>> 0;
  h = Math.imul(h ^ (i + 0x7f4a7c15), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

export const WORDS = (
  'the of and to in is for on that with as was by at from this be are or it an have not which but all has were ' +
  'meeting report project budget quarter schedule review draft proposal invoice delivery customer release ' +
  'server network storage backup migration upgrade ticket request update status summary notes agenda ' +
  'please thanks regards attached below above tomorrow today monday friday week month year team office ' +
  'question answer issue problem solution change plan result test version feature support contract price'
).split(' ');

export const FIRST = ['Alice', 'Bob', 'Carol', 'Dave', 'Erin', 'Frank', 'Grace', 'Heidi', 'Ivan', 'Judy', 'Mallory', 'Oscar'];
const FIRST_INTL = ['José', 'Zoë', 'Jürgen', 'Søren', 'Łukasz', 'Renée', 'Àlex', 'Björn', '智子', 'Дмитрий', 'Αλέξης', 'Ömer'];
export const LAST = ['Smith', 'Jones', 'Müller', 'García', 'Rossi', 'Dubois', 'Novák', 'Kowalski', 'Andersson', 'Tanaka'];
const SUBJECTS_INTL = [
  'Réunion de l’équipe',
  'Überprüfung der Angebote',
  'Presupuesto año próximo',
  'Отчёт за квартал',
  '会議の議事録',
  'Πρόγραμμα συνάντησης',
  'Zażółć gęślą jaźń',
  'Smörgåsbord på fredag ☕',
];

export function pick<T>(r: () => number, xs: readonly T[]): T {
  return xs[Math.floor(r() * xs.length)] as T;
}

/** Standard normal by Box-Muller. */
export function gauss(r: () => number): number {
  const u = Math.max(r(), 1e-12);
  const v = r();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** RFC 2047 encoded word(s) for a UTF-8 string; 'B' or 'Q'; split so each word stays under 75 chars. */
export function encodeWord(text: string, enc: 'B' | 'Q'): string {
  const words: string[] = [];
  let chunk = '';
  const flush = (): void => {
    if (!chunk) return;
    const bytes = Buffer.from(chunk, 'utf8');
    if (enc === 'B') words.push(`=?UTF-8?B?${bytes.toString('base64')}?=`);
    else {
      let q = '';
      for (const b of bytes) {
        if ((b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a)) q += String.fromCharCode(b);
        else if (b === 0x20) q += '_';
        else q += '=' + b.toString(16).toUpperCase().padStart(2, '0');
      }
      words.push(`=?UTF-8?Q?${q}?=`);
    }
    chunk = '';
  };
  for (const ch of text) {
    const next = chunk + ch;
    const n = Buffer.byteLength(next, 'utf8');
    if ((enc === 'B' ? Math.ceil(n / 3) * 4 : n * 3) > 45) flush();
    chunk += ch;
  }
  flush();
  return words.join('\r\n ');
}

export function sentence(r: () => number, n: number): string {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(pick(r, WORDS));
  const s = out.join(' ');
  return s.charAt(0).toUpperCase() + s.slice(1) + '.';
}

/** Plain text of about `bytes` octets, wrapped at 72 columns, CRLF; may contain lines starting with ".". */
export function textBody(r: () => number, bytes: number, needle: boolean, intl: boolean): string {
  const lines: string[] = [];
  let total = 0;
  let line = '';
  let needlePlaced = !needle;
  while (total < bytes) {
    let w = pick(r, WORDS);
    if (!needlePlaced && total > bytes / 3) {
      w = NEEDLE;
      needlePlaced = true;
    } else if (intl && r() < 0.05) w = pick(r, ['café', 'naïve', 'größe', 'año', 'привет', '日本']);
    if (line.length + w.length + 1 > 72) {
      lines.push(line);
      total += Buffer.byteLength(line, 'utf8') + 2;
      line = '';
      const x = r();
      if (x < 0.08) {
        lines.push('');
        total += 2;
      } else if (x < 0.09) {
        lines.push('.' + (r() < 0.5 ? '' : ' ' + sentence(r, 3)));
        total += 20;
      }
    }
    line = line ? line + ' ' + w : w;
  }
  if (!needlePlaced) line = line ? line + ' ' + NEEDLE : NEEDLE;
  if (line) lines.push(line);
  return lines.join('\r\n') + '\r\n';
}

/** Quoted-printable (RFC 2045 6.7) of UTF-8 text, or of octets in any charset, with CRLF line breaks. */
export function qpEncode(text: string | Buffer): string {
  const out: string[] = [];
  const octets = typeof text !== 'string';
  for (const srcLine of (octets ? text.toString('latin1') : text).split('\r\n')) {
    let line = '';
    for (const b of Buffer.from(srcLine, octets ? 'latin1' : 'utf8')) {
      const enc = (b >= 33 && b <= 126 && b !== 61) || b === 32 ? String.fromCharCode(b) : '=' + b.toString(16).toUpperCase().padStart(2, '0');
      if (line.length + enc.length > 75) {
        out.push(line + '=');
        line = '';
      }
      line += enc;
    }
    if (line.endsWith(' ')) line = line.slice(0, -1) + '=20';
    out.push(line);
  }
  return out.join('\r\n');
}

export function base64Lines(buf: Buffer): string {
  const s = buf.toString('base64');
  const lines: string[] = [];
  for (let i = 0; i < s.length; i += 76) lines.push(s.slice(i, i + 76));
  return lines.join('\r\n') + '\r\n';
}

/** Pseudo-random attachment bytes (incompressible, like a photo or a PDF), deterministic. */
export function binary(r: () => number, n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  let x = Math.floor(r() * 4294967296) >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    b[i] = x & 0xff;
  }
  return b;
}

function address(r: () => number, domain: string, intl: boolean): { header: string; addr: string } {
  const first = intl ? pick(r, FIRST_INTL) : pick(r, FIRST);
  const last = pick(r, LAST);
  const local = `${(intl ? pick(r, FIRST) : first).toLowerCase()}.${last.normalize('NFD').replace(/[^A-Za-z]/g, '').toLowerCase()}`;
  const addr = `${local}@${domain}`;
  const name = `${first} ${last}`;
  const needsEncoding = /[^\x20-\x7e]/.test(name);
  const display = needsEncoding ? encodeWord(name, r() < 0.5 ? 'B' : 'Q') : `"${name}"`;
  return { header: `${display} <${addr}>`, addr };
}

interface Headers {
  lines: string[];
  messageId: string;
  date: Date;
}

function headers(r: () => number, seed: number, index: number, domain: string, intl: boolean, prefix = ''): Headers {
  const from = address(r, domain, intl);
  const to = address(r, domain, false);
  const cc = r() < 0.3 ? address(r, domain, r() < 0.3) : null;
  // Dates walk back from a fixed point so the corpus never depends on the clock.
  const date = new Date(Date.UTC(2026, 0, 1) - index * 37_000_000 - Math.floor(r() * 3_600_000));
  date.setUTCMilliseconds(0);
  const messageId = `<${prefix}bench-${seed}-${index}@${domain}>`;
  const subject = intl && r() < 0.7 ? encodeWord(pick(r, SUBJECTS_INTL) + ' ' + (index % 100), r() < 0.5 ? 'B' : 'Q') : sentence(r, 3 + Math.floor(r() * 6)).slice(0, -1);
  const lines = [
    `Return-Path: <${from.addr}>`,
    `Received: from mx${index % 7}.${domain} (mx${index % 7}.${domain} [192.0.2.${(index % 250) + 1}])\r\n\tby mail.${domain} with ESMTPS id ${(mix(seed, index) >>> 0).toString(16)}\r\n\tfor <${to.addr}>; ${date.toUTCString().replace('GMT', '+0000')}`,
    `Date: ${date.toUTCString().replace('GMT', '+0000')}`,
    `From: ${from.header}`,
    `To: ${to.header}`,
    ...(cc ? [`Cc: ${cc.header}`] : []),
    `Subject: ${subject}`,
    `Message-ID: ${messageId}`,
    ...(r() < 0.4 ? [`In-Reply-To: <bench-${seed}-${index + 1}@${domain}>`, `References: <bench-${seed}-${index + 2}@${domain}>\r\n <bench-${seed}-${index + 1}@${domain}>`] : []),
    'MIME-Version: 1.0',
    `X-Mailer: bench-corpus ${seed}`,
  ];
  return { lines, messageId, date };
}

export function lognormalSize(r: () => number, median: number, sigma: number): number {
  return Math.round(median * Math.exp(sigma * gauss(r)));
}

export function boundary(r: () => number, depth: number): string {
  return `=_bench_${depth}_${Math.floor(r() * 1e12).toString(36)}`;
}

interface Part {
  headers: string[];
  body: string | Buffer;
}

export function renderPart(p: Part): Buffer {
  return Buffer.concat([Buffer.from(p.headers.join('\r\n') + '\r\n\r\n', 'utf8'), typeof p.body === 'string' ? Buffer.from(p.body, 'utf8') : p.body]);
}

export function multipart(r: () => number, subtype: string, parts: Buffer[], depth: number): { contentType: string; body: Buffer } {
  const b = boundary(r, depth);
  const chunks: Buffer[] = [Buffer.from('This is a multi-part message in MIME format.\r\n', 'utf8')];
  for (const p of parts) {
    chunks.push(Buffer.from(`\r\n--${b}\r\n`, 'utf8'), p);
  }
  chunks.push(Buffer.from(`\r\n--${b}--\r\n`, 'utf8'));
  return { contentType: `multipart/${subtype};\r\n boundary="${b}"`, body: Buffer.concat(chunks) };
}

export function textPart(r: () => number, bytes: number, needle: boolean, intl: boolean): Buffer {
  const text = textBody(r, bytes, needle, intl);
  const x = r();
  if (!intl && x < 0.6) return renderPart({ headers: ['Content-Type: text/plain; charset=us-ascii', 'Content-Transfer-Encoding: 7bit'], body: text });
  if (x < 0.8) return renderPart({ headers: ['Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: quoted-printable'], body: qpEncode(text) + '\r\n' });
  return renderPart({ headers: ['Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: base64'], body: base64Lines(Buffer.from(text, 'utf8')) });
}

export function htmlPart(r: () => number, bytes: number, needle: boolean): Buffer {
  const text = textBody(r, bytes, needle, false);
  const html = '<html><body>\r\n' + text.split('\r\n\r\n').map((p) => `<p>${p}</p>`).join('\r\n') + '\r\n</body></html>\r\n';
  return renderPart({ headers: ['Content-Type: text/html; charset=utf-8', 'Content-Transfer-Encoding: quoted-printable'], body: qpEncode(html) + '\r\n' });
}

function attachmentPart(r: () => number, bytes: number, n: number): Buffer {
  const raw = binary(r, Math.max(16, Math.floor((bytes * 3) / 4)));
  const [type, ext] = pick(r, [
    ['application/pdf', 'pdf'],
    ['image/jpeg', 'jpg'],
    ['application/zip', 'zip'],
    ['application/vnd.openxmlformats-officedocument.wordprocessingml.document', 'docx'],
  ] as const);
  const intlName = r() < 0.3;
  const name = intlName ? `Übersicht ${n}.${ext}` : `document-${n}.${ext}`;
  const disp = intlName ? `attachment; filename*=utf-8''${encodeURIComponent(name)}` : `attachment; filename="${name}"`;
  const ctName = intlName ? `name="${encodeWord(name, 'B')}"` : `name="${name}"`;
  return renderPart({ headers: [`Content-Type: ${type};\r\n ${ctName}`, `Content-Disposition: ${disp}`, 'Content-Transfer-Encoding: base64'], body: base64Lines(raw) });
}

/** Body of one message (content headers + body) of roughly `target` octets. */
export function content(r: () => number, kind: MessageKind, target: number, needle: boolean, intl: boolean, seed: number, index: number, domain: string, depth: number): { headers: string[]; body: Buffer } {
  const split = (buf: Buffer): { headers: string[]; body: Buffer } => {
    const at = buf.indexOf('\r\n\r\n');
    return { headers: buf.subarray(0, at).toString('utf8').split('\r\n'), body: buf.subarray(at + 4) };
  };
  switch (kind) {
    case 'plain':
      return split(textPart(r, target, needle, intl));
    case 'alternative': {
      const t = Math.max(200, Math.floor(target * 0.4));
      const m = multipart(r, 'alternative', [textPart(r, t, needle, intl), htmlPart(r, t, needle)], depth);
      return { headers: [`Content-Type: ${m.contentType}`], body: m.body };
    }
    case 'attachment': {
      const text = Math.min(4000, Math.max(300, Math.floor(target * 0.05)));
      const nAtt = target > 100_000 && r() < 0.3 ? 2 : 1;
      let first: Buffer;
      if (r() < 0.5) first = textPart(r, text, needle, intl);
      else {
        // a text + HTML alternative first, as most clients send
        const alt = multipart(r, 'alternative', [textPart(r, text, needle, intl), htmlPart(r, text, needle)], depth + 1);
        first = renderPart({ headers: [`Content-Type: ${alt.contentType}`], body: alt.body });
      }
      const parts = [first];
      const rest = Math.max(100, target - text * 2 - 600);
      for (let k = 0; k < nAtt; k++) parts.push(attachmentPart(r, Math.floor(rest / nAtt), k + 1));
      const m = multipart(r, 'mixed', parts, depth);
      return { headers: [`Content-Type: ${m.contentType}`], body: m.body };
    }
    case 'forward': {
      const innerKind: MessageKind = depth < 2 && r() < 0.3 ? 'forward' : r() < 0.5 ? 'alternative' : 'plain';
      const innerTarget = Math.max(500, Math.floor(target * 0.8));
      const ih = headers(r, seed, index, domain, r() < 0.5, `fwd${depth}-`);
      const ic = content(r, innerKind, innerTarget, false, intl, seed, index, domain, depth + 1);
      const inner = Buffer.concat([Buffer.from([...ih.lines, ...ic.headers].join('\r\n') + '\r\n\r\n', 'utf8'), ic.body]);
      const intro = textPart(r, Math.max(200, target - innerTarget), needle, intl);
      const m = multipart(r, 'mixed', [intro, renderPart({ headers: ['Content-Type: message/rfc822', 'Content-Disposition: inline'], body: inner })], depth);
      return { headers: [`Content-Type: ${m.contentType}`], body: m.body };
    }
    default:
      // the kinds of the varied profile are built in bench/corpus-varied.ts
      throw new Error(`the classic corpus has no ${kind} messages`);
  }
}

/** Generates message `index` of the corpus. Pure: same options and index, same bytes. */
export function generateMessage(opts: CorpusOptions, index: number): GeneratedMessage {
  if (opts.variety === 'varied' || index >= VARIED_BASE) return variedMessage(opts, index);
  const maxSize = opts.maxSize ?? 5 * 1024 * 1024;
  const bigEvery = opts.bigEvery ?? 1000;
  const domain = opts.domain ?? 'bench.test';
  const r = rng(mix(opts.seed, index));
  // Size: 90% log-normal around 6 KB (the everyday mail), 10% carrying attachments around 150 KB.
  let target: number;
  let kind: MessageKind;
  const big = bigEvery > 0 && index % bigEvery === bigEvery - 1;
  const k = r();
  if (big) {
    target = maxSize;
    kind = 'attachment';
  } else if (k < 0.1) {
    target = lognormalSize(r, 150_000, 1.0);
    kind = 'attachment';
  } else {
    target = lognormalSize(r, 6_500, 0.8);
    kind = k < 0.55 ? 'plain' : k < 0.9 ? 'alternative' : 'forward';
  }
  target = Math.max(1024, Math.min(maxSize, target));
  const needle = r() < 0.04;
  const intl = r() < 0.3;
  const h = headers(r, opts.seed, index, domain, intl);
  const hdrBytes = Buffer.byteLength(h.lines.join('\r\n'), 'utf8') + 200;
  const c = content(r, kind, Math.max(300, target - hdrBytes), needle, intl, opts.seed, index, domain, 0);
  let head = [...h.lines, ...c.headers].join('\r\n') + '\r\n\r\n';
  let body = c.body;
  // Trim or pad to stay within [1 KB, maxSize] (padding is an extra plain line block at the end of the body).
  const size0 = Buffer.byteLength(head, 'utf8') + body.length;
  if (size0 < 1024 && kind === 'plain') {
    body = Buffer.concat([body, Buffer.from(textBody(r, 1024 - size0 + 10, false, false), 'utf8')]);
  }
  if (Buffer.byteLength(head, 'utf8') + body.length > maxSize) {
    // Only the big attachment case can overshoot: cut base64 lines off the tail of the last attachment is
    // not MIME-safe, so regenerate that one with a smaller target instead.
    const over = Buffer.byteLength(head, 'utf8') + body.length - maxSize;
    const c2 = content(rng(mix(opts.seed, index) ^ 1), kind, Math.max(300, target - hdrBytes - over - 1024), needle, intl, opts.seed, index, domain, 0);
    head = [...h.lines, ...c2.headers].join('\r\n') + '\r\n\r\n';
    body = c2.body;
  }
  const raw = Buffer.concat([Buffer.from(head, 'utf8'), body]);
  const flags: string[] = [];
  if (r() < 0.7) flags.push('\\Seen');
  if (r() < 0.05) flags.push('\\Flagged');
  return {
    raw,
    info: {
      index,
      size: raw.length,
      sha256: sha256(raw),
      bodySha256: sha256(body),
      messageId: h.messageId,
      needle,
      kind,
      date: h.date,
      flags,
    },
  };
}

export function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

/** The body of a raw message: everything after the first empty line (CRLF CRLF). */
export function bodyOf(raw: Buffer): Buffer {
  const at = raw.indexOf('\r\n\r\n');
  return at < 0 ? Buffer.alloc(0) : raw.subarray(at + 4);
}

/** Messages first..first+count-1 of the corpus, generated lazily. */
export function* corpus(opts: CorpusOptions, count: number, first = 0): Generator<GeneratedMessage> {
  for (let i = first; i < first + count; i++) yield generateMessage(opts, i);
}

/** Size statistics (for the report header and the corpus test). */
export function sizeStats(sizes: number[]): { count: number; min: number; median: number; max: number; total: number } {
  const s = [...sizes].sort((a, b) => a - b);
  return {
    count: s.length,
    min: s[0] ?? 0,
    median: s.length ? (s[Math.floor((s.length - 1) / 2)]! + s[Math.ceil((s.length - 1) / 2)]!) / 2 : 0,
    max: s[s.length - 1] ?? 0,
    total: s.reduce((a, b) => a + b, 0),
  };
}
