/**
 * A small DNS stub resolver (RFC 1035) for the mail authentication checks and the outbound queue: queries go
 * to the system's name servers (those node:dns reads from resolv.conf) or to the servers given
 * (`serve --dns-server HOST:PORT`), over UDP with EDNS0 (RFC 6891, 1232-octet payload) and over TCP when an
 * answer comes back truncated (RFC 7766).
 *
 * Contract:
 * - resolve(name, type) resolves with node:dns's shapes (A/AAAA/PTR/CNAME/NS: string[], TXT: string[][],
 *   MX: {exchange, priority}[]) and rejects with an Error whose `code` is node:dns's: ENOTFOUND (NXDOMAIN or a
 *   name that cannot exist), ENODATA (the name exists without records of the type), ESERVFAIL, EREFUSED,
 *   ETIMEOUT (no server answered), EBADRESP. The first two are answers ("none"), the others temporary.
 * - Answers are cached for their TTL (the smallest TTL of the records used, CNAMEs included); NXDOMAIN and
 *   NODATA for the SOA's negative TTL (RFC 2308 section 5), else NEGATIVE_TTL_DEFAULT. Temporary failures
 *   are not cached. TTLs are capped at MAX_TTL. Concurrent look-ups of one name and type share one query.
 * - No look-up blocks anything else: every query is asynchronous and independent.
 */
import { createSocket } from 'node:dgram';
import { getServers } from 'node:dns';
import { isIP, Socket } from 'node:net';
import { randomInt } from 'node:crypto';

export type RecordType = 'A' | 'AAAA' | 'TXT' | 'MX' | 'PTR' | 'CNAME' | 'NS';
export type MxRecord = { exchange: string; priority: number };
export type DnsAnswer = string[] | string[][] | MxRecord[];

export interface DnsServer {
  host: string;
  port: number;
}

export interface ResolverOptions {
  /** Servers to ask, in order; default the system's (node:dns getServers()), else 127.0.0.1:53. */
  servers?: readonly DnsServer[];
  /** Time to wait for one answer from one server. Default 2000 ms. */
  timeoutMs?: number;
  /** Rounds over the server list before ETIMEOUT. Default 2. */
  tries?: number;
  /** Cached answers kept at most (oldest dropped first). Default 10,000. */
  cacheSize?: number;
  /** Clock, for tests. */
  now?: () => number;
}

export interface DnsResolver {
  resolve(name: string, type: RecordType): Promise<DnsAnswer>;
  resolveTxt(name: string): Promise<string[][]>;
  resolveMx(name: string): Promise<MxRecord[]>;
  /** Every A and AAAA address of `name` (for connecting to a host), like dns.lookup({ all: true }). */
  lookupAll(name: string): Promise<Array<{ address: string; family: number }>>;
  /** Queries sent to servers so far (cache hits excluded). */
  readonly queries: number;
  /**
   * What the resolver was made with, as plain data, so another thread can make an equal one (with its own
   * cache); absent when it cannot be copied (a test clock).
   */
  readonly settings?: ResolverSettings;
}

/** ResolverOptions without the clock: what createResolver needs to make an equal resolver elsewhere. */
export type ResolverSettings = Required<Omit<ResolverOptions, 'now'>>;

/** Longest time an answer is cached, whatever its TTL (1 day). */
export const MAX_TTL = 86_400;
/** Negative answers without an SOA in the authority section are cached this long (seconds). */
export const NEGATIVE_TTL_DEFAULT = 60;
/** Our advertised UDP payload size (the DNS flag day 2020 value). */
const EDNS_PAYLOAD = 1232;
/** CNAME chains longer than this in one answer are treated as a bad response. */
const MAX_RDATA_NAMES = 64;

const TYPE_CODES: Record<RecordType, number> = { A: 1, NS: 2, CNAME: 5, PTR: 12, MX: 15, TXT: 16, AAAA: 28 };
const SOA = 6;

export class DnsError extends Error {
  readonly code: string;
  readonly hostname: string;
  constructor(code: string, hostname: string, type: string) {
    // Negative answers are common and served from the cache many times: no stack trace to capture.
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(`query${type} ${code} ${hostname}`);
    Error.stackTraceLimit = limit;
    this.code = code;
    this.hostname = hostname;
  }
}

/** True for DNS failures that say nothing about the name (try again later). */
export function isTemporaryDnsError(e: unknown): boolean {
  const code = (e as { code?: unknown }).code;
  return code !== 'ENOTFOUND' && code !== 'ENODATA';
}

