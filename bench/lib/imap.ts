/**
 * A small pipelining IMAP driver over a raw socket, for load generation. It is deliberately thin: commands
 * are strings, responses are lines plus their literals, and the only parsing is what the workloads need
 * (tagged status, FETCH items found by regular expression, literal bodies). A client library would spend
 * more CPU than the server under test and bottleneck the measurement.
 *
 * Untagged responses are attributed to the oldest command still waiting for its tagged reply (servers
 * answer pipelined commands in order). Literals in responses are kept as Buffers in `literals`, and the
 * line text holds a `{n}` placeholder where each one was.
 */
import { connect, type Socket } from 'node:net';

export interface Untagged {
  /** Response text with literals replaced by "{n}", without the trailing CRLF. */
  text: string;
  literals: Buffer[];
}

export interface TaggedResult {
  status: 'OK' | 'NO' | 'BAD';
  text: string;
  untagged: Untagged[];
}

export class ImapError extends Error {
  constructor(
    message: string,
    readonly result?: TaggedResult,
  ) {
    super(message);
    this.name = 'ImapError';
  }
}

interface Pending {
  tag: string;
  untagged: Untagged[];
  resolve: (r: TaggedResult) => void;
  reject: (e: Error) => void;
  /** Waiting for a "+" continuation before sending the rest. */
  onContinue?: (() => void) | undefined;
  keep: boolean;
}

export interface ConnectOptions {
  host: string;
  port: number;
  localAddress?: string;
  /** Called for every untagged response not claimed by a pending command (e.g. during IDLE). */
  onUntagged?: (u: Untagged) => void;
  timeoutMs?: number;
}

const CRLF = Buffer.from('\r\n');

export class ImapConn {
  readonly socket: Socket;
  #buf: Buffer = Buffer.alloc(0);
  #lit: { need: number; chunks: Buffer[]; have: number } | null = null;
  #cur: Untagged | null = null;
  #pending: Pending[] = [];
  #tag = 0;
  #closed = false;
  #error: Error | null = null;
  #greeting: { resolve: (t: string) => void; reject: (e: Error) => void } | null = null;
  onUntagged: ((u: Untagged) => void) | undefined;
  capabilities: Set<string> = new Set();

  private constructor(socket: Socket, onUntagged?: (u: Untagged) => void) {
    this.socket = socket;
    this.onUntagged = onUntagged;
    socket.setNoDelay(true);
    socket.on('data', (d: Buffer) => this.#onData(d));
    socket.on('error', (e) => this.#fail(e));
    socket.on('close', () => this.#fail(new Error('connection closed')));
  }

  /** Connects and waits for the greeting (OK or PREAUTH). */
  static async connect(opts: ConnectOptions): Promise<ImapConn> {
    const socket = connect({ host: opts.host, port: opts.port, ...(opts.localAddress ? { localAddress: opts.localAddress } : {}) });
    const conn = new ImapConn(socket, opts.onUntagged);
    const greeting = await new Promise<string>((resolve, reject) => {
      conn.#greeting = { resolve, reject };
      const t = setTimeout(() => reject(new Error(`no IMAP greeting from ${opts.host}:${opts.port}`)), opts.timeoutMs ?? 30_000);
      t.unref();
    });
    if (!/^\* (OK|PREAUTH)/i.test(greeting)) throw new ImapError(`bad greeting: ${greeting}`);
    return conn;
  }

  get closed(): boolean {
    return this.#closed;
  }

  #fail(e: Error): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#error = e;
    this.#greeting?.reject(e);
    for (const p of this.#pending.splice(0)) p.reject(e);
  }

  #onData(d: Buffer): void {
    let data = d;
    while (data.length > 0) {
      if (this.#lit) {
        const take = Math.min(this.#lit.need - this.#lit.have, data.length);
        this.#lit.chunks.push(data.subarray(0, take));
        this.#lit.have += take;
        data = data.subarray(take);
        if (this.#lit.have === this.#lit.need) {
          this.#cur!.literals.push(this.#lit.chunks.length === 1 ? this.#lit.chunks[0]! : Buffer.concat(this.#lit.chunks));
          this.#lit = null;
        }
        continue;
      }
      this.#buf = this.#buf.length ? Buffer.concat([this.#buf, data]) : data;
      data = Buffer.alloc(0);
      let pos = 0;
      for (;;) {
        const eol = this.#buf.indexOf(CRLF, pos);
        if (eol < 0) break;
        const line = this.#buf.toString('utf8', pos, eol);
        pos = eol + 2;
        const m = /\{(\d+)\+?\}$/.exec(line);
        if (!this.#cur) this.#cur = { text: '', literals: [] };
        this.#cur.text += line;
        if (m) {
          const n = Number(m[1]);
          const avail = this.#buf.length - pos;
          if (avail >= n) {
            this.#cur.literals.push(this.#buf.subarray(pos, pos + n));
            pos += n;
          } else {
            this.#lit = { need: n, chunks: [this.#buf.subarray(pos)], have: avail };
            pos = this.#buf.length;
            if (n === 0) this.#lit = null;
            break;
          }
          continue;
        }
        const u = this.#cur;
        this.#cur = null;
        this.#dispatch(u);
      }
      this.#buf = pos >= this.#buf.length ? Buffer.alloc(0) : this.#buf.subarray(pos);
      // A literal in progress consumed the rest; keep looping on remaining data only.
    }
  }

  #dispatch(u: Untagged): void {
    const t = u.text;
    if (this.#greeting) {
      const g = this.#greeting;
      this.#greeting = null;
      const cm = /\[CAPABILITY ([^\]]*)\]/i.exec(t);
      if (cm) this.#setCaps(cm[1]!);
      g.resolve(t);
      return;
    }
    if (t.startsWith('+')) {
      const p = this.#pending.find((x) => x.onContinue);
      if (p?.onContinue) {
        const f = p.onContinue;
        p.onContinue = undefined;
        f();
      }
      return;
    }
    if (t.startsWith('* ')) {
      const cm = /^\* CAPABILITY (.*)$/i.exec(t) ?? /^\* OK \[CAPABILITY ([^\]]*)\]/i.exec(t);
      if (cm) this.#setCaps(cm[1]!);
      const p = this.#pending[0];
      if (p && p.keep) p.untagged.push(u);
      this.onUntagged?.(u);
      return;
    }
    const sp = t.indexOf(' ');
    const tag = t.slice(0, sp);
    const idx = this.#pending.findIndex((x) => x.tag === tag);
    if (idx < 0) return;
    const [p] = this.#pending.splice(idx, 1);
    const rest = t.slice(sp + 1);
    const status = rest.slice(0, rest.indexOf(' ') < 0 ? rest.length : rest.indexOf(' ')).toUpperCase();
    const cm = /\[CAPABILITY ([^\]]*)\]/i.exec(rest);
    if (cm) this.#setCaps(cm[1]!);
    p!.resolve({ status: status === 'OK' ? 'OK' : status === 'NO' ? 'NO' : 'BAD', text: rest, untagged: p!.untagged });
  }

