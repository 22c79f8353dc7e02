/**
 * The outbound queue: messages accepted by submission (and local retries and bounces) wait in the store's
 * persistent queue (store/queue.ts: enqueue ... remove), so they survive a restart.
 *
 * One pass (runOnce) takes every due message and, per recipient:
 * - local recipient: deliver() into the INBOX (temporary failure -> retry, permanent -> bounce);
 * - remote recipient: grouped by domain and sent over SMTP with nodemailer's SMTPConnection to the route for
 *   that domain (routes[domain], else the smart host, else the domain's MX hosts by priority, else the domain
 *   itself as implicit MX, RFC 5321 section 5.1). To routes and MX hosts STARTTLS is used when offered
 *   (opportunistic, unauthenticated, as usual between MTAs). The smart host is held to `smarthostTls`:
 *   'verify' (default) requires STARTTLS and a certificate valid for its name (system CAs plus
 *   `smarthostCa`), 'none' is opportunistic without checks. MX hosts (and implicit MX) whose addresses are
 *   private, loopback, link-local or otherwise not public are refused unless `allowInternal` is set; the
 *   connection goes to the address that was checked. A 2xx accepts the recipient; a 5xx fails it at once;
 *   a 4xx or a connection failure keeps it for a retry; a domain whose every MX host was refused fails
 *   (5.4.4).
 * - Local recipients reaching the same user share one copy (deliverEach).
 * Recipients still pending get attempts+1 and nextAttemptAt = now + retrySchedule[attempts] (the last entry
 * repeats). After maxAttempts the pending recipients fail. Failed recipients are reported to the envelope
 * sender in one RFC 3464 bounce (queued with the null sender, so bounces never bounce).
 *
 * One process runs the queue; passes never overlap within it, and within a pass up to `concurrency` messages
 * are handled at once.
 */
import { lookup as dnsLookup, resolveMx as dnsResolveMx } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import { rootCertificates } from 'node:tls';
import { hostname as osHostname } from 'node:os';
import type SMTPConnection from 'nodemailer/lib/smtp-connection';
import type { ServiceOptions } from '../auth/service.js';
import { silentLogger, type Logger } from '../lib/logger.js';
import { isStoreError, type OutboundMessage } from '../store/types.js';
import { parseAddress } from './address.js';
import type { DeliveryStage } from './pipeline.js';
import { deliverEach, type DeliveryStore, enhancedStatusFor, isPermanent, mapLimit, replyCodeFor, type RecipientEntry } from './deliver.js';
import { buildDsn, statusFromReply, type FailedRecipient } from './dsn.js';
import { AliasTable, resolveRecipient } from './resolve.js';

export interface Route {
  host: string;
  port: number;
}

/** A host to try, and what it is: the TLS policy and the address check depend on it. */
interface Hop extends Route {
  kind: 'route' | 'smarthost' | 'mx';
}

