/**
 * The varied profile of the bench corpus: the shapes real maildrops hold and the classic mix lacks, for
 * workloads that must not flatter a server with uniform mail (POP3 re-reads, LMTP delivery of mixed mail,
 * imaptest mailboxes, FETCH). Message i of seed s is always the same bytes and can be generated alone, as in
 * the classic profile (bench/corpus.ts), whose building blocks it reuses.
 *
 * - Bodies in several charsets and transfer encodings: us-ascii 7bit, UTF-8, ISO-8859-1, windows-1252 and
 *   ISO-8859-2 as quoted-printable or raw 8bit, KOI8-R and ISO-8859-7 as base64 or 8bit.
 * - RFC 2047 encoded words in those charsets (B and Q, upper and lower case charset names), mixed with
 *   plain words in one Subject, and in display names of From/To/Cc.
 * - multipart/related (HTML with cid: images), nested multipart/mixed > alternative > related with several
 *   attachments whose bytes are shaped like PDFs, JPEGs, PNGs and ZIP files (magic numbers, then noise),
 *   forwarded message/rfc822, and delivery status reports (multipart/report).
 * - Threads: a block of THREAD_BLOCK consecutive indices may be one conversation: "Re:" subjects,
 *   In-Reply-To the previous message and References listing every earlier one, folded one per line.
 * - Dates: ~4% odd Date headers (before 1970, two-digit years, obsolete zone names, no weekday, a
 *   trailing comment, -0000); the INTERNALDATE in the info stays an ordinary date.
 * - Sizes: median ~12 KB, about 12% with attachments around 100 KB, 1.5% large (250 KB to 2 MB, capped at
 *   maxSize), and every bigEvery-th message at maxSize.
 *
 * All line endings are CRLF and no line exceeds 998 octets.
 */
import type { CorpusOptions, GeneratedMessage, MessageInfo, MessageKind } from './corpus.js';
import {
  FIRST,
  LAST,
  WORDS,
  base64Lines,
  binary,
  boundary,
  content,
  lognormalSize,
  mix,
  pick,
  qpEncode,
  rng,
  sha256,
  textBody,
} from './corpus.js';

/** Corpus indices from here on are varied-profile messages whatever the options say. */
export const VARIED_BASE = 500_000_000;

/** Consecutive indices that may form one thread. */
export const THREAD_BLOCK = 12;

type Charset = 'us-ascii' | 'utf-8' | 'iso-8859-1' | 'windows-1252' | 'iso-8859-2' | 'koi8-r' | 'iso-8859-7';

/** Words each charset can carry (the encoder below maps exactly these repertoires). */
const LANG: Record<Charset, string[]> = {
  'us-ascii': [],
  'utf-8': ['café', 'naïve', 'größe', 'año', 'привет', '日本語', 'Zürich', '€100', 'ça', 'señal', 'Łódź', '東京', 'ολα'],
  'iso-8859-1': ['café', 'naïve', 'größe', 'año', 'garçon', 'über', 'élève', 'Mañana', 'façade', 'déjà', 'Straße', 'crème'],
  'windows-1252': ['“quoted”', '‘single’', '€250', 'résumé', '—', 'naïve', '…', 'Œuvre', 'coöperate', '–'],
  'iso-8859-2': ['zażółć', 'gęślą', 'jaźń', 'Łódź', 'ćma', 'Kraków', 'Gdańsk', 'źródło', 'mówić', 'Śląsk'],
  'koi8-r': ['привет', 'отчёт', 'встреча', 'бюджет', 'квартал', 'проект', 'Москва', 'сервер', 'ЁЛКА', 'письмо'],
  'iso-8859-7': ['καλημέρα', 'συνάντηση', 'πρόγραμμα', 'Αθήνα', 'ευχαριστώ', 'έκθεση', 'ΠΡΟΣΟΧΗ', 'ομάδα'],
};