/** Parses "HOST:PORT", "[v6]:PORT", "HOST" or a bare IPv6 address (port 53). Throws on a bad value. */
export function parseDnsServer(value: string): DnsServer {
  const v = value.trim();
  if (isIP(v) === 6) return { host: v, port: 53 };
  const m = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(v) ?? /^([^:\s]+)(?::(\d{1,5}))?$/.exec(v);
  const port = m?.[2] === undefined ? 53 : Number(m[2]);
  if (!m || !m[1] || port < 1 || port > 65535) throw new Error(`invalid DNS server: ${value} (expected HOST:PORT)`);
  return { host: m[1], port };
}

function systemServers(): DnsServer[] {
  const list = getServers().map(parseDnsServer);
  return list.length ? list : [{ host: '127.0.0.1', port: 53 }];
}

interface CacheEntry {
  expires: number;
  value?: DnsAnswer;
  error?: string;
}

export function createResolver(opts: ResolverOptions = {}): DnsResolver {
  return new StubResolver(opts);
}

class StubResolver implements DnsResolver {
  readonly #servers: readonly DnsServer[];
  readonly #timeoutMs: number;
  readonly #tries: number;
  readonly #cacheSize: number;
  readonly #now: () => number;
  readonly #cache = new Map<string, CacheEntry>();
  readonly #inflight = new Map<string, Promise<DnsAnswer>>();
  #queries = 0;
  readonly settings?: ResolverSettings;

