/**
 * The DATA scan of smtp-server's SMTPStream, done with Buffer.indexOf instead of a byte loop.
 *
 * SMTPStream#_feedDataStream looks for the end of DATA (CRLF "." CRLF) and for dot-stuffed lines by testing
 * every byte of every chunk in JavaScript; for LMTP delivery that loop was the costliest single function of
 * the server (about 4% of its CPU at 40 KB a message). The replacement visits only the places where a line
 * starts with a dot ("\n." found natively) and is otherwise the same code: the same state (_lastBytes,
 * _atDataStart, the byte count), the same decisions at each such dot, the same emitted slices and the same
 * continuation. The few bytes kept back from one chunk (a terminator may straddle two) are written before
 * the next chunk's first piece instead of being joined to it, which copied every chunk of the message; the
 * emitted bytes are the same. It is installed on SMTPStream's prototype once, and only when the installed method still
 * reads as the version it was written against (smtp-server 3.21): another version keeps its own scan.
 */
import { SMTPStream } from 'smtp-server/lib/smtp-stream.js';

type Done = (err?: Error | null) => void;

/** The members of SMTPStream the scan uses (private in smtp-server's typings). */
interface StreamState {
  _dataStream: NodeJS.WritableStream & { writable: boolean; destroyed: boolean };
  _lastBytes: Buffer | false;
  _atDataStart: boolean;
  _countDataBytes(n: number): void;
  _endDataMode(chunk: Buffer | false, remainder: Buffer, done: Done): void;
  _feedDataStream(chunk: Buffer, done: Done): void;
}

const LF_DOT = Buffer.from('\n.');
const CR = 0x0d;
const LF = 0x0a;
const DOT = 0x2e;

/** Lines of the original byte loop the replacement must find before it is installed. */
const ORIGINAL_MARKS = ['for (i = 2; i < len - 2; i++)', 'chunk[i] === 0x2e && chunk[i - 1] === 0x0a', 'END_SEQUENCE', 'setImmediate(() => this._feedDataStream(rest, done))'];

/**
 * True when a line-starting dot the original loop would test lies where the previous chunk's kept bytes
 * `last` meet `chunk`: at positions 2 .. last.length + 1 of last + chunk (those need bytes of both).
 */
function dotAtSeam(last: Buffer, chunk: Buffer): boolean {
  const n = last.length;
  const at = (i: number): number | undefined => (i < n ? last[i] : chunk[i - n]);
  for (let i = 2; i < n + 2; i++) if (at(i) === DOT && at(i - 1) === LF) return true;
  return false;
}

function feedDataStream(this: StreamState, input: Buffer, done: Done): void {
  const dataStream = this._dataStream;
  let chunk = input;
  // The bytes kept from the previous chunk go out before this chunk's first piece, as their own write,
  // instead of being joined to the chunk (a copy of every chunk). Joining is kept where a decision needs
  // bytes of both: at the start of DATA, for a chunk too short to keep its own last bytes, and when a
  // line-starting dot sits at the seam. Either way the same bytes are emitted, in the same order.
  let carry: Buffer | null = null;
  const last = this._lastBytes;
  if (last && last.length) {
    this._lastBytes = false;
    if (this._atDataStart || chunk.length < 4 || dotAtSeam(last, chunk)) chunk = Buffer.concat([last, chunk], last.length + chunk.length);
    else carry = last;
  }
  /** Counts and writes the carried bytes (once), before the first piece of this chunk. */
  const flushCarry = (): boolean => {
    if (!carry) return true;
    const c = carry;
    carry = null;
    this._countDataBytes(c.length);
    return dataStream.writable ? dataStream.write(c) : true;
  };
  let len = chunk.length;
  // A first line "." ends DATA at once; a first line starting ".." loses its escape dot (see the original).
  if (this._atDataStart && len >= 3 && chunk[0] === DOT && chunk[1] === CR && chunk[2] === LF) {
    this._endDataMode(false, chunk.subarray(3), done);
    return;
  }
  if (this._atDataStart && len >= 2 && chunk[0] === DOT && chunk[1] === DOT) {
    chunk = chunk.subarray(1);
    len--;
    this._atDataStart = false;
  }
  // Each dot at i in [2, len - 2) that follows a LF: the positions the original loop tests.
  for (let p = chunk.indexOf(LF_DOT, 1); p !== -1 && p + 1 < len - 2; p = chunk.indexOf(LF_DOT, p + 1)) {
    const i = p + 1;
    if (chunk[i - 2] === CR && chunk[i + 1] === CR && chunk[i + 2] === LF) {
      flushCarry();
      const buf = chunk.subarray(0, i);
      this._countDataBytes(buf.length);
      this._endDataMode(buf, chunk.subarray(i + 3), done);
      return;
    }
    if (chunk[i + 1] === DOT) {
      flushCarry();
      const buf = chunk.subarray(0, i);
      this._lastBytes = false;
      this._countDataBytes(buf.length);
      if (dataStream.writable) dataStream.write(buf);
      const rest = chunk.subarray(i + 1);
      setImmediate(() => this._feedDataStream(rest, done));
      return;
    }
  }
  // Keep the last bytes (a terminator may straddle chunks) and emit the rest, waiting for drain if asked.
  this._lastBytes = chunk.length < 4 ? chunk : chunk.subarray(chunk.length - 4);
  let handled = flushCarry();
  if (this._lastBytes.length < chunk.length) {
    const buf = chunk.subarray(0, chunk.length - this._lastBytes.length);
    this._countDataBytes(buf.length);
    if (!dataStream.writable) return done();
    handled = dataStream.write(buf);
  } else if (handled === true) return done();
  if (handled || dataStream.destroyed) return done();
  const onDrain = (): void => {
    dataStream.removeListener('drain', onDrain);
    dataStream.removeListener('close', onDrain);
    done();
  };
  dataStream.once('drain', onDrain);
  dataStream.once('close', onDrain);
}

let installed: boolean | null = null;

/** Installs the scan (once per process); false when smtp-server's method is not the expected one. */
export function installFastDataScan(): boolean {
  if (installed !== null) return installed;
  const proto = SMTPStream.prototype as unknown as StreamState;
  const source = String(proto._feedDataStream);
  installed = ORIGINAL_MARKS.every((m) => source.includes(m));
  if (installed) proto._feedDataStream = feedDataStream;
  return installed;
}
