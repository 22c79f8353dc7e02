/**
 * DKIM signing of outgoing mail (RFC 6376; Ed25519-SHA256 per RFC 8463), relaxed/relaxed.
 *
 * signMessage() adds one DKIM-Signature per key given, above the existing fields; the body hash is computed
 * once for all of them. Signed fields: SIGNED_FIELDS as far as the message has them, each instance, and From
 * once more than it occurs, so a From added later breaks the signature (RFC 6376 section 8.15).
 *
 * createSigner() picks the keys for a message: those of the first domain with keys among the From domain,
 * the envelope sender's domain and their parent domains (so MAILER-DAEMON@mail.example.org signs as
 * example.org). Keys are cached for KEY_CACHE_MS; a message of a domain without keys leaves unchanged.
 */
import { createHash, createPrivateKey, sign as cryptoSign, type KeyObject } from 'node:crypto';
import type { DkimAlgorithm, DkimKeyStore } from '../store/dkim.js';
import { fieldValue, headerEnd, splitFields, type RawField } from './headers.js';

/** The fields signed when present (From twice). */
export const SIGNED_FIELDS = ['From', 'To', 'Cc', 'Subject', 'Date', 'Message-ID', 'MIME-Version', 'Content-Type', 'Reply-To', 'In-Reply-To', 'References'] as const;

/** How long keys read from the store are used before they are read again (a new or removed key takes effect within this). */
export const KEY_CACHE_MS = 30_000;

export interface SigningKey {
  domain: string;
  selector: string;
  algorithm: DkimAlgorithm;
  key: KeyObject;
}

const FOLDED_OR_WIDE = /\r\n|\t| {2}/;

/** Relaxed header canonicalization of one field (RFC 6376 3.4.2), CRLF included. */
export function relaxedHeader(name: string, value: string): string {
  // Most values have no line break, tab or run of spaces: then only the trimming is left to do.
  const v = (FOLDED_OR_WIDE.test(value) ? value.replace(/\r\n/g, '').replace(/[ \t]+/g, ' ') : value).trim();
  return `${name.trim().toLowerCase()}:${v}\r\n`;
}

/** Relaxed body canonicalization (RFC 6376 3.4.4) of the octets after the header section. */
export function relaxedBody(body: Buffer): Buffer {
  // Most bodies (base64 parts, ordinary text) have no tab, no run of spaces and no space before a line
  // end: then only the empty lines at the end go, and the octets are hashed as they are (no copy).
  const last = body.length ? body[body.length - 1]! : 0;
  if (body.indexOf(0x09) < 0 && body.indexOf('  ') < 0 && body.indexOf(' \r\n') < 0 && last !== 0x20) {
    let end = body.length;
    while (end >= 2 && body[end - 2] === 13 && body[end - 1] === 10) end -= 2;
    if (end === 0) return body.subarray(0, 0);
    if (end === body.length) return Buffer.concat([body, Buffer.from('\r\n')]);
    return body.subarray(0, end + 2);
  }
  let s = body.toString('latin1').replace(/[ \t]+/g, ' ').replace(/ \r\n/g, '\r\n');
  if (s.endsWith(' ')) s = s.slice(0, -1);
  let end = s.length;
  while (end >= 2 && s.charCodeAt(end - 2) === 13 && s.charCodeAt(end - 1) === 10) end -= 2;
  s = s.slice(0, end);
  return Buffer.from(s.length ? s + '\r\n' : '', 'latin1');
}

/** The h= list for a message's fields: SIGNED_FIELDS as present, each instance, From once more. */
export function headerList(fields: readonly RawField[]): string[] {
  const out: string[] = [];
  for (const name of SIGNED_FIELDS) {
    const n = fields.filter((f) => f.lower === name.toLowerCase()).length;
    for (let i = 0; i < n + (name === 'From' ? 1 : 0); i++) out.push(name);
  }
  return out;
}

/**
 * Canonicalized signed fields: for each h= name the lowest instance not used yet; absent ones add nothing
 * (RFC 6376 5.4.2). `canon` is the header canonicalization (3.4.1 simple, 3.4.2 relaxed).
 */
export function signedHeaderData(fields: readonly RawField[], names: readonly string[], canon: 'relaxed' | 'simple' = 'relaxed'): string {
  const used = new Set<RawField>();
  let data = '';
  for (const name of names) {
    const lower = name.toLowerCase();
    for (let i = fields.length - 1; i >= 0; i--) {
      const f = fields[i]!;
      if (f.lower !== lower || used.has(f)) continue;
      used.add(f);
      data += canon === 'relaxed' ? relaxedHeader(f.name, fieldValue(f)) : `${f.text}\r\n`;
      break;
    }
  }
  return data;
}

/**
 * A signature field (`name`: DKIM-Signature, ARC-Message-Signature, ARC-Seal) with its tags folded into
 * lines of about 76 columns; `b=` goes last, on a line of its own, and is filled in later.
 */
export function foldTags(tags: string[], name = 'DKIM-Signature'): string {
  let out = `${name}:`;
  let line = out.length;
  for (const t of tags) {
    const piece = ` ${t}`;
    if (line + piece.length > 76 || t === 'b=') {
      out += '\r\n\t' + t;
      line = 1 + t.length;
    } else {
      out += piece;
      line += piece.length;
    }
  }
  return out;
}