const SUBJECT_WORDS: Partial<Record<Charset, string[]>> = {
  'iso-8859-1': ['Réunion', 'Überprüfung', 'Presupuesto año', 'Très bien', 'Grüße aus Köln'],
  'windows-1252': ['“Final” draft', 'Budget – Q3', 'Price €99', 'Résumé…'],
  'iso-8859-2': ['Zażółć gęślą jaźń', 'Spotkanie w Łodzi', 'Raport kwartalny - Kraków'],
  'koi8-r': ['Отчёт за квартал', 'Встреча в пятницу', 'Бюджет проекта'],
  'iso-8859-7': ['Πρόγραμμα συνάντησης', 'Έκθεση τριμήνου', 'Καλημέρα ομάδα'],
  'utf-8': ['会議の議事録', 'Smörgåsbord på fredag ☕', 'Ünïcödé ✓ test', 'Отчёт 📎'],
};

const KOI8 = 'юабцдефгхийклмнопярстужвьызшэщчъ';
const CP1252: Record<string, number> = { '€': 0x80, '…': 0x85, '‘': 0x91, '’': 0x92, '“': 0x93, '”': 0x94, '–': 0x96, '—': 0x97, 'Œ': 0x8c, 'œ': 0x9c };
const LATIN2: Record<string, number> = {
  'ą': 0xb1, 'ę': 0xea, 'ł': 0xb3, 'ż': 0xbf, 'ź': 0xbc, 'ś': 0xb6, 'ć': 0xe6, 'ń': 0xf1, 'ó': 0xf3,
  'Ą': 0xa1, 'Ę': 0xca, 'Ł': 0xa3, 'Ż': 0xaf, 'Ź': 0xac, 'Ś': 0xa6, 'Ć': 0xc6, 'Ń': 0xd1, 'Ó': 0xd3,
};

/** Text in `charset`; characters outside its repertoire become "?" (the word lists above avoid them). */
export function encodeCharset(text: string, charset: Charset): Buffer {
  if (charset === 'utf-8') return Buffer.from(text, 'utf8');
  const out: number[] = [];
  for (const ch of text) {
    const c = ch.codePointAt(0)!;
    if (c < 0x80) out.push(c);
    else if (charset === 'iso-8859-1') out.push(c <= 0xff ? c : 0x3f);
    else if (charset === 'windows-1252') out.push(CP1252[ch] ?? (c >= 0xa0 && c <= 0xff ? c : 0x3f));
    else if (charset === 'iso-8859-2') out.push(LATIN2[ch] ?? (c === 0xf6 || c === 0xd6 || c === 0xfc ? c : 0x3f));
    else if (charset === 'koi8-r') {
      const lower = ch.toLowerCase();
      const k = KOI8.indexOf(lower);
      if (lower === 'ё') out.push(ch === 'ё' ? 0xa3 : 0xb3);
      else if (k >= 0) out.push((ch === lower ? 0xc0 : 0xe0) + k);
      else out.push(0x3f);
    } else if (charset === 'iso-8859-7') out.push(c >= 0x384 && c <= 0x3ce ? c - 0x2d0 : 0x3f);
    else out.push(0x3f);
  }
  return Buffer.from(out);
}

/** One or more RFC 2047 encoded words for `text` in `charset`, each under 76 characters. */
function encodedWords(text: string, charset: Charset, enc: 'B' | 'Q', upper: boolean): string {
  const name = upper ? charset.toUpperCase() : charset;
  const words: string[] = [];
  let chunk = '';
  const flush = (): void => {
    if (!chunk) return;
    const bytes = encodeCharset(chunk, charset);
    let payload = '';
    if (enc === 'B') payload = bytes.toString('base64');
    else for (const b of bytes) payload += (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) ? String.fromCharCode(b) : b === 0x20 ? '_' : '=' + b.toString(16).toUpperCase().padStart(2, '0');
    words.push(`=?${name}?${enc}?${payload}?=`);
    chunk = '';
  };
  for (const ch of text) {
    const n = encodeCharset(chunk + ch, charset).length;
    if ((enc === 'B' ? Math.ceil(n / 3) * 4 : n * 3) > 40) flush();
    chunk += ch;
  }
  flush();
  return words.join('\r\n ');
}