  #setCaps(s: string): void {
    this.capabilities = new Set(s.toUpperCase().split(/\s+/).filter(Boolean));
  }

  /**
   * Sends one command (without tag and CRLF) and resolves with its tagged result (any status).
   * `literal`: appended as a synchronizing literal after `line` (waits for "+"), then `after` and CRLF.
   * `keep: false` drops untagged responses instead of collecting them (for FETCH floods we only count).
   */
  send(line: string, opts: { literal?: Buffer; after?: string; keep?: boolean } = {}): Promise<TaggedResult> {
    if (this.#closed) return Promise.reject(this.#error ?? new Error('connection closed'));
    const tag = `A${++this.#tag}`;
    return new Promise<TaggedResult>((resolve, reject) => {
      const p: Pending = { tag, untagged: [], resolve, reject, keep: opts.keep ?? true };
      this.#pending.push(p);
      if (opts.literal) {
        const lit = opts.literal;
        p.onContinue = () => {
          this.socket.write(lit);
          this.socket.write((opts.after ?? '') + '\r\n');
        };
        this.socket.write(`${tag} ${line} {${lit.length}}\r\n`);
      } else {
        this.socket.write(`${tag} ${line}\r\n`);
      }
    });
  }

  /** Like send() but rejects unless the tagged status is OK. */
  async ok(line: string, opts: { literal?: Buffer; after?: string; keep?: boolean } = {}): Promise<TaggedResult> {
    const r = await this.send(line, opts);
    if (r.status !== 'OK') throw new ImapError(`${line.split(' ')[0]} failed: ${r.status} ${r.text}`, r);
    return r;
  }

  async login(user: string, password: string): Promise<void> {
    await this.ok(`LOGIN ${quote(user)} ${quote(password)}`);
  }

  /**
   * Enters IDLE: resolves when the server sends the "+" continuation; returns done(), which sends DONE and
   * resolves with the tagged result.
   */
  async idle(): Promise<{ done: () => Promise<TaggedResult> }> {
    if (this.#closed) throw this.#error ?? new Error('connection closed');
    const tag = `A${++this.#tag}`;
    let result!: Promise<TaggedResult>;
    await new Promise<void>((cont, reject) => {
      result = new Promise<TaggedResult>((resolve, rej) => {
        this.#pending.push({ tag, untagged: [], resolve, reject: (e) => (rej(e), reject(e)), onContinue: cont, keep: false });
      });
      result.catch(() => undefined);
      this.socket.write(`${tag} IDLE\r\n`);
    });
    return {
      done: () => {
        this.socket.write('DONE\r\n');
        return result;
      },
    };
  }

  /** LOGOUT (best effort) and close. */
  async logout(): Promise<void> {
    if (this.#closed) return;
    try {
      await Promise.race([this.send('LOGOUT'), new Promise((r) => setTimeout(r, 2000).unref())]);
    } catch {
      // the server may close first
    }
    this.destroy();
  }

  destroy(): void {
    this.#closed = true;
    this.socket.destroy();
  }
}

/** IMAP quoted string for simple ASCII values (passwords and names in the benchmark are plain). */
export function quote(s: string): string {
  return '"' + s.replace(/[\\"]/g, (c) => '\\' + c) + '"';
}

/** Number following `name` in a FETCH response text, e.g. fetchNumber(t, 'UID'). */
export function fetchNumber(text: string, name: string): number | null {
  const m = new RegExp(`[( ]${name.replace('.', '\\.')} (\\d+)`).exec(text);
  return m ? Number(m[1]) : null;
}

/** True for an untagged FETCH response. */
export function isFetch(u: Untagged): boolean {
  return / FETCH \(/.test(u.text.slice(0, 40));
}

/** SELECT/EXAMINE: the EXISTS count and UIDNEXT/UIDVALIDITY. */
export function selectInfo(r: TaggedResult): { exists: number; uidNext: number | null; uidValidity: number | null } {
  let exists = 0;
  let uidNext: number | null = null;
  let uidValidity: number | null = null;
  for (const u of r.untagged) {
    const e = /^\* (\d+) EXISTS/i.exec(u.text);
    if (e) exists = Number(e[1]);
    const n = /\[UIDNEXT (\d+)\]/i.exec(u.text);
    if (n) uidNext = Number(n[1]);
    const v = /\[UIDVALIDITY (\d+)\]/i.exec(u.text);
    if (v) uidValidity = Number(v[1]);
  }
  return { exists, uidNext, uidValidity };
}

/** UIDs from a SEARCH / UID SEARCH response. */
export function searchResult(r: TaggedResult): number[] {
  const out: number[] = [];
  for (const u of r.untagged) {
    const m = /^\* SEARCH(.*)$/i.exec(u.text);
    if (!m) continue;
    for (const x of m[1]!.trim().split(/\s+/)) if (x) out.push(Number(x));
  }
  return out.sort((a, b) => a - b);
}

/**
 * Literal-valued FETCH items of one response, by item name as the server wrote it ("BODY[]",
 * "BODY[TEXT]", "BODY[HEADER.FIELDS (MESSAGE-ID)]", "RFC822"); names are upper-cased.
 */
export function fetchLiterals(u: Untagged): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const re = /(BODY\[[^\]]*\](?:<\d+>)?|BINARY\[[^\]]*\]|RFC822(?:\.HEADER|\.TEXT)?) \{(\d+)\}/gi;
  let k = 0;
  let m: RegExpExecArray | null;
  // Every {n} in the text is one literal, in order; count those that are not ours too.
  const all = [...u.text.matchAll(/\{(\d+)\}/g)].map((x) => x.index ?? 0);
  while ((m = re.exec(u.text)) !== null) {
    const at = m.index + m[0].lastIndexOf('{');
    k = all.indexOf(at);
    const lit = u.literals[k];
    if (lit) out.set(m[1]!.toUpperCase(), lit);
  }
  return out;
}

/**
 * The value of one FETCH item that is a parenthesized list (e.g. "ENVELOPE", "BODYSTRUCTURE") in a
 * normalised form: literals are replaced by equivalent quoted strings, so two servers' answers can be
 * compared textually. null when the item is absent.
 */
export function fetchListItem(u: Untagged, item: string): string | null {
  const t = u.text;
  let lit = 0;
  let i = 0;
  let capture = -1;
  let depth = 0;
  let out = '';
  const want = item.toUpperCase() + ' (';
  while (i < t.length) {
    const c = t[i]!;
    if (capture < 0 && depth === 1 && t.startsWith(want, i) && (t[i - 1] === ' ' || t[i - 1] === '(')) {
      capture = depth;
      i += want.length - 1;
      continue;
    }
    if (c === '"') {
      let j = i + 1;
      while (j < t.length && t[j] !== '"') j += t[j] === '\\' ? 2 : 1;
      if (capture >= 0) out += t.slice(i, j + 1);
      i = j + 1;
      continue;
    }
    if (c === '{') {
      const m = /^\{(\d+)\+?\}/.exec(t.slice(i, i + 24));
      if (m) {
        const b = u.literals[lit++];
        if (capture >= 0) out += '"' + (b ? b.toString('utf8') : '').replace(/[\\"]/g, (x) => '\\' + x) + '"';
        i += m[0].length;
        continue;
      }
    }
    if (c === '(') depth++;
    if (capture >= 0) out += c;
    if (c === ')') {
      depth--;
      if (capture >= 0 && depth === capture) return out;
    }
    i++;
  }
  return null;
}
