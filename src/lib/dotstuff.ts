/**
 * Dot-stuffing of multi-line data on Buffers (POP3 multi-line responses, RFC 1939 section 3; the same rule
 * as SMTP/LMTP DATA, RFC 5321 section 4.5.2), one implementation for the POP3 server, the POP3 client and
 * the test and benchmark drivers.
 *
 * - DotStuffer / dotStuffAll (sending): every line that starts with "." gets one more "." in front, across
 *   chunk boundaries, and the data ends with CRLF "." CRLF; data that does not end with CRLF gets one
 *   before the terminating "." line. A line starts at the first byte and after every LF.
 * - unstuff (receiving): the body without its terminating "." line loses the first "." of every line
 *   (a line starts at the first byte and after every CRLF); every other byte passes through untouched.
 * Nothing here throws.
 */

const DOT = 0x2e;
const LF = 0x0a;
const CR = 0x0d;
const DOT_BUF = Buffer.from('.');
const END_AFTER_CRLF = Buffer.from('.\r\n');
const END_WITH_CRLF = Buffer.from('\r\n.\r\n');

export class DotStuffer {
  /** True when the next byte starts a line. */
  #atLineStart = true;
  /** The last two bytes passed through (-1 before any). */
  #prev = -1;
  #last = -1;

  /** Returns the stuffed bytes for this chunk (the chunk itself when nothing needs stuffing). */
  stuff(chunk: Buffer): Buffer {
    const parts = this.parts(chunk);
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  }

  /**
   * The stuffed bytes for this chunk without copying: views of the chunk with a "." between them where a
   * line starts with one (just [chunk] when nothing needs stuffing). A writer sends them in one writev;
   * copying them together would allocate a new buffer the size of the chunk, per message.
   */
  parts(chunk: Buffer): Buffer[] {
    return this.stuffed(chunk) ?? [chunk];
  }

  /**
   * As parts(), but null when the chunk needs no stuffing at all (most chunks: then it goes out as it is,
   * and nothing is allocated for it).
   */
  stuffed(chunk: Buffer): Buffer[] | null {
    if (chunk.length === 0) return null;
    let at = this.#atLineStart && chunk[0] === DOT ? 0 : nextCut(chunk, 1);
    this.#atLineStart = chunk[chunk.length - 1] === LF;
    this.#prev = chunk.length >= 2 ? chunk[chunk.length - 2]! : this.#last;
    this.#last = chunk[chunk.length - 1]!;
    if (at === -1) return null;
    const parts: Buffer[] = [];
    let from = 0;
    while (at !== -1) {
      if (at > from) parts.push(chunk.subarray(from, at));
      parts.push(DOT_BUF);
      from = at;
      at = nextCut(chunk, at + 1);
    }
    parts.push(chunk.subarray(from));
    return parts;
  }

  /** The end of the response: "." CRLF after a CRLF (or nothing at all), else CRLF "." CRLF. */
  terminator(): Buffer {
    if (this.#last === -1) return END_AFTER_CRLF;
    return this.#prev === CR && this.#last === LF ? END_AFTER_CRLF : END_WITH_CRLF;
  }
}

/**
 * The next "." at or after `from` (>= 1) that starts a line (follows an LF), or -1. Searching for the dot (a
 * single-byte memchr) and looking back for the line feed is about twice as fast as searching for LF "." on
 * real mail: base64 has no dots at all, while every line has a line feed.
 */
function nextCut(chunk: Buffer, from: number): number {
  let pos = chunk.indexOf(DOT, from);
  while (pos !== -1 && chunk[pos - 1] !== LF) pos = chunk.indexOf(DOT, pos + 1);
  return pos;
}

/** Stuffs a whole message at once (tests and small bodies): stuffed bytes plus the terminator. */
export function dotStuffAll(chunks: Iterable<Buffer>): Buffer {
  const st = new DotStuffer();
  const parts: Buffer[] = [];
  for (const c of chunks) parts.push(st.stuff(c));
  parts.push(st.terminator());
  return Buffer.concat(parts);
}

/**
 * Undoes dot-stuffing of a received multi-line body (the bytes before the terminating "." CRLF line):
 * a "." at the start of a line is dropped. Returns `raw` itself when there is nothing to remove.
 */
export function unstuff(raw: Buffer): Buffer {
  const cuts: number[] = [];
  if (raw[0] === DOT) cuts.push(0);
  // As in DotStuffer.stuff: search for the dot, then look back for the CRLF in front of it.
  let pos = raw.indexOf(DOT, 1);
  while (pos !== -1) {
    if (pos >= 2 && raw[pos - 1] === LF && raw[pos - 2] === CR) cuts.push(pos);
    pos = raw.indexOf(DOT, pos + 1);
  }
  if (cuts.length === 0) return raw;
  const parts: Buffer[] = [];
  let from = 0;
  for (const at of cuts) {
    parts.push(raw.subarray(from, at));
    from = at + 1;
  }
  parts.push(raw.subarray(from));
  return Buffer.concat(parts, raw.length - cuts.length);
}