/** Plain text of about `bytes` octets mixing English with words of the charset's language. */
function langText(r: () => number, bytes: number, needle: boolean, charset: Charset): string {
  const base = textBody(r, bytes, needle, false);
  if (charset === 'us-ascii') return base;
  const words = LANG[charset];
  return base
    .split('\r\n')
    .map((line) => (line.length > 0 && line.length < 60 && r() < 0.5 ? line + ' ' + pick(r, words) : line))
    .join('\r\n');
}

interface Built {
  headers: string[];
  body: Buffer;
}

function join(b: Built): Buffer {
  return Buffer.concat([Buffer.from(b.headers.join('\r\n') + '\r\n\r\n', 'utf8'), b.body]);
}

function multipartOf(r: () => number, subtype: string, parts: Buffer[], depth: number, params = ''): Built {
  const b = boundary(r, depth);
  const chunks: Buffer[] = [];
  if (r() < 0.6) chunks.push(Buffer.from('This is a multi-part message in MIME format.\r\n', 'utf8'));
  for (const p of parts) chunks.push(Buffer.from(`${chunks.length ? '\r\n' : ''}--${b}\r\n`, 'utf8'), p);
  chunks.push(Buffer.from(`\r\n--${b}--\r\n`, 'utf8'));
  if (r() < 0.2) chunks.push(Buffer.from('\r\n', 'utf8'));
  return { headers: [`Content-Type: multipart/${subtype};${params}\r\n\tboundary="${b}"`], body: Buffer.concat(chunks) };
}

const TEXT_CHARSETS: Array<[Charset, number]> = [
  ['us-ascii', 0.35],
  ['utf-8', 0.25],
  ['iso-8859-1', 0.12],
  ['windows-1252', 0.1],
  ['iso-8859-2', 0.06],
  ['koi8-r', 0.07],
  ['iso-8859-7', 0.05],
];

function pickCharset(r: () => number): Charset {
  let x = r();
  for (const [c, p] of TEXT_CHARSETS) {
    if (x < p) return c;
    x -= p;
  }
  return 'utf-8';
}

function textPartIn(r: () => number, bytes: number, needle: boolean, charset: Charset, subtype = 'plain', htmlTail = ''): Buffer {
  let text = langText(r, bytes, needle, charset);
  if (subtype === 'html') {
    const paras = text.split('\r\n\r\n').map((p) => `<p style="margin:0 0 1em">${p}</p>`);
    text = `<!DOCTYPE html>\r\n<html><head><meta charset="${charset}"></head><body>\r\n${paras.join('\r\n')}\r\n${htmlTail}</body></html>\r\n`;
  }
  const bytesIn = encodeCharset(text, charset);
  const ct = `Content-Type: text/${subtype}; charset=${r() < 0.3 ? `"${charset}"` : charset}${subtype === 'plain' && r() < 0.2 ? '; format=flowed' : ''}`;
  if (charset === 'us-ascii') return join({ headers: [ct, ...(r() < 0.5 ? ['Content-Transfer-Encoding: 7bit'] : [])], body: bytesIn });
  const x = r();
  if (charset === 'koi8-r' || charset === 'iso-8859-7' || (charset === 'utf-8' && x < 0.3)) {
    if (x < 0.6) return join({ headers: [ct, 'Content-Transfer-Encoding: base64'], body: Buffer.from(base64Lines(bytesIn), 'latin1') });
    return join({ headers: [ct, 'Content-Transfer-Encoding: 8bit'], body: bytesIn });
  }
  if (x < 0.75) return join({ headers: [ct, 'Content-Transfer-Encoding: quoted-printable'], body: Buffer.from(qpEncode(bytesIn) + '\r\n', 'latin1') });
  return join({ headers: [ct, 'Content-Transfer-Encoding: 8bit'], body: bytesIn });
}