export interface OutboundOptions extends ServiceOptions {
  /** The queue it works through, and the directory and mail store for local recipients and bounces. */
  store: DeliveryStore;
  /** Send every remote message through this host instead of MX lookup. */
  smarthost?: Route | null;
  /** 'verify' (default): STARTTLS required and the smart host's certificate checked; 'none': opportunistic, unchecked. */
  smarthostTls?: 'verify' | 'none';
  /** Extra trusted CA certificate(s), PEM, for the smart host (besides the system CAs). */
  smarthostCa?: string | Buffer;
  /** Let direct MX delivery connect to private, loopback and link-local addresses (default false). */
  allowInternal?: boolean;
  /** Address lookup for MX hosts; defaults to node:dns/promises lookup (all addresses). Tests pass their own. */
  lookupHost?: (host: string) => Promise<Array<{ address: string; family: number }>>;
  /** MX lookup; defaults to node:dns/promises resolveMx. Tests pass their own. */
  resolveMx?: (domain: string) => Promise<Array<{ exchange: string; priority: number }>>;
  /** Per-domain routes (checked before the smart host and MX; trusted like the smart host's address, TLS opportunistic). */
  routes?: Record<string, Route>;
  /** Delay before attempt n+1 after attempt n failed (ms); the last entry repeats. */
  retrySchedule?: number[];
  /** Attempts before pending recipients fail for good. */
  maxAttempts?: number;
  /** Port for MX hosts (25). */
  port?: number;
  /** How often the started queue looks for due messages. */
  pollIntervalMs?: number;
  /** Connection and greeting timeout for remote hosts. */
  connectTimeoutMs?: number;
  /** Inactivity timeout on a remote SMTP session (RFC 5321 4.5.3.2 suggests minutes). */
  socketTimeoutMs?: number;
  /** Queued messages handled at once in a pass (a dead host's timeouts must not hold up the rest). Default 4. */
  concurrency?: number;
  /** Clock, for tests. */
  now?: () => Date;
  /** Per-user delivery stages (spam filter, Sieve) for local recipients; see pipeline.ts. */
  stages?: readonly DeliveryStage[];
  /** A local recipient over quota is retried (452 4.2.2) instead of bounced (552 5.2.2); see deliver.ts. */
  quotaFullTemporary?: boolean;
  /**
   * DKIM signing (mailauth/sign.ts): called once per attempt of a message that has remote recipients, just
   * before it is sent; returns the message to send. A failure leaves the message unsigned (logged).
   */
  sign?: (raw: Buffer, envelopeFrom: string) => Promise<Buffer>;
}

export interface OutboundQueue {
  /** Starts polling for due messages. */
  start(): void;
  /** Stops polling and waits for a running pass to finish. */
  stop(): Promise<void>;
  /** Runs one pass over every due message (including bounces it creates); passes never overlap. */
  runOnce(): Promise<void>;
  /** Asks a started queue for a pass soon (after something was queued). No-op when stopped. */
  kick(): void;
}

/** 1 min, 5 min, 15 min, 30 min, 1 h, 2 h, 4 h, then every 8 h. */
export const DEFAULT_RETRY_SCHEDULE = [60_000, 300_000, 900_000, 1_800_000, 3_600_000, 7_200_000, 14_400_000, 28_800_000];
/** With the default schedule, about four days (RFC 5321 4.5.4.1: give up after at least 4-5 days). */
export const DEFAULT_MAX_ATTEMPTS = 19;

type RecipientOutcome =
  | { rcpt: string; kind: 'sent' }
  | { rcpt: string; kind: 'temp'; reply: string }
  | { rcpt: string; kind: 'perm'; reply: string; status: string; remoteMta?: string };

export function createOutboundQueue(opts: OutboundOptions): OutboundQueue {
  return new Queue(opts);
}

class Queue implements OutboundQueue {
  readonly #store: DeliveryStore;
  readonly #stages: readonly DeliveryStage[];
  readonly #quotaFullTemporary: boolean;
  readonly #log: Logger;
  readonly #opts: OutboundOptions;
  readonly #hostname: string;
  readonly #schedule: number[];
  readonly #maxAttempts: number;
  readonly #now: () => Date;
  #chain: Promise<void> = Promise.resolve();
  #timer: NodeJS.Timeout | null = null;
  #kickPending = false;
  #started = false;

  constructor(opts: OutboundOptions) {
    this.#opts = opts;
    this.#store = opts.store;
    this.#stages = opts.stages ?? [];
    this.#quotaFullTemporary = opts.quotaFullTemporary ?? false;
    this.#log = (opts.logger ?? silentLogger).child({ component: 'outbound' });
    this.#hostname = opts.hostname ?? osHostname();
    this.#schedule = opts.retrySchedule?.length ? opts.retrySchedule : DEFAULT_RETRY_SCHEDULE;
    this.#maxAttempts = Math.max(1, opts.maxAttempts ?? DEFAULT_MAX_ATTEMPTS);
    this.#now = opts.now ?? (() => new Date());
  }