  constructor(opts: ResolverOptions) {
    this.#servers = opts.servers?.length ? [...opts.servers] : systemServers();
    this.#timeoutMs = opts.timeoutMs ?? 2000;
    this.#tries = Math.max(1, opts.tries ?? 2);
    this.#cacheSize = opts.cacheSize ?? 10_000;
    this.#now = opts.now ?? Date.now;
    if (!opts.now) {
      this.settings = { servers: this.#servers.map(({ host, port }) => ({ host, port })), timeoutMs: this.#timeoutMs, tries: this.#tries, cacheSize: this.#cacheSize };
    }
  }

  get queries(): number {
    return this.#queries;
  }

  resolve(name: string, type: RecordType): Promise<DnsAnswer> {
    const qname = name.replace(/\.$/, '').toLowerCase();
    const key = `${type} ${qname}`;
    const hit = this.#cache.get(key);
    if (hit) {
      if (hit.expires > this.#now()) {
        return hit.error ? Promise.reject(new DnsError(hit.error, name, type)) : Promise.resolve(hit.value!);
      }
      this.#cache.delete(key);
    }
    let p = this.#inflight.get(key);
    if (!p) {
      p = this.#lookup(qname, type, key).finally(() => this.#inflight.delete(key));
      this.#inflight.set(key, p);
    }
    return p;
  }

  async resolveTxt(name: string): Promise<string[][]> {
    return (await this.resolve(name, 'TXT')) as string[][];
  }

  async resolveMx(name: string): Promise<MxRecord[]> {
    return (await this.resolve(name, 'MX')) as MxRecord[];
  }

  async lookupAll(name: string): Promise<Array<{ address: string; family: number }>> {
    if (isIP(name)) return [{ address: name, family: isIP(name) }];
    const [a, aaaa] = await Promise.allSettled([this.resolve(name, 'A'), this.resolve(name, 'AAAA')]);
    const out: Array<{ address: string; family: number }> = [];
    if (a.status === 'fulfilled') for (const x of a.value as string[]) out.push({ address: x, family: 4 });
    if (aaaa.status === 'fulfilled') for (const x of aaaa.value as string[]) out.push({ address: x, family: 6 });
    if (out.length) return out;
    const err = a.status === 'rejected' ? a.reason : aaaa.status === 'rejected' ? aaaa.reason : new DnsError('ENODATA', name, 'A');
    throw err;
  }

  #store(key: string, entry: CacheEntry): void {
    if (entry.expires <= this.#now()) return;
    if (this.#cache.size >= this.#cacheSize) {
      const oldest = this.#cache.keys().next();
      if (!oldest.done) this.#cache.delete(oldest.value);
    }
    this.#cache.set(key, entry);
  }

  async #lookup(qname: string, type: RecordType, key: string): Promise<DnsAnswer> {
    const query = encodeQuery(qname, TYPE_CODES[type]);
    if (!query) {
      // A name that cannot be sent (empty label, label over 63 octets, non-ASCII) cannot exist.
      throw new DnsError('ENOTFOUND', qname, type);
    }
    let lastError = 'ETIMEOUT';
    for (let round = 0; round < this.#tries; round++) {
      for (const server of this.#servers) {
        let packet: Buffer;
        try {
          this.#queries++;
          packet = await udpExchange(server, query.packet, query.id, this.#timeoutMs);
          if (packet.length > 2 && (packet[2]! & 0x02) !== 0) packet = await tcpExchange(server, query.packet, query.id, this.#timeoutMs);
        } catch (e) {
          lastError = (e as { code?: string }).code === 'ETIMEOUT' ? 'ETIMEOUT' : 'ECONNREFUSED';
          continue;
        }
        const parsed = parseResponse(packet, query.id, TYPE_CODES[type]);
        if (parsed.kind === 'bad') {
          lastError = 'EBADRESP';
          continue;
        }
        if (parsed.kind === 'rcode') {
          if (parsed.rcode === 3) {
            this.#store(key, { expires: this.#now() + parsed.negativeTtl * 1000, error: 'ENOTFOUND' });
            throw new DnsError('ENOTFOUND', qname, type);
          }
          lastError = parsed.rcode === 5 ? 'EREFUSED' : 'ESERVFAIL';
          if (parsed.rcode === 2 || parsed.rcode === 5) continue; // another server may know
          throw new DnsError(lastError, qname, type);
        }
        const value = convert(type, parsed.records);
        if (!value.length) {
          this.#store(key, { expires: this.#now() + parsed.negativeTtl * 1000, error: 'ENODATA' });
          throw new DnsError('ENODATA', qname, type);
        }
        this.#store(key, { expires: this.#now() + parsed.ttl * 1000, value });
        return value;
      }
    }
    throw new DnsError(lastError, qname, type);
  }
}

function encodeQuery(name: string, qtype: number): { packet: Buffer; id: number } | null {
  const labels = name === '' ? [] : name.split('.');
  const parts: Buffer[] = [];
  let length = 1;
  for (const label of labels) {
    if (!label.length || label.length > 63 || !/^[\x21-\x7e]+$/.test(label)) return null;
    parts.push(Buffer.from([label.length]), Buffer.from(label, 'ascii'));
    length += label.length + 1;
  }
  if (length > 255) return null;
  const id = randomInt(0, 0x10000);
  const head = Buffer.alloc(12);
  head.writeUInt16BE(id, 0);
  head.writeUInt16BE(0x0100, 2); // RD
  head.writeUInt16BE(1, 4); // QDCOUNT
  head.writeUInt16BE(1, 10); // ARCOUNT: the OPT record
  const tail = Buffer.alloc(4 + 11);
  tail.writeUInt16BE(qtype, 0);
  tail.writeUInt16BE(1, 2); // IN
  // OPT: root name, TYPE 41, CLASS = UDP payload size, TTL 0, RDLEN 0
  tail.writeUInt8(0, 4);
  tail.writeUInt16BE(41, 5);
  tail.writeUInt16BE(EDNS_PAYLOAD, 7);
  return { packet: Buffer.concat([head, ...parts, Buffer.from([0]), tail]), id };
}

function timeoutError(): Error {
  return Object.assign(new Error('DNS query timed out'), { code: 'ETIMEOUT' });
}

function udpExchange(server: DnsServer, query: Buffer, id: number, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const sock = createSocket(isIP(server.host) === 6 ? 'udp6' : 'udp4');
    const timer = setTimeout(() => done(timeoutError()), timeoutMs);
    let settled = false;
    const done = (err: Error | null, msg?: Buffer): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.close();
      if (err) reject(err);
      else resolve(msg!);
    };
    sock.on('error', (e) => done(e));
    sock.on('message', (msg) => {
      // Answers to other ids (late, spoofed) are ignored; the timer still runs.
      if (msg.length >= 12 && msg.readUInt16BE(0) === id) done(null, msg);
    });
    sock.send(query, server.port, server.host, (e) => e && done(e));
  });
}

function tcpExchange(server: DnsServer, query: Buffer, id: number, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const sock = new Socket();
    const chunks: Buffer[] = [];
    let got = 0;
    let settled = false;
    const timer = setTimeout(() => done(timeoutError()), timeoutMs);
    const done = (err: Error | null, msg?: Buffer): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve(msg!);
    };
    sock.on('error', (e) => done(e));
    sock.on('close', () => done(Object.assign(new Error('DNS TCP connection closed'), { code: 'ECONNRESET' })));
    sock.on('data', (d: Buffer) => {
      chunks.push(d);
      got += d.length;
      if (got < 2) return;
      const all = Buffer.concat(chunks);
      const len = all.readUInt16BE(0);
      if (all.length < 2 + len) return;
      const msg = all.subarray(2, 2 + len);
      if (msg.length < 12 || msg.readUInt16BE(0) !== id) return done(Object.assign(new Error('bad DNS TCP answer'), { code: 'EBADRESP' }));
      done(null, msg);
    });
    sock.connect(server.port, server.host, () => {
      const len = Buffer.alloc(2);
      len.writeUInt16BE(query.length, 0);
      sock.write(Buffer.concat([len, query]));
    });
  });
}