const MAGIC: Record<string, Buffer> = {
  pdf: Buffer.from('%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n', 'latin1'),
  jpg: Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0x01, 0x00, 0x00, 0x48, 0x00, 0x48, 0x00, 0x00]),
  png: Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52]),
  gif: Buffer.from('GIF89a\x10\x00\x10\x00\x80\x00\x00', 'latin1'),
  zip: Buffer.from([0x50, 0x4b, 0x03, 0x04, 0x14, 0x00, 0x00, 0x00, 0x08, 0x00]),
  docx: Buffer.from([0x50, 0x4b, 0x03, 0x04, 0x14, 0x00, 0x06, 0x00, 0x08, 0x00]),
};
const TYPES: Record<string, string> = {
  pdf: 'application/pdf',
  jpg: 'image/jpeg',
  png: 'image/png',
  gif: 'image/gif',
  zip: 'application/zip',
  docx: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
};

/** A file of `size` octets that starts like a real one of its type. */
function shapedFile(r: () => number, ext: string, size: number): Buffer {
  const head = MAGIC[ext]!;
  const noise = binary(r, Math.max(16, size - head.length));
  if (ext === 'pdf') return Buffer.concat([head, noise, Buffer.from('\n%%EOF\n', 'latin1')]);
  return Buffer.concat([head, noise]);
}

function attachment(r: () => number, ext: string, size: number, n: number, inlineCid?: string): Buffer {
  const file = shapedFile(r, ext, size);
  const type = TYPES[ext]!;
  const x = r();
  const base = `scan_${n}.${ext}`;
  let name: string;
  let disp: string;
  if (x < 0.6) {
    name = `name="${base}"`;
    disp = `filename="${base}"`;
  } else if (x < 0.8) {
    const intl = `Résumé ${n} – février.${ext}`;
    name = `name="${encodedWords(intl, 'iso-8859-1', 'Q', true)}"`;
    disp = `filename*=iso-8859-1''${[...encodeCharset(intl, 'iso-8859-1')].map((b) => (b < 0x80 && /[A-Za-z0-9._-]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : '%' + b.toString(16).toUpperCase().padStart(2, '0'))).join('')}`;
  } else {
    // RFC 2231 continuations of a long UTF-8 name
    const long = `Квартальный отчёт по проекту номер ${n} для совета директоров.${ext}`;
    const enc = encodeURIComponent(long);
    const pieces: string[] = [];
    for (let i = 0, k = 0; i < enc.length; k++) {
      let end = Math.min(enc.length, i + 60);
      while (end < enc.length && enc[end - 1] !== undefined && enc.lastIndexOf('%', end - 1) > end - 3) end--;
      pieces.push(`filename*${k}*=${k === 0 ? "utf-8''" : ''}${enc.slice(i, end)}`);
      i = end;
    }
    name = `name="${encodedWords(long, 'utf-8', 'B', false)}"`;
    disp = pieces.join(';\r\n ');
  }
  const headers = [`Content-Type: ${type};\r\n ${name}`];
  if (inlineCid) headers.push(`Content-ID: <${inlineCid}>`, `Content-Disposition: inline; ${disp}`);
  else headers.push(`Content-Disposition: attachment;\r\n ${disp}`);
  headers.push('Content-Transfer-Encoding: base64');
  return join({ headers, body: Buffer.from(base64Lines(file), 'latin1') });
}

/** multipart/related: HTML that shows `images` inline images by cid. */
function related(r: () => number, bytes: number, needle: boolean, charset: Charset, images: number, index: number, depth: number): Built {
  const cids = Array.from({ length: images }, (_, k) => `img${k}.${index}@bench.test`);
  const tags = cids.map((c) => `<img src="cid:${c}" alt="">\r\n`).join('');
  const parts = [textPartIn(r, bytes, needle, charset, 'html', tags)];
  for (const [k, cid] of cids.entries()) parts.push(attachment(r, pick(r, ['png', 'gif', 'jpg']), 500 + Math.floor(r() * 12_000), k + 1, cid));
  return multipartOf(r, 'related', parts, depth, ' type="text/html";');
}

function alternative(r: () => number, bytes: number, needle: boolean, charset: Charset, depth: number, images: number, index: number): Built {
  const plain = textPartIn(r, bytes, needle, charset);
  const html = images > 0 ? join(related(r, bytes, needle, charset, images, index, depth + 1)) : textPartIn(r, bytes, needle, charset, 'html');
  return multipartOf(r, 'alternative', [plain, html], depth);
}

