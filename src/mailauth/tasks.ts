/**
 * The tasks a check-pool thread runs (pool.ts), each the very function the in-process path calls:
 * - auth: the SignatureReport of a message (inbound.ts checkSignatures: DKIM and ARC verification, From
 *   addresses, our forged Authentication-Results fields), with a resolver made from the MX resolver's
 *   settings (its own cache) and a DKIM key cache, both kept per settings for the thread's life; with
 *   `tokens`, also the spam tokenizer's parts of the message without those forged fields (what the MX
 *   delivers below its own fields: spam/pretokens.ts), and with `ids` the same as ids (spam/token-ids.ts);
 * - inbound: all of the MX's checks of a message (inbound.ts checkInbound: the signatures as in auth, SPF and
 *   DMARC through SPF and DMARC result caches kept per resolver settings and host name for the thread's
 *   life), with the offsets of our forged fields and the spam tokens as in auth (with `ids`, also the ids of
 *   the tokens of our Authentication-Results value);
 * - tokens: the spam tokenizer's octet-only tokens (spam/tokenize.ts tokenParts);
 * - tokenIds: the same as ids (tokenIdParts), two small typed arrays;
 * - cpu: the thread's CPU time so far in ms (Linux /proc/thread-self; null elsewhere), for benches;
 * - exit: ends the thread at once (for tests of a crashing thread).
 * Payloads and results are plain data. Message octets go as a copy (structured clone) when small, where
 * that costs less than handing over an ArrayBuffer, else as an ArrayBuffer handed over without a copy.
 * Token lists come back as one string (cheaper to clone than hundreds).
 */
import { readFileSync } from 'node:fs';
import { createResolver, type DnsResolver, type ResolverSettings } from '../lib/dns.js';
import { authTokenList, tokenIdParts, tokenIdPartsOf, tokenParts, type TokenParts } from '../spam/tokenize.js';
import { tokenIdList, type TokenIdList, type TokenIdParts } from '../spam/token-ids.js';
import { removeSpans } from './headers.js';
import type { InboundSession, InboundVerdict, ResultCache, SignatureReport, SpfCache } from './inbound.js';
import type { DMARCResult } from 'mailauth';
import { DkimKeyCache } from './verify.js';

/** Octets of a message as they travel to a thread. */
export type Octets = Uint8Array | ArrayBuffer;

/** TokenParts with each list as one string when no token holds the separator. */
export interface PackedParts {
  head: string | string[];
  body: string | string[];
  failed: TokenParts['failed'];
}

/**
 * The MX resolver's settings as a task carries them: the object, or its JSON text (dnsSettingsText), which
 * costs the event loop less to send and the thread nothing to turn into its cache key, message after message.
 */
export type DnsSettings = ResolverSettings | string;

/** The JSON text of resolver settings, for tasks (made once per MX, not per message). */
export function dnsSettingsText(settings: ResolverSettings): string {
  return JSON.stringify(settings);
}

export interface Tasks {
  auth: {
    payload: { bytes: Octets; hostname: string; dns: DnsSettings; tokens: boolean; ids?: boolean };
    result: SignatureReport & { parts?: PackedParts; ids?: TokenIdParts };
  };
  inbound: {
    payload: { bytes: Octets; hostname: string; dns: DnsSettings; session: InboundSession; tokens: boolean; ids?: boolean };
    result: { verdict: InboundVerdict; own: Array<[number, number]>; parts?: PackedParts; ids?: TokenIdParts; authIds?: TokenIdList };
  };
  tokens: { payload: { bytes: Octets }; result: PackedParts };
  tokenIds: { payload: { bytes: Octets }; result: TokenIdParts };
  cpu: { payload: Record<string, never>; result: number | null };
  exit: { payload: { code: number }; result: never };
}

export type TaskKind = keyof Tasks;
export type TaskPayload<K extends TaskKind> = Tasks[K]['payload'];
export type TaskResult<K extends TaskKind> = Tasks[K]['result'];

/** Messages up to this size go as a copy; bigger ones as an ArrayBuffer handed over. */
const CLONE_MAX = 64 * 1024;

/** `raw` as it travels to a thread, and what to hand over. The message stays usable here. */
export function octets(raw: Buffer): { bytes: Octets; transfer: ArrayBuffer[] } {
  // A copy of its own: a view is cloned with its whole ArrayBuffer (a Buffer's may be an 8 KB pool or more).
  if (raw.length <= CLONE_MAX) return { bytes: new Uint8Array(raw), transfer: [] };
  const ab = new ArrayBuffer(raw.length);
  new Uint8Array(ab).set(raw);
  return { bytes: ab, transfer: [ab] };
}

const SEP = '\n';

function pack(list: string[]): string | string[] {
  for (const t of list) if (t.includes(SEP)) return list;
  return list.join(SEP);
}

function unpack(v: string | string[]): string[] {
  if (typeof v !== 'string') return v;
  return v === '' ? [] : v.split(SEP);
}

function asBuffer(b: Octets): Buffer {
  const u = b instanceof ArrayBuffer ? new Uint8Array(b) : b;
  return Buffer.from(u.buffer, u.byteOffset, u.byteLength);
}

export function packParts(p: TokenParts): PackedParts {
  return { head: pack(p.head), body: pack(p.body), failed: p.failed };
}