  start(): void {
    if (this.#started) return;
    this.#started = true;
    const every = this.#opts.pollIntervalMs ?? 10_000;
    this.#timer = setInterval(() => this.kick(), every);
    this.#timer.unref();
    this.kick();
  }

  async stop(): Promise<void> {
    this.#started = false;
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    await this.#chain;
  }

  kick(): void {
    if (!this.#started || this.#kickPending) return;
    this.#kickPending = true;
    setImmediate(() => {
      this.#kickPending = false;
      if (!this.#started) return;
      this.runOnce().catch((e: unknown) => this.#log.error({ err: String(e) }, 'queue pass failed'));
    });
  }

  runOnce(): Promise<void> {
    const next = this.#chain.then(() => this.#pass());
    this.#chain = next.catch(() => undefined);
    return next;
  }

  async #pass(): Promise<void> {
    const seen = new Set<string>();
    for (;;) {
      const due = (await this.#store.queue.due(this.#now(), 50)).filter((m) => !seen.has(m.id));
      if (!due.length) return;
      for (const m of due) seen.add(m.id);
      await mapLimit(due, Math.max(1, this.#opts.concurrency ?? 4), (m) =>
        this.#process(m).catch((e: unknown) => this.#log.error({ err: String(e), id: m.id }, 'queue item failed')),
      );
    }
  }

  async #process(m: OutboundMessage): Promise<void> {
    let raw: Buffer;
    try {
      raw = await this.#store.queue.read(m.id);
    } catch (e) {
      if (isStoreError(e, 'NOT_FOUND')) return;
      throw e;
    }
    const aliases = await AliasTable.load(this.#store.directory);
    const outcomes: RecipientOutcome[] = [];
    const remote = new Map<string, string[]>();
    const local: RecipientEntry[] = [];
    for (const rcpt of m.recipients) {
      const r = await resolveRecipient(this.#store.directory, rcpt, aliases);
      if (r.kind === 'local') {
        local.push({ address: rcpt, resolution: r });
        continue;
      }
      if (r.kind === 'remote') {
        const list = remote.get(r.domain) ?? [];
        list.push(rcpt);
        remote.set(r.domain, list);
        continue;
      }
      outcomes.push({ rcpt, kind: 'perm', reply: r.kind === 'invalid' ? '553 5.1.3 Bad recipient address syntax' : '550 5.1.1 No such user here', status: r.kind === 'invalid' ? '5.1.3' : '5.1.1' });
    }
    const delivered = await deliverEach(this.#store, local, raw, { envelopeFrom: m.sender, aliases, logger: this.#log, stages: this.#stages, quotaFullTemporary: this.#quotaFullTemporary, transport: 'queue' });
    for (const [i, { address: rcpt }] of local.entries()) {
      const d = delivered[i]!;
      if (d.ok) outcomes.push({ rcpt, kind: 'sent' });
      else if (isPermanent(d.code)) outcomes.push({ rcpt, kind: 'perm', reply: `${replyCodeFor(d.code)} ${d.message}`, status: enhancedStatusFor(d.code) });
      else outcomes.push({ rcpt, kind: 'temp', reply: `${replyCodeFor(d.code)} ${d.message}` });
    }
    const outgoing = remote.size ? await this.#signed(m, raw) : raw;
    for (const [domain, rcpts] of remote) outcomes.push(...(await this.#sendDomain(domain, rcpts, m.sender, outgoing)));

    const attempts = m.attempts + 1;
    const pending = outcomes.filter((o): o is Extract<RecipientOutcome, { kind: 'temp' }> => o.kind === 'temp');
    const failed: FailedRecipient[] = [];
    for (const o of outcomes) {
      if (o.kind !== 'perm') continue;
      const f: FailedRecipient = { recipient: o.rcpt, status: o.status, diagnostic: o.reply };
      if (o.remoteMta) f.remoteMta = o.remoteMta;
      failed.push(f);
    }
    const lastError = pending.length ? pending.map((p) => `${p.rcpt}: ${p.reply}`).join('; ') : null;
    const giveUp = pending.length > 0 && attempts >= this.#maxAttempts;
    if (giveUp) {
      for (const p of pending) failed.push({ recipient: p.rcpt, status: statusFromReply(p.reply, false), diagnostic: `${p.reply} (gave up after ${attempts} attempts)` });
    }
    for (const o of outcomes) this.#log.info({ id: m.id, rcpt: o.rcpt, outcome: o.kind, attempt: attempts, ...(o.kind !== 'sent' ? { reply: o.reply } : {}) }, 'delivery attempt');

    if (failed.length) await this.#bounce(m, raw, failed);
    if (!pending.length || giveUp) {
      await this.#store.queue.remove(m.id);
      return;
    }
    const delay = this.#schedule[Math.min(attempts - 1, this.#schedule.length - 1)]!;
    await this.#store.queue.update(m.id, {
      recipients: pending.map((p) => p.rcpt),
      attempts,
      nextAttemptAt: new Date(this.#now().getTime() + delay),
      lastError,
    });
  }

  /** The message as it leaves: DKIM-signed when a signer is configured and the sender's domain has keys. */
  async #signed(m: OutboundMessage, raw: Buffer): Promise<Buffer> {
    if (!this.#opts.sign) return raw;
    try {
      return await this.#opts.sign(raw, m.sender);
    } catch (e) {
      this.#log.error({ id: m.id, err: e instanceof Error ? e.message : String(e) }, 'DKIM signing failed; sending unsigned');
      return raw;
    }
  }

  async #bounce(m: OutboundMessage, raw: Buffer, failed: FailedRecipient[]): Promise<void> {
    if (!m.sender) {
      this.#log.warn({ id: m.id, failed: failed.map((f) => f.recipient) }, 'undeliverable bounce dropped');
      return;
    }
    const dsn = buildDsn({ reportingMta: this.#hostname, to: m.sender, originalEnvelopeFrom: m.sender, arrivalDate: m.createdAt, failed, original: raw, date: this.#now() });
    await this.#store.queue.enqueue('', [m.sender], dsn);
  }

  /** Where mail for `domain` goes, in order of preference; a RecipientOutcome reply when it cannot go anywhere. */
  async #routesFor(domain: string): Promise<Hop[] | { kind: 'temp' | 'perm'; reply: string; status?: string }> {
    const route = this.#opts.routes?.[domain];
    if (route) return [{ ...route, kind: 'route' }];
    if (this.#opts.smarthost) return [{ ...this.#opts.smarthost, kind: 'smarthost' }];
    const port = this.#opts.port ?? 25;
    const lookup = this.#opts.resolveMx ?? dnsResolveMx;
    let mx: Array<{ exchange: string; priority: number }>;
    try {
      mx = await lookup(domain);
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (code === 'ENODATA') return [{ host: domain, port, kind: 'mx' }]; // no MX: the domain itself is the implicit MX
      if (code === 'ENOTFOUND') return { kind: 'perm', reply: `550 5.1.2 Domain ${domain} not found`, status: '5.1.2' };
      return { kind: 'temp', reply: `451 4.4.3 MX lookup for ${domain} failed: ${code ?? String(e)}` };
    }
    if (!mx.length) return [{ host: domain, port, kind: 'mx' }];
    if (mx.length === 1 && (mx[0]!.exchange === '' || mx[0]!.exchange === '.')) {
      return { kind: 'perm', reply: `556 5.1.10 Domain ${domain} accepts no mail (null MX)`, status: '5.1.10' }; // RFC 7505
    }
    return [...mx].sort((a, b) => a.priority - b.priority).map((r) => ({ host: r.exchange.replace(/\.$/, ''), port, kind: 'mx' as const }));
  }

  async #sendDomain(domain: string, rcpts: string[], sender: string, raw: Buffer): Promise<RecipientOutcome[]> {
    const routes = await this.#routesFor(domain);
    if (!Array.isArray(routes)) {
      return rcpts.map((rcpt) =>
        routes.kind === 'perm' ? { rcpt, kind: 'perm' as const, reply: routes.reply, status: routes.status ?? '5.0.0' } : { rcpt, kind: 'temp' as const, reply: routes.reply },
      );
    }
    let lastError = '451 4.4.1 No host to try';
    let refused = 0;
    for (const route of routes) {
      let target: Hop & { servername?: string } = route;
      if (route.kind === 'mx') {
        const checked = await this.#publicAddress(route.host);
        if ('error' in checked) {
          lastError = `451 4.4.1 ${route.host}: ${checked.error}`;
          if (checked.internal) refused++;
          continue;
        }
        target = { ...route, host: checked.address, ...(isIP(route.host) ? {} : { servername: route.host }) };
      }
      const res = await this.#sendVia(target, rcpts, sender, raw);
      if (res.kind === 'connect-failed') {
        lastError = `451 4.4.1 ${route.host}:${route.port}: ${res.error}`;
        continue;
      }
      return res.outcomes;
    }
    if (refused === routes.length) {
      const reply = `550 5.4.4 ${domain}: its mail hosts have only internal addresses, which are not delivered to`;
      return rcpts.map((rcpt) => ({ rcpt, kind: 'perm' as const, reply, status: '5.4.4' }));
    }
    return rcpts.map((rcpt) => ({ rcpt, kind: 'temp' as const, reply: lastError }));
  }

  /**
   * The first address of an MX host that may be connected to: any address when `allowInternal` is set, else
   * only public ones (a host with an internal address is refused, so that DNS cannot point the queue at
   * internal services).
   */
  async #publicAddress(host: string): Promise<{ address: string } | { error: string; internal: boolean }> {
    let addrs: Array<{ address: string; family: number }>;
    try {
      addrs = isIP(host) ? [{ address: host, family: isIP(host) }] : await (this.#opts.lookupHost ?? ((h) => dnsLookup(h, { all: true })))(host);
    } catch (e) {
      return { error: `address lookup failed: ${(e as { code?: string }).code ?? String(e)}`, internal: false };
    }
    if (!addrs.length) return { error: 'no address', internal: false };
    if (this.#opts.allowInternal) return { address: addrs[0]!.address };
    const internal = addrs.find((a) => isInternalAddress(a.address));
    if (internal) return { error: `refused: internal address ${internal.address} (queue-allow-internal is off)`, internal: true };
    return { address: addrs[0]!.address };
  }

  async #sendVia(route: Hop & { servername?: string }, rcpts: string[], sender: string, raw: Buffer): Promise<{ kind: 'connect-failed'; error: string } | { kind: 'done'; outcomes: RecipientOutcome[] }> {
    const SMTPConnection = await smtpConnection();
    const timeout = this.#opts.connectTimeoutMs ?? 30_000;
    const verify = route.kind === 'smarthost' && (this.#opts.smarthostTls ?? 'verify') === 'verify';
    const ca = this.#opts.smarthostCa;
    const conn = new SMTPConnection({
      host: route.host,
      port: route.port,
      ...(route.servername ? { servername: route.servername } : {}),
      name: this.#hostname,
      secure: false,
      opportunisticTLS: true,
      requireTLS: verify,
      tls: verify ? { rejectUnauthorized: true, ...(ca ? { ca: [...rootCertificates, ca.toString()] } : {}) } : { rejectUnauthorized: false },
      connectionTimeout: timeout,
      greetingTimeout: timeout,
      socketTimeout: this.#opts.socketTimeoutMs ?? 5 * 60_000,
      logger: false,
      allowInternalNetworkInterfaces: true,
    });
    const remoteMta = route.host;
    return new Promise((resolve) => {
      let settled = false;
      let connected = false;
      const finish = (v: { kind: 'connect-failed'; error: string } | { kind: 'done'; outcomes: RecipientOutcome[] }) => {
        if (settled) return;
        settled = true;
        if (connected) conn.quit();
        else conn.close();
        resolve(v);
      };
      const perRecipient = (rcpt: string, reply: string, code: number | undefined): RecipientOutcome =>
        code !== undefined && code >= 500
          ? { rcpt, kind: 'perm', reply, status: statusFromReply(reply, true), remoteMta }
          : { rcpt, kind: 'temp', reply: reply || '451 4.4.2 Connection lost' };
      conn.on('error', (err) => {
        if (!connected) finish({ kind: 'connect-failed', error: err.message });
        else finish({ kind: 'done', outcomes: rcpts.map((rcpt) => ({ rcpt, kind: 'temp' as const, reply: `451 4.4.2 ${remoteMta}: ${err.message}` })) });
      });
      conn.connect((err) => {
        if (err) return finish({ kind: 'connect-failed', error: err.message });
        connected = true;
        const eightBit = raw.some((b) => b >= 0x80);
        const from = parseAddress(sender) ? sender : '';
        conn.send({ from, to: rcpts, size: raw.length, use8BitMime: eightBit }, raw, (sendErr, info) => {
          const rejectedErrors = sendErr ? (sendErr.rejectedErrors ?? []) : (info?.rejectedErrors ?? []);
          const byRcpt = new Map(rejectedErrors.map((e) => [(e.recipient ?? '').toLowerCase(), e]));
          const outcomes = rcpts.map((rcpt): RecipientOutcome => {
            const rej = byRcpt.get(rcpt.toLowerCase());
            if (rej) return perRecipient(rcpt, (rej.response ?? rej.message).trim(), rej.responseCode);
            if (sendErr) {
              if (sendErr.responseCode === undefined) return { rcpt, kind: 'temp', reply: `451 4.4.2 ${remoteMta}: ${sendErr.message}` };
              return perRecipient(rcpt, (sendErr.response ?? sendErr.message).trim(), sendErr.responseCode);
            }
            return { rcpt, kind: 'sent' };
          });
          finish({ kind: 'done', outcomes });
        });
      });
    });
  }
}

let smtpConnectionModule: Promise<typeof SMTPConnection> | null = null;

/**
 * nodemailer's SMTP client, loaded when the first message leaves for a remote host: every server process
 * creates a queue, and most never send (about 1.5 MB of heap each otherwise).
 */
function smtpConnection(): Promise<typeof SMTPConnection> {
  return (smtpConnectionModule ??= import('nodemailer/lib/smtp-connection').then((m) => m.default));
}

/** Addresses that are not on the public internet (RFC 6890 special-purpose, private, loopback, link-local, multicast). */
const INTERNAL = (() => {
  const b = new BlockList();
  for (const [net, bits] of [
    ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
    ['192.0.0.0', 24], ['192.0.2.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['198.51.100.0', 24], ['203.0.113.0', 24], ['224.0.0.0', 3],
  ] as const) b.addSubnet(net, bits, 'ipv4');
  for (const [net, bits] of [['::', 127], ['fc00::', 7], ['fe80::', 10], ['ff00::', 8], ['2001:db8::', 32], ['64:ff9b:1::', 48]] as const) b.addSubnet(net, bits, 'ipv6');
  return b;
})();

/** True for an address queue delivery must not reach unless allowed (IPv4-mapped IPv6 is checked as IPv4). */
export function isInternalAddress(address: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return INTERNAL.check(mapped[1]!, 'ipv4');
  const family = isIP(address);
  if (family === 0) return true;
  return INTERNAL.check(address, family === 4 ? 'ipv4' : 'ipv6');
}