function withAttachments(r: () => number, first: Buffer, total: number, count: number, depth: number, exts: string[]): Built {
  const parts = [first];
  for (let k = 0; k < count; k++) parts.push(attachment(r, pick(r, exts), Math.max(64, Math.floor((total / count) * (0.5 + r()))), k + 1));
  return multipartOf(r, 'mixed', parts, depth);
}

function deliveryReport(r: () => number, domain: string, messageId: string): Built {
  const rcpt = `${pick(r, FIRST).toLowerCase()}@unknown.${domain}`;
  const human = join({ headers: ['Content-Type: text/plain; charset=us-ascii'], body: Buffer.from(`This is the mail system at host mx.${domain}.\r\n\r\nI'm sorry to have to inform you that your message could not\r\nbe delivered to one or more recipients.\r\n\r\n<${rcpt}>: host unknown.${domain} said: 550 5.1.1 User unknown\r\n`, 'latin1') });
  const status = join({ headers: ['Content-Type: message/delivery-status'], body: Buffer.from(`Reporting-MTA: dns; mx.${domain}\r\nArrival-Date: Mon, 1 Jun 2026 10:00:00 +0000\r\n\r\nFinal-Recipient: rfc822; ${rcpt}\r\nOriginal-Recipient: rfc822;${rcpt}\r\nAction: failed\r\nStatus: 5.1.1\r\nRemote-MTA: dns; unknown.${domain}\r\nDiagnostic-Code: smtp; 550 5.1.1 User unknown\r\n`, 'latin1') });
  const original = join({ headers: ['Content-Type: text/rfc822-headers'], body: Buffer.from(`From: ${pick(r, FIRST)} <${pick(r, FIRST).toLowerCase()}@${domain}>\r\nTo: <${rcpt}>\r\nSubject: ${pick(r, WORDS)} ${pick(r, WORDS)}\r\nMessage-ID: ${messageId.replace('@', '.orig@')}\r\n`, 'latin1') });
  return multipartOf(r, 'report', [human, status, original], 0, ' report-type=delivery-status;');
}

function displayName(r: () => number): string {
  const x = r();
  const charset: Charset = x < 0.55 ? 'us-ascii' : x < 0.7 ? 'iso-8859-1' : x < 0.8 ? 'utf-8' : x < 0.88 ? 'koi8-r' : x < 0.94 ? 'iso-8859-2' : 'iso-8859-7';
  const names: Record<Charset, string[]> = {
    'us-ascii': FIRST,
    'utf-8': ['智子', 'Zoë', 'Søren', 'José'],
    'iso-8859-1': ['José', 'Jürgen', 'Renée', 'Björn', 'Françoise'],
    'windows-1252': ['Renée'],
    'iso-8859-2': ['Łukasz', 'Małgorzata', 'Wojciech'],
    'koi8-r': ['Дмитрий', 'Ольга', 'Сергей'],
    'iso-8859-7': ['Αλέξης', 'Μαρία'],
  };
  const name = `${pick(r, names[charset])} ${pick(r, LAST).normalize('NFD').replace(/[^A-Za-z]/g, '')}`;
  if (charset === 'us-ascii') return r() < 0.5 ? `"${name}"` : name;
  return encodedWords(name, charset, r() < 0.5 ? 'B' : 'Q', r() < 0.5);
}

