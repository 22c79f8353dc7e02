/** URL and email-address tokens of message text (tokenize.ts). */
import type { TokenOut } from './token-ids.js';

const URL_RE = /\b(?:https?:\/\/|www\.)([^\s/<>"'()\]]+)([^\s<>"')\]]*)/gi;
const EMAIL_RE = /\b[a-z0-9._%+-]{1,64}@([a-z0-9.-]{1,100}\.[a-z]{2,20})\b/gi;
const SHORTENERS = new Set(['bit.ly', 'tinyurl.com', 't.co', 'goo.gl', 'ow.ly', 'is.gd', 'cutt.ly', 'rb.gy', 'shorturl.at', 'tiny.cc']);

/** Tokens of the URLs (host, registrable domain, TLD, path words, clues) and email domains in a text. */
export function urlTokens(text: string, out: TokenOut): void {
  const lower = text.length < 256 ? text.toLowerCase() : null;
  const has = (needle: string): boolean => (lower ? lower.includes(needle) : text.includes(needle) || text.includes(needle.toUpperCase()));
  if (has('http') || has('www.')) urlMatches(text, out);
  if (text.includes('@')) emailMatches(text, out);
}

function urlMatches(text: string, out: TokenOut): void {
  URL_RE.lastIndex = 0;
  let m: RegExpExecArray | null;
  let n = 0;
  while ((m = URL_RE.exec(text)) && n++ < 100) {
    const host = urlHost(m[1]!);
    if (/^\d{1,3}(\.\d{1,3}){3}$/.test(host)) out.add('url:ip');
    else {
      out.add(`url:host:${host.slice(0, 60)}`);
      const dom = regDomain(host);
      out.add(`url:domain:${dom}`);
      out.add(`url:tld:${dom.slice(dom.lastIndexOf('.') + 1)}`);
      if (SHORTENERS.has(dom)) out.add('url:shortener');
      if (host.startsWith('xn--') || host.includes('.xn--')) out.add('url:punycode');
    }
    // /^https?:/i and then "http:" lower-cased: the match begins with "http:" in any case.
    if (m[0].slice(0, 5).toLowerCase() === 'http:') out.add('url:http');
    if (!m[2]) continue;
    const path = m[2].toLowerCase();
    for (const w of path.split(/[^a-z0-9]+/).filter((x) => x.length >= 3 && x.length <= 20).slice(0, 6)) out.add(`url:path:${w}`);
    if (/[?&][a-z_]*(?:id|token|uid|ref)=/i.test(path)) out.add('url:tracking-param');
  }
}

function emailMatches(text: string, out: TokenOut): void {
  let m: RegExpExecArray | null;
  EMAIL_RE.lastIndex = 0;
  let n = 0;
  while ((m = EMAIL_RE.exec(text)) && n++ < 50) out.add(`email:${m[1]!.toLowerCase()}`);
}

/** A URL's host as matched, lower-cased, without a port, user info or a final dot. */
function urlHost(matched: string): string {
  const h = matched.toLowerCase();
  if (!h.includes(':') && !h.includes('@') && !h.endsWith('.')) return h;
  return h.replace(/:\d+$/, '').replace(/^.*@/, '').replace(/\.$/, '');
}

/** The registrable-looking part of a host: the last two labels, three for short second-level labels (co.uk). */
export function regDomain(host: string): string {
  // Empty labels (leading, trailing or doubled dots) are left out, by the general way.
  if (host.startsWith('.') || host.endsWith('.') || host.includes('..')) return regDomainOfLabels(host);
  const last = host.lastIndexOf('.');
  const second = last < 0 ? -1 : host.lastIndexOf('.', last - 1);
  if (second < 0) return host;
  const take3 = last - second - 1 <= 3 && host.length - last - 1 === 2;
  return host.slice((take3 ? host.lastIndexOf('.', second - 1) : second) + 1);
}

export function regDomainOfLabels(host: string): string {
  const labels = host.split('.').filter(Boolean);
  if (labels.length <= 2) return labels.join('.');
  const sld = labels[labels.length - 2]!;
  const take = sld.length <= 3 && labels[labels.length - 1]!.length === 2 ? 3 : 2;
  return labels.slice(-take).join('.');
}
