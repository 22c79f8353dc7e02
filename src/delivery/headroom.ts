/**
 * Room in front of a received message for the trace fields delivery puts above it.
 *
 * Every stored copy is "trace fields + message" in one Buffer. Received DATA is joined into one Buffer
 * anyway (spool.ts), so it is joined with HEADROOM free bytes in front (withHeadroom), and the first copy
 * made of the message writes its fields into them (prefixed): the copy is then a view that starts a little
 * earlier, and the message is not copied a second time. The room is given out once per message (copies for
 * other users, made concurrently, each need their own fields): later copies, and messages without room (read
 * back from a spool file, rewritten by a stage), are joined into a new Buffer as before. The MX checks' fields
 * become part of the message itself (headed): they take part of the room and leave the rest in front.
 *
 * The bytes of the message itself are never written; only the free bytes in front of it are.
 */

/**
 * Free bytes kept in front of a received message: the MX checks' Authentication-Results and Received-SPF
 * (headed), then Return-Path, Delivered-To, Received and a spam verdict fit.
 */
export const HEADROOM = 2048;

/** Message -> the allocation it sits at the end of, while its room is unclaimed. */
const rooms = new WeakMap<Buffer, Buffer>();

/** The chunks joined into one Buffer of `size` bytes with HEADROOM free bytes in front of it. */
export function withHeadroom(chunks: readonly Buffer[], size: number): Buffer {
  const whole = Buffer.allocUnsafe(HEADROOM + size);
  let at = HEADROOM;
  for (const c of chunks) at += c.copy(whole, at);
  const raw = whole.subarray(HEADROOM, at);
  rooms.set(raw, whole);
  return raw;
}

/** True when `raw` still has its free room in front (withHeadroom, not yet used by prefixed). */
export function hasHeadroom(raw: Buffer): boolean {
  return rooms.has(raw);
}

/**
 * Fields that become part of the message itself (the MX checks' results), written into raw's free room
 * when it has enough: the result is the longer message, with what is left of the room still in front of it
 * for the first copy's trace fields (prefixed). Without room enough, a new Buffer (without room).
 */
export function headed(head: Buffer, raw: Buffer): Buffer {
  const whole = rooms.get(raw);
  const start = whole ? raw.byteOffset - whole.byteOffset - head.length : -1;
  if (!whole || start < 0) return Buffer.concat([head, raw], head.length + raw.length);
  rooms.delete(raw);
  head.copy(whole, start);
  const out = whole.subarray(start, start + head.length + raw.length);
  rooms.set(out, whole);
  return out;
}

/**
 * `prefix` (UTF-8) followed by `raw`, as one Buffer: written into raw's free room when it has room enough
 * (the first time only), else a new Buffer. The prefix's bytes are the result's first
 * Buffer.byteLength(prefix) bytes either way.
 */
export function prefixed(prefix: string, raw: Buffer): Buffer {
  const whole = rooms.get(raw);
  if (whole) {
    const n = Buffer.byteLength(prefix, 'utf8');
    const start = raw.byteOffset - whole.byteOffset - n;
    if (start >= 0) {
      rooms.delete(raw);
      whole.write(prefix, start, n, 'utf8');
      return whole.subarray(start, start + n + raw.length);
    }
  }
  const head = Buffer.from(prefix, 'utf8');
  return Buffer.concat([head, raw], head.length + raw.length);
}