function mailbox(r: () => number, domain: string): { header: string; addr: string } {
  const addr = `${pick(r, FIRST).toLowerCase()}.${pick(r, LAST).normalize('NFD').replace(/[^A-Za-z]/g, '').toLowerCase()}${Math.floor(r() * 100)}@${r() < 0.7 ? domain : 'example.' + pick(r, ['org', 'net', 'de', 'jp'])}`;
  const x = r();
  if (x < 0.15) return { header: addr, addr };
  if (x < 0.2) return { header: `${addr} (${pick(r, FIRST)})`, addr };
  return { header: `${displayName(r)} <${addr}>`, addr };
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** A Date header value for `d`: usually RFC 5322 with a zone, sometimes one of the odd forms mail carries. */
function dateHeader(r: () => number, d: Date): string {
  const zoneMin = pick(r, [0, 60, 120, -300, -420, 330, 540, -240]);
  const local = new Date(d.getTime() + zoneMin * 60_000);
  const two = (n: number): string => String(n).padStart(2, '0');
  const time = `${two(local.getUTCHours())}:${two(local.getUTCMinutes())}:${two(local.getUTCSeconds())}`;
  const zone = (zoneMin < 0 ? '-' : '+') + two(Math.floor(Math.abs(zoneMin) / 60)) + two(Math.abs(zoneMin) % 60);
  const day = `${local.getUTCDate()} ${MONTHS[local.getUTCMonth()]}`;
  const x = r();
  if (x < 0.96) return `${DAYS[local.getUTCDay()]}, ${day} ${local.getUTCFullYear()} ${time} ${zone}`;
  if (x < 0.97) {
    // before 1970 (old archives, broken clocks)
    const year = 1930 + Math.floor(r() * 39);
    const old = new Date(Date.UTC(year, local.getUTCMonth(), local.getUTCDate(), 8, 30, 0));
    return `${DAYS[old.getUTCDay()]}, ${old.getUTCDate()} ${MONTHS[old.getUTCMonth()]} ${year} 08:30:00 -0500`;
  }
  if (x < 0.975) return `${day} ${two(local.getUTCFullYear() % 100)} ${time} ${pick(r, ['EST', 'PDT', 'GMT', 'UT'])}`;
  if (x < 0.985) return `${day} ${local.getUTCFullYear()} ${time} ${zone}`;
  if (x < 0.993) return `${DAYS[local.getUTCDay()]}, ${day} ${local.getUTCFullYear()} ${time} ${zone} (${pick(r, ['CEST', 'PST', 'UTC', 'JST'])})`;
  return `${DAYS[local.getUTCDay()]},  ${day} ${local.getUTCFullYear()} ${time} -0000`;
}

function messageIdOf(seed: number, index: number, domain: string): string {
  return `<varied.${seed}.${index}.${(mix(seed, index) >>> 0).toString(36)}@${domain}>`;
}

/** Thread position of `index`: its block's first index and whether the block is one conversation. */
function threadOf(seed: number, index: number): { start: number; threaded: boolean } {
  const block = Math.floor(index / THREAD_BLOCK);
  return { start: block * THREAD_BLOCK, threaded: mix(seed ^ 0x7417, block) % 3 !== 0 };
}

function subjectFor(r: () => number, seed: number, index: number, start: number, threaded: boolean): string {
  // A thread's subject comes from its first message's seed so every reply repeats it.
  const sr = threaded ? rng(mix(seed ^ 0x5b1, start)) : r;
  const x = sr();
  let subj: string;
  if (x < 0.55) subj = textBody(sr, 30, false, false).split('\r\n')[0]!.slice(0, 60);
  else {
    const cs = pick(sr, Object.keys(SUBJECT_WORDS) as Charset[]);
    const text = pick(sr, SUBJECT_WORDS[cs]!);
    // plain words around an encoded word, as mail clients write them
    subj = `${sr() < 0.5 ? 'Fwd: ' : ''}${encodedWords(text, cs, sr() < 0.5 ? 'B' : 'Q', sr() < 0.5)} ${Math.floor(sr() * 1000)}`;
  }
  if (!threaded || index === start) return subj;
  const depth = index - start;
  return (depth > 3 && r() < 0.3 ? `Re[${depth}]: ` : r() < 0.1 ? 'RE: ' : 'Re: ') + subj;
}

function headerBlock(r: () => number, opts: CorpusOptions, index: number, local: number, domain: string): { lines: string[]; messageId: string; date: Date } {
  const seed = opts.seed;
  const date = new Date(Date.UTC(2026, 0, 1) - (local % 100_000) * 9_000_000 - Math.floor(r() * 3_600_000));
  date.setUTCMilliseconds(0);
  const from = mailbox(r, domain);
  const nTo = r() < 0.8 ? 1 : 2 + Math.floor(r() * 4);
  const to = Array.from({ length: nTo }, () => mailbox(r, domain).header);
  const cc = r() < 0.25 ? Array.from({ length: 1 + Math.floor(r() * 3) }, () => mailbox(r, domain).header) : [];
  const messageId = messageIdOf(seed, index, domain);
  const { start, threaded } = threadOf(seed, index);
  const hops = 1 + Math.floor(r() * 4);
  const lines: string[] = [`Return-Path: <${from.addr}>`];
  for (let h = 0; h < hops; h++) {
    lines.push(`Received: from relay${h}.${domain} (relay${h}.${domain} [198.51.100.${(index + h) % 250}])\r\n\tby mx${h + 1}.${domain} (Postfix) with ESMTPS id ${(mix(seed, index + h) >>> 0).toString(16).toUpperCase()}\r\n\tfor <${to.length > 1 ? 'list' : 'rcpt'}@${domain}>; ${date.toUTCString().replace('GMT', '+0000')}`);
  }
  if (r() < 0.5) lines.push(`DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=${domain}; s=mail;\r\n\th=from:to:subject:date:message-id; bh=${binary(r, 32).toString('base64')};\r\n\tb=${base64Lines(binary(r, 256)).replace(/\r\n$/, '').split('\r\n').join('\r\n\t ')}`);
  lines.push(`Date: ${dateHeader(r, date)}`, `From: ${from.header}`);
  if (nTo > 1 && r() < 0.1) lines.push('To: undisclosed-recipients:;');
  else lines.push(`To: ${to.join(',\r\n\t')}`);
  if (cc.length) lines.push(`Cc: ${cc.join(',\r\n ')}`);
  lines.push(`Subject: ${subjectFor(r, seed, index, start, threaded)}`, `Message-ID: ${messageId}`);
  if (threaded && index > start) {
    const refs = Array.from({ length: index - start }, (_, k) => messageIdOf(seed, start + k, domain));
    lines.push(`In-Reply-To: ${refs[refs.length - 1]}`, `References: ${refs.join('\r\n ')}`);
    if (r() < 0.3) lines.push(`Thread-Topic: ${pick(r, WORDS)}`, `Thread-Index: ${binary(r, 22).toString('base64')}`);
  }
  lines.push('MIME-Version: 1.0');
  if (r() < 0.5) lines.push(`X-Mailer: ${pick(r, ['Microsoft Outlook 16.0', 'Apple Mail (2.3731)', 'Mozilla Thunderbird 115.6', 'Roundcube Webmail/1.6', 'K-9 Mail for Android'])}`);
  if (r() < 0.3) lines.push(`List-Id: ${pick(r, WORDS)} list <${pick(r, WORDS)}.lists.${domain}>`, `List-Unsubscribe: <mailto:leave@lists.${domain}>`);
  if (r() < 0.2) lines.push(`X-Spam-Status: No, score=${(r() * 4).toFixed(1)} required=5.0 tests=BAYES_00,DKIM_SIGNED autolearn=ham`);
  return { lines, messageId, date };
}

function kindFor(r: () => number, big: boolean): MessageKind {
  if (big) return 'large';
  const x = r();
  return x < 0.3 ? 'plain' : x < 0.5 ? 'alternative' : x < 0.6 ? 'related' : x < 0.73 ? 'nested' : x < 0.85 ? 'attachment' : x < 0.96 ? 'forward' : x < 0.975 ? 'large' : 'report';
}

function bodyFor(r: () => number, kind: MessageKind, target: number, needle: boolean, opts: CorpusOptions, index: number, domain: string, messageId: string): Built {
  const charset = pickCharset(r);
  const text = Math.max(300, Math.min(12_000, Math.floor(target * 0.4)));
  const split = (b: Buffer): Built => {
    const at = b.indexOf('\r\n\r\n');
    return { headers: b.subarray(0, at).toString('latin1').split('\r\n'), body: b.subarray(at + 4) };
  };
  switch (kind) {
    case 'plain':
      return split(textPartIn(r, target, needle, charset));
    case 'alternative':
      return alternative(r, text, needle, charset, 0, 0, index);
    case 'related':
      return related(r, text, needle, charset, 1 + Math.floor(r() * 3), index, 0);
    case 'nested': {
      const alt = join(alternative(r, Math.min(text, 4000), needle, charset, 1, 1 + Math.floor(r() * 2), index));
      return withAttachments(r, alt, Math.max(2000, lognormalSize(r, 40_000, 0.9)), 1 + Math.floor(r() * 3), 0, ['pdf', 'docx', 'jpg', 'png', 'zip']);
    }
    case 'attachment':
      return withAttachments(r, textPartIn(r, Math.min(text, 3000), needle, charset), Math.max(2000, lognormalSize(r, 100_000, 0.9)), 1, 0, ['pdf', 'jpg', 'docx']);
    case 'large': {
      // base64 lines carry 57 octets in 78: the raw file is sized so the message lands near the target
      const raw = Math.max(1000, Math.floor(((target - 9000) * 57) / 78));
      return multipartOf(r, 'mixed', [textPartIn(r, 1500, needle, charset), attachment(r, pick(r, ['pdf', 'jpg', 'zip']), raw, 1)], 0);
    }
    case 'forward': {
      const c = content(r, 'forward', target, needle, charset !== 'us-ascii', opts.seed, index, domain, 0);
      return { headers: c.headers, body: c.body };
    }
    case 'report':
      return deliveryReport(r, domain, messageId);
  }
  return split(textPartIn(r, target, needle, charset));
}

/** Message `index` of the varied profile. Pure: same options and index, same bytes. */
export function variedMessage(opts: CorpusOptions, index: number): GeneratedMessage {
  const maxSize = opts.maxSize ?? 5 * 1024 * 1024;
  const bigEvery = opts.bigEvery ?? 1000;
  const domain = opts.domain ?? 'bench.test';
  const local = index >= VARIED_BASE ? index - VARIED_BASE : index;
  const r = rng(mix(opts.seed ^ 0x0a51e7, index));
  const big = bigEvery > 0 && local % bigEvery === bigEvery - 1;
  const kind = kindFor(r, big);
  let target = kind === 'large' ? (big ? maxSize : Math.round(Math.min(2_000_000, Math.max(250_000, lognormalSize(r, 500_000, 0.6))))) : lognormalSize(r, 7_000, 0.9);
  target = Math.max(1024, Math.min(maxSize, target));
  const needle = kind !== 'report' && r() < 0.04;
  const h = headerBlock(r, opts, index, local, domain);
  let body = bodyFor(r, kind, target, needle, opts, index, domain, h.messageId);
  let head = Buffer.from([...h.lines, ...body.headers].join('\r\n') + '\r\n\r\n', 'utf8');
  // Over the ceiling (attachments are drawn independently of the target): shrink to one plain attachment
  // sized to fit, which keeps the message MIME-valid.
  if (head.length + body.body.length > maxSize) {
    const room = Math.max(200, maxSize - head.length - 2500);
    body = withAttachments(r, textPartIn(r, 300, needle, 'us-ascii'), Math.floor((room * 3) / 4 / 1.5), 1, 0, ['pdf']);
    head = Buffer.from([...h.lines, ...body.headers].join('\r\n') + '\r\n\r\n', 'utf8');
  }
  if (head.length + body.body.length < 1024) {
    // (after a multipart's closing delimiter this is its epilogue: legal, and ignored by readers)
    body = { headers: body.headers, body: Buffer.concat([body.body, Buffer.from(textBody(r, 1100 - head.length - body.body.length, false, false), 'latin1')]) };
  }
  const raw = Buffer.concat([head, body.body]);
  const flags: string[] = [];
  if (r() < 0.7) flags.push('\\Seen');
  if (r() < 0.05) flags.push('\\Flagged');
  if (r() < 0.1) flags.push('\\Answered');
  const info: MessageInfo = { index, size: raw.length, sha256: sha256(raw), bodySha256: sha256(body.body), messageId: h.messageId, needle, kind, date: h.date, flags };
  return { raw, info };
}
