/**
 * IMAP URLs (RFC 5092) as CATENATE (RFC 4469), URLAUTH (RFC 4467) and BURL (RFC 4468) use them: one
 * message, optionally one section and one partial range, optionally an URLAUTH authorization.
 *
 *   imap://user[;AUTH=mech]@host[:port]/mailbox[;UIDVALIDITY=n]/;UID=n[/;SECTION=s][/;PARTIAL=a[.b]]
 *       [;EXPIRE=datetime][;URLAUTH=access:mech:token]
 *
 * or the same from "/mailbox..." on (an absolute path, relative to the current server and user).
 * parseImapUrl returns null for anything else (callers answer BADURL). Keys are case-insensitive; the
 * mailbox and section are percent-decoded (UTF-8).
 */

export interface ImapUrl {
  /** The user of "imap://user@host", decoded; null for a path-absolute URL. */
  user: string | null;
  host: string | null;
  mailbox: string;
  uidValidity: number | null;
  uid: number;
  /** Section as sent (upper-cased), "" when absent. */
  section: string;
  partial: { start: number; length: number | null } | null;
  expire: Date | null;
  /** The URLAUTH parts, when present. */
  auth: { access: string; mechanism: string; token: string } | null;
  /** Everything before ";URLAUTH=" (the rump that the token signs, RFC 4467 section 3 and 7). */
  rump: string;
}

function decode(s: string): string | null {
  try {
    return decodeURIComponent(s);
  } catch {
    return null;
  }
}

function nz(s: string | undefined): number | null {
  if (s === undefined || !/^[1-9][0-9]{0,9}$/.test(s)) return null;
  const n = Number(s);
  return n <= 0xffffffff ? n : null;
}

/** Parses an IMAP URL (see the module comment); null when it is not one this server can resolve. */
export function parseImapUrl(url: string): ImapUrl | null {
  let rest = url;
  let user: string | null = null;
  let host: string | null = null;
  if (/^imap:\/\//i.test(rest)) {
    rest = rest.slice(7);
    const slash = rest.indexOf('/');
    if (slash < 0) return null;
    const server = rest.slice(0, slash);
    rest = rest.slice(slash);
    const at = server.lastIndexOf('@');
    if (at >= 0) {
      const u = decode(server.slice(0, at).replace(/;AUTH=.*$/i, ''));
      if (u === null || u === '') return null;
      user = u;
    }
    host = server.slice(at + 1).toLowerCase();
    if (!host) return null;
  }
  if (!rest.startsWith('/') || rest.startsWith('//')) return null;
  // The authorization: ";URLAUTH=access:mech:token" at the very end (RFC 4467 section 3).
  let auth: ImapUrl['auth'] = null;
  const ua = /;URLAUTH=([^;/:]+)(?::([^;/:]+):([0-9A-Za-z]+))?$/i.exec(rest);
  const rump = ua ? url.slice(0, url.length - (rest.length - ua.index)) : url;
  if (ua) {
    auth = { access: decode(ua[1]!) ?? '', mechanism: ua[2] ?? '', token: ua[3] ?? '' };
    rest = rest.slice(0, ua.index);
  }
  let expire: Date | null = null;
  const ex = /;EXPIRE=([^;/]+)$/i.exec(rest);
  if (ex) {
    expire = new Date(decode(ex[1]!) ?? '');
    if (Number.isNaN(expire.getTime())) return null;
    rest = rest.slice(0, ex.index);
  }
  const parts = rest.slice(1).split('/;');
  let box = parts.shift()!;
  let uidValidity: number | null = null;
  const uv = /;UIDVALIDITY=([0-9]+)$/i.exec(box);
  if (uv) {
    uidValidity = nz(uv[1]);
    if (uidValidity === null) return null;
    box = box.slice(0, uv.index);
  }
  const mailbox = decode(box);
  if (mailbox === null || mailbox === '' || box.includes(';')) return null;
  let uid: number | null = null;
  let section = '';
  let partial: ImapUrl['partial'] = null;
  for (const p of parts) {
    const eq = p.indexOf('=');
    const key = p.slice(0, eq).toUpperCase();
    const value = p.slice(eq + 1);
    if (eq < 0) return null;
    if (key === 'UID' && uid === null && !section && !partial) {
      uid = nz(value);
      if (uid === null) return null;
    } else if (key === 'SECTION' && uid !== null && !section && !partial) {
      const s = decode(value);
      if (!s) return null;
      section = s.toUpperCase();
    } else if (key === 'PARTIAL' && uid !== null && !partial) {
      const m = /^([0-9]{1,10})(?:\.([1-9][0-9]{0,9}))?$/.exec(value);
      if (!m) return null;
      partial = { start: Number(m[1]), length: m[2] === undefined ? null : Number(m[2]) };
    } else return null;
  }
  if (uid === null) return null;
  return { user, host, mailbox, uidValidity, uid, section, partial, expire, auth, rump };
}

/** Percent-encodes a mailbox name for an IMAP URL path (RFC 5092 enc-mailbox; '/' stays). */
export function encodeMailbox(name: string): string {
  return name
    .split('/')
    .map((s) => encodeURIComponent(s))
    .join('/');
}