export function unpackParts(p: PackedParts): TokenParts {
  return { head: unpack(p.head), body: unpack(p.body), failed: p.failed };
}

/** What this thread keeps for the checks of one resolver's settings: the resolver, DKIM keys, SPF and DMARC results. */
interface Checking {
  resolver: DnsResolver;
  keys: DkimKeyCache;
  spf?: SpfCache;
  dmarc?: ResultCache<DMARCResult>;
}

/** Resolvers and caches of this thread, by resolver settings (and our host name for the result caches). */
const resolvers = new Map<string, Checking>();

function resolverFor(settings: DnsSettings, hostname = ''): Checking {
  const text = typeof settings === 'string' ? settings : dnsSettingsText(settings);
  const id = `${hostname} ${text}`;
  let r = resolvers.get(id);
  if (!r) {
    r = { resolver: createResolver(typeof settings === 'string' ? (JSON.parse(text) as ResolverSettings) : settings), keys: new DkimKeyCache() };
    resolvers.set(id, r);
  }
  return r;
}

/** inbound.ts, loaded on a thread's first auth task only (the mailauth package's SPF and DMARC code is large). */
let inbound: Promise<typeof import('./inbound.js')> | null = null;

/** Spam tokens of a message in the forms a task asks for. */
type Ahead = { parts?: PackedParts; ids?: TokenIdParts };

/** The spam tokens of the message as delivered below the MX's fields (without `own`), in the forms asked for. */
function aheadTokens(raw: Buffer, own: SignatureReport['own'], p: { tokens: boolean; ids?: boolean }): Ahead {
  if (!p.tokens && !p.ids) return {};
  const below = removeSpans(raw, own).raw;
  if (!p.tokens) return { ids: tokenIdPartsOf(below) };
  const parts = tokenParts(below);
  return { ...(p.tokens ? { parts: packParts(parts) } : {}), ...(p.ids ? { ids: tokenIdParts(parts) } : {}) };
}

/** A task as a thread receives it. */
export interface TaskMessage {
  kind: TaskKind;
  payload: unknown;
}

/**
 * Runs the tasks of one batch (what one message brought): the spam tokens of all of them first, one message
 * after another, then the checks. Interleaved with the checks (message by message, at every await) the
 * tokenizer cost about twice its CPU time: neither kept its code and data in the caches. Tokens are made of
 * the message as received; the few messages that carry Authentication-Results fields claiming our
 * authserv-id (which the MX removes) are tokenized again without them once the checks found them (the
 * tokenizer skips those fields, but they count against its header limit).
 */
export function runBatch(tasks: readonly TaskMessage[]): Array<Promise<unknown>> {
  const early = tasks.map((t): Ahead | undefined => {
    if (t.kind !== 'inbound' && t.kind !== 'auth') return undefined;
    const p = t.payload as TaskPayload<'inbound' | 'auth'>;
    try {
      return p.tokens || p.ids ? aheadTokens(asBuffer(p.bytes), [], p) : undefined;
    } catch {
      return undefined; // made again by the task itself
    }
  });
  return tasks.map((t, i) => runTask(t.kind, t.payload, early[i]));
}

/** `early`: the spam tokens of the message as received, made ahead (runBatch); used when the checks removed nothing. */
export async function runTask(kind: TaskKind, payload: unknown, early?: Ahead): Promise<unknown> {
  switch (kind) {
    case 'auth': {
      const p = payload as TaskPayload<'auth'>;
      const raw = asBuffer(p.bytes);
      const { resolver, keys } = resolverFor(p.dns);
      inbound ??= import('./inbound.js');
      const report = await (await inbound).checkSignatures(raw, p.hostname, resolver, keys);
      return { ...report, ...(early && !report.own.length ? early : aheadTokens(raw, report.own, p)) };
    }
    case 'inbound': {
      const p = payload as TaskPayload<'inbound'>;
      const raw = asBuffer(p.bytes);
      const c = resolverFor(p.dns, p.hostname);
      const m = await (inbound ??= import('./inbound.js'));
      c.spf ??= new m.SpfCache();
      c.dmarc ??= new m.ResultCache<DMARCResult>();
      const report = m.checkSignatures(raw, p.hostname, c.resolver, c.keys);
      const verdict = await m.checkInbound(raw, p.session, { hostname: p.hostname, resolver: c.resolver, keys: c.keys, spfCache: c.spf, dmarcCache: c.dmarc, signatures: report });
      const { own } = await report;
      const tokens = early && !own.length ? early : aheadTokens(raw, own, p);
      return { verdict, own, ...tokens, ...(p.ids ? { authIds: tokenIdList(authTokenList(verdict.authResults)) } : {}) };
    }
    case 'tokens':
      return packParts(tokenParts(asBuffer((payload as TaskPayload<'tokens'>).bytes)));
    case 'tokenIds':
      return tokenIdPartsOf(asBuffer((payload as TaskPayload<'tokenIds'>).bytes));
    case 'cpu':
      return threadCpu();
    case 'exit':
      process.exit((payload as TaskPayload<'exit'>).code);
  }
  throw new Error(`unknown task ${String(kind)}`);
}

/** User + system CPU time of the calling thread in ms (clock ticks of 10 ms), or null where unknown. */
function threadCpu(): number | null {
  try {
    const stat = readFileSync('/proc/thread-self/stat', 'latin1');
    const f = stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) * 10;
  } catch {
    return null;
  }
}