interface RawRecord {
  type: number;
  ttl: number;
  data: Buffer;
  /** Offset of data within the packet (names in rdata may point back into it). */
  offset: number;
  packet: Buffer;
}

type Parsed =
  | { kind: 'bad' }
  | { kind: 'rcode'; rcode: number; negativeTtl: number }
  | { kind: 'ok'; records: RawRecord[]; ttl: number; negativeTtl: number };

/** Reads a possibly compressed name at `off`; returns it and the offset after it in place. */
function readName(buf: Buffer, off: number): { name: string; next: number } | null {
  const labels: string[] = [];
  let next = -1;
  let jumps = 0;
  for (;;) {
    if (off >= buf.length) return null;
    const len = buf[off]!;
    if (len === 0) {
      if (next < 0) next = off + 1;
      break;
    }
    if ((len & 0xc0) === 0xc0) {
      if (off + 1 >= buf.length || ++jumps > MAX_RDATA_NAMES) return null;
      if (next < 0) next = off + 2;
      off = ((len & 0x3f) << 8) | buf[off + 1]!;
      continue;
    }
    if (len > 63 || off + 1 + len > buf.length) return null;
    labels.push(buf.toString('latin1', off + 1, off + 1 + len));
    off += 1 + len;
  }
  return { name: labels.join('.'), next };
}

function parseResponse(buf: Buffer, id: number, qtype: number): Parsed {
  if (buf.length < 12 || buf.readUInt16BE(0) !== id || (buf[2]! & 0x80) === 0) return { kind: 'bad' };
  const rcode = buf[3]! & 0x0f;
  const qd = buf.readUInt16BE(4);
  const an = buf.readUInt16BE(6);
  const ns = buf.readUInt16BE(8);
  let off = 12;
  for (let i = 0; i < qd; i++) {
    const n = readName(buf, off);
    if (!n) return { kind: 'bad' };
    off = n.next + 4;
  }
  const answers: RawRecord[] = [];
  let negativeTtl = NEGATIVE_TTL_DEFAULT;
  for (let i = 0; i < an + ns; i++) {
    const n = readName(buf, off);
    if (!n || n.next + 10 > buf.length) return { kind: 'bad' };
    const type = buf.readUInt16BE(n.next);
    const ttl = buf.readUInt32BE(n.next + 4);
    const rdlen = buf.readUInt16BE(n.next + 8);
    const start = n.next + 10;
    if (start + rdlen > buf.length) return { kind: 'bad' };
    const rec: RawRecord = { type, ttl: Math.min(ttl, MAX_TTL), data: buf.subarray(start, start + rdlen), offset: start, packet: buf };
    if (i < an) answers.push(rec);
    else if (type === SOA) {
      // SOA rdata: mname, rname, then serial, refresh, retry, expire, minimum (RFC 2308 section 5).
      const m = readName(buf, start);
      const r = m && readName(buf, m.next);
      if (r && r.next + 20 <= start + rdlen) negativeTtl = Math.min(rec.ttl, buf.readUInt32BE(r.next + 16), MAX_TTL);
    }
    off = start + rdlen;
  }
  if (rcode !== 0) return { kind: 'rcode', rcode, negativeTtl };
  const used = answers.filter((r) => r.type === qtype || r.type === TYPE_CODES.CNAME);
  const records = answers.filter((r) => r.type === qtype);
  const ttl = used.length ? Math.min(...used.map((r) => r.ttl)) : 0;
  return { kind: 'ok', records, ttl, negativeTtl };
}

function formatIpv6(b: Buffer): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(b.readUInt16BE(i));
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i > 1) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

function convert(type: RecordType, records: RawRecord[]): DnsAnswer {
  switch (type) {
    case 'A':
      return records.filter((r) => r.data.length === 4).map((r) => [...r.data].join('.'));
    case 'AAAA':
      return records.filter((r) => r.data.length === 16).map((r) => formatIpv6(r.data));
    case 'TXT':
      return records.map((r) => {
        const strings: string[] = [];
        for (let o = 0; o < r.data.length; ) {
          const len = r.data[o]!;
          strings.push(r.data.toString('utf8', o + 1, Math.min(r.data.length, o + 1 + len)));
          o += 1 + len;
        }
        return strings;
      });
    case 'MX':
      return records.flatMap((r) => {
        const n = r.data.length >= 3 ? readName(r.packet, r.offset + 2) : null;
        return n ? [{ priority: r.data.readUInt16BE(0), exchange: n.name }] : [];
      });
    default:
      return records.flatMap((r) => {
        const n = readName(r.packet, r.offset);
        return n ? [n.name] : [];
      });
  }
}
