/**
 * Modified UTF-7 for mailbox names (RFC 3501 section 5.1.3), used with IMAP4rev1 clients that have not
 * enabled UTF8=ACCEPT or IMAP4rev2. "&" is the shift character, "&-" encodes "&", and shifted runs are
 * UTF-16BE in modified base64 (',' instead of '/', no padding).
 */

export class Utf7Error extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'Utf7Error';
  }
}

/** Encodes a Unicode mailbox name as modified UTF-7. */
export function encodeMailboxUtf7(name: string): string {
  let out = '';
  let pending: number[] = [];
  const flush = (): void => {
    if (!pending.length) return;
    const buf = Buffer.alloc(pending.length * 2);
    pending.forEach((u, i) => buf.writeUInt16BE(u, i * 2));
    out += '&' + buf.toString('base64').replace(/=+$/, '').replace(/\//g, ',') + '-';
    pending = [];
  };
  for (let i = 0; i < name.length; i++) {
    const code = name.charCodeAt(i);
    if (code >= 0x20 && code <= 0x7e) {
      flush();
      out += code === 0x26 ? '&-' : name[i];
    } else {
      pending.push(code);
    }
  }
  flush();
  return out;
}

/**
 * Decodes a modified UTF-7 mailbox name. Throws Utf7Error on malformed input (8-bit bytes, bad base64,
 * unterminated shift, non-canonical encodings: printable ASCII encoded, two encoded runs side by side).
 */
export function decodeMailboxUtf7(name: string): string {
  let out = '';
  let i = 0;
  while (i < name.length) {
    const c = name.charCodeAt(i);
    if (c > 0x7e || c < 0x20) throw new Utf7Error('8-bit or control character in mailbox name');
    if (c !== 0x26) {
      out += name[i];
      i++;
      continue;
    }
    const end = name.indexOf('-', i + 1);
    if (end < 0) throw new Utf7Error('Unterminated &-sequence in mailbox name');
    if (end === i + 1) {
      out += '&';
      i = end + 1;
      continue;
    }
    const b64 = name.slice(i + 1, end);
    if (!/^[A-Za-z0-9+,]+$/.test(b64)) throw new Utf7Error('Invalid modified base64 in mailbox name');
    const bytes = Buffer.from(b64.replace(/,/g, '/'), 'base64');
    if (bytes.length % 2 !== 0 || bytes.length === 0) throw new Utf7Error('Invalid UTF-16 in mailbox name');
    let run = '';
    for (let j = 0; j < bytes.length; j += 2) {
      const u = bytes.readUInt16BE(j);
      if (u >= 0x20 && u <= 0x7e) throw new Utf7Error('Printable ASCII must not be base64-encoded');
      run += String.fromCharCode(u);
    }
    out += run;
    i = end + 1;
    // Two encoded runs side by side are one run written twice: not the canonical form, which would name
    // the mailbox differently from the name listed back (Dovecot refuses it too).
    if (name.charCodeAt(i) === 0x26 && name.charCodeAt(i + 1) !== 0x2d) throw new Utf7Error('Adjacent encoded sequences in mailbox name');
  }
  return out;
}

/** decodeMailboxUtf7, keeping a malformed name as it is (for names found on disk, e.g. Maildir++ folders). */
export function decodeMailboxUtf7Lenient(name: string): string {
  try {
    return decodeMailboxUtf7(name);
  } catch (e) {
    if (e instanceof Utf7Error) return name;
    throw e;
  }
}