/** A base64 value folded into lines of 72 characters (after foldTags). */
export function foldValue(v: string): string {
  const chunks: string[] = [];
  for (let i = 0; i < v.length; i += 72) chunks.push(v.slice(i, i + 72));
  return chunks.join('\r\n\t');
}

/**
 * The message with one DKIM-Signature per key on top (same order as `keys`). A message without a From
 * field is returned unchanged (DKIM requires From to be signed). `now` is the t= time.
 */
export function signMessage(raw: Buffer, keys: readonly SigningKey[], now: Date = new Date()): Buffer {
  if (!keys.length) return raw;
  const end = headerEnd(raw);
  const fields = splitFields(raw);
  if (!fields.some((f) => f.lower === 'from')) return raw;
  const names = headerList(fields);
  const signedData = signedHeaderData(fields, names);
  // A message of header fields only has an empty body (RFC 5322 3.5).
  const bh = createHash('sha256').update(relaxedBody(end < 0 ? Buffer.alloc(0) : raw.subarray(end + 2))).digest('base64');
  const t = Math.floor(now.getTime() / 1000);
  const headers: string[] = [];
  for (const k of keys) {
    const a = k.algorithm === 'rsa' ? 'rsa-sha256' : 'ed25519-sha256';
    const unsigned = foldTags([`v=1;`, `a=${a};`, `c=relaxed/relaxed;`, `d=${k.domain};`, `s=${k.selector};`, `t=${t};`, `h=${names.join(':')};`, `bh=${bh};`, 'b=']);
    const data = Buffer.from(signedData + relaxedHeader('DKIM-Signature', unsigned.slice(unsigned.indexOf(':') + 1)).slice(0, -2), 'latin1');
    const sig = k.algorithm === 'rsa' ? cryptoSign('sha256', data, k.key) : cryptoSign(null, createHash('sha256').update(data).digest(), k.key);
    headers.push(`${unsigned}${foldValue(sig.toString('base64'))}\r\n`);
  }
  return Buffer.concat([Buffer.from(headers.join(''), 'latin1'), raw]);
}

/** The domain of the (first) address in a From field value, lower-cased, or null. */
export function fromDomain(raw: Buffer): string | null {
  const from = splitFields(raw).find((f) => f.name.toLowerCase() === 'from');
  if (!from) return null;
  const v = fieldValue(from);
  const angle = /<[^<>@]*@([^<>\s]+)>/.exec(v);
  const bare = angle ?? /@([A-Za-z0-9.-]+)/.exec(v);
  return bare ? bare[1]!.toLowerCase().replace(/\.$/, '') : null;
}

/** `domain` and its parents down to two labels. */
function withParents(domain: string): string[] {
  const labels = domain.split('.');
  const out: string[] = [];
  for (let i = 0; i <= labels.length - 2; i++) out.push(labels.slice(i).join('.'));
  return out;
}

export interface Signer {
  /** The message signed with every key of its domain, or unchanged when no local domain of it has keys. */
  sign(raw: Buffer, envelopeFrom: string): Promise<Buffer>;
}

/** Reads the keys of every domain from the store, kept KEY_CACHE_MS; concurrent callers share one read. */
export function keyLoader(store: { dkim: DkimKeyStore }, now: () => number = Date.now): () => Promise<Map<string, SigningKey[]>> {
  let cache: { at: number; byDomain: Map<string, SigningKey[]> } | null = null;
  let loading: Promise<Map<string, SigningKey[]>> | null = null;
  return async () => {
    if (cache && now() - cache.at < KEY_CACHE_MS) return cache.byDomain;
    loading ??= store.dkim.list().then(
      (keys) => {
        const byDomain = new Map<string, SigningKey[]>();
        for (const k of keys) {
          const list = byDomain.get(k.domain) ?? [];
          list.push({ domain: k.domain, selector: k.selector, algorithm: k.algorithm, key: createPrivateKey(k.privateKey) });
          byDomain.set(k.domain, list);
        }
        cache = { at: now(), byDomain };
        loading = null;
        return byDomain;
      },
      (e: unknown) => {
        loading = null;
        throw e;
      },
    );
    return loading;
  };
}

/** The keys of the first of `domains` (or a parent of one) that has keys, or null. */
export function keysFor(byDomain: ReadonlyMap<string, SigningKey[]>, domains: ReadonlyArray<string | null>): SigningKey[] | null {
  for (const c of domains) {
    if (!c) continue;
    for (const d of withParents(c)) {
      const keys = byDomain.get(d);
      if (keys?.length) return keys;
    }
  }
  return null;
}

export function createSigner(store: { dkim: DkimKeyStore }, opts: { now?: () => number } = {}): Signer {
  const now = opts.now ?? Date.now;
  const load = keyLoader(store, now);
  return {
    async sign(raw, envelopeFrom) {
      const byDomain = await load();
      if (!byDomain.size) return raw;
      const keys = keysFor(byDomain, [fromDomain(raw), envelopeFrom.includes('@') ? envelopeFrom.slice(envelopeFrom.lastIndexOf('@') + 1).toLowerCase() : null]);
      return keys ? signMessage(raw, keys, new Date(now())) : raw;
    },
  };
}
