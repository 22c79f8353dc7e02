/**
 * Mailroom: one running server, wired from the layers below. Used by `mailroom serve` and by any Node
 * program (our own end-to-end tests included) that wants a real server in-process:
 *
 *   const m = createMailroom({ ports: { imap: 0, pop3: 0 } });   // temp data dir, free ports
 *   await m.start();
 *   await m.addUser('alice@example.org', 'secret');
 *   m.ports.imap;  // bound port
 *   await m.stop();
 *
 * Listeners absent from `ports` are off in the library (serve passes every port explicitly). 0 picks a free port.
 * LMTP listens on `lmtpHost` (default 127.0.0.1), not on `host`: it takes mail without authentication.
 * Every TLS listener uses TLS_PROFILE (lib/service.ts); reloadTls() swaps in a renewed certificate.
 */
import { mkdtemp, mkdir, rm } from 'node:fs/promises';
import { tmpdir, hostname as osHostname } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { Store } from '../store/handle.js';
import type { User } from '../store/types.js';
import { openServerStore } from './store.js';
import { Authenticator, type AuthenticatorOptions } from '../auth/index.js';
import type { ServiceOptions } from '../auth/service.js';
import { silentLogger, type Logger } from '../lib/logger.js';
import { withTlsProfile, type NetService, type TlsMaterial } from '../lib/service.js';
import type { ImapServiceOptions } from '../imap-server/index.js';
import type { Pop3ServiceOptions } from '../pop3-server/index.js';
import type { OutboundOptions, OutboundQueue, DeliveryServiceOptions } from '../delivery/index.js';
import type { HttpServiceOptions } from '../http/server.js';
import { ensureSelfSigned, loadTlsFiles } from './tls.js';
import { buildStages } from './stages.js';
import type { SieveSettings } from '../sieve/stage.js';
import type { SpamSettings } from '../spam/index.js';
import type { DeliveryStage } from '../delivery/pipeline.js';
import { sqliteFiles, tightenModes } from '../lib/private-files.js';
import type { WorkerHooks } from './cluster-worker.js';
import { LISTENERS, type ListenerName } from './listeners.js';
import { createUserWithDomain } from './users.js';

export { LISTENERS, DEFAULT_PORTS, type ListenerName } from './listeners.js';
export { createUserWithDomain, isValidAddress } from './users.js';

const IMPLICIT_TLS: Record<ListenerName, boolean> = {
  imap: false,
  imaps: true,
  pop3: false,
  pop3s: true,
  lmtp: false,
  smtp: false,
  submission: false,
  submissions: true,
  http: false,
  https: true,
  managesieve: false,
};

type Extra<T> = Partial<Omit<T, keyof ServiceOptions>>;

export interface MailroomOptions {
  /** Data directory for the SQLite store, blobs and the generated certificate. Default: a temporary directory removed at stop(). */
  dataDir?: string;
  /** Store URL (postgres://...) instead of SQLite in dataDir. */
  storeUrl?: string;
  /** Address to listen on; default 127.0.0.1. */
  host?: string;
  /** Address the LMTP listener binds (it accepts mail without authentication); default 127.0.0.1, whatever `host` is. */
  lmtpHost?: string;
  /** Which listeners run and on which port (0 = free port, 'off' or absent = not started). */
  ports?: Partial<Record<ListenerName, number | 'off'>>;
  /** TLS material, or certificate/key files; default: a self-signed certificate kept in <dataDir>/tls. */
  tls?: TlsMaterial | { certFile: string; keyFile: string };
  /** Name used in greetings and trace headers. */
  hostname?: string;
  logger?: Logger;
  auth?: AuthenticatorOptions;
  imap?: Extra<ImapServiceOptions>;
  pop3?: Extra<Pop3ServiceOptions>;
  delivery?: Extra<DeliveryServiceOptions>;
  outbound?: Extra<OutboundOptions>;
  /** Sieve: global scripts around the users' (sieve-before, sieve-after, sieve-global) and script quotas. */
  sieve?: SieveSettings;
  /** Extra per-user delivery stages, run after the built-in ones (see server/stages.ts). */
  stages?: readonly DeliveryStage[];
  /** HTTP listener options: origins allowed by CORS (config `cors-origins`), plugins instead of the default list (tests). */
  http?: { corsOrigins?: readonly string[]; plugins?: HttpServiceOptions['plugins']; sendDelaySec?: number };
  /** Operator limits (serve's config keys), handed to every service; the imap/pop3/delivery options above win. */
  limits?: MailroomLimits;
  /** Quotas (config keys quota-storage, quota-messages, quota-full-temporary; store/quota.ts). */
  quota?: MailroomQuota;
  /** Spam filter settings (src/spam/filter.ts SpamSettings): threshold, minimum training, rspamd; on by default. */
  spam?: Partial<SpamSettings>;
  /**
   * Mail authentication (src/mailauth/). The outbound queue always DKIM-signs mail of domains that have keys.
   * `checks`: SPF/DKIM/DMARC/ARC on the SMTP MX (default off for library use; `serve` turns it on).
   * `dnsServers` ("HOST:PORT"): every DNS look-up (checks, MX look-ups of the queue) goes there instead of
   * the system's resolver.
   */
  mailAuth?: { checks?: boolean; dnsServers?: readonly string[] };
  /** Set in each worker of `serve --workers N`: the link to the other workers (server/cluster-worker.ts). */
  cluster?: WorkerHooks;
}

/** Limits an operator sets; each absent one keeps the service default from lib/limits.ts. */
/** Default quotas of users without their own, and how delivery answers over quota. */
export interface MailroomQuota {
  /** Octets per user; absent or null: no limit. */
  storage?: number | null;
  /** Messages per user; absent or null: no limit. */
  messages?: number | null;
  /** Over quota, LMTP/SMTP/submission answer 452 4.2.2 (try again) instead of 552 5.2.2. */
  fullTemporary?: boolean;
}

export interface MailroomLimits {
  /** Concurrent connections per remote address on each listener (loopback is never counted). */
  maxConnectionsPerIp?: number;
  /** Concurrent IMAP sessions per user. */
  maxConnectionsPerUser?: number;
  /** Longest IMAP command line without literals. */
  imapMaxLine?: number;
  /** Largest message or literal: IMAP APPENDLIMIT and the SMTP/LMTP/submission SIZE. */
  maxMessageSize?: number;
  /** Recipients per SMTP/LMTP/submission transaction. */
  smtpMaxRecipients?: number;
  /** IMAP autologout in ms (RFC 9051 5.4: at least 30 minutes). */
  imapIdleTimeoutMs?: number;
  /** POP3 autologout in ms (RFC 1939 section 3: at least 10 minutes). */
  pop3IdleTimeoutMs?: number;
}

type Defined<T> = { [K in keyof T]: Exclude<T[K], undefined> };

/** The entries of `o` that are set (exactOptionalPropertyTypes: absent keys stay absent). */
function defined<T extends object>(o: T): Partial<Defined<T>> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<Defined<T>>;
}

/** Per-service options for the operator limits. */
export function limitOptions(l: MailroomLimits = {}): {
  imap: Extra<ImapServiceOptions>;
  pop3: Extra<Pop3ServiceOptions>;
  delivery: Extra<DeliveryServiceOptions>;
} {
  return {
    imap: defined({
      maxConnectionsPerIp: l.maxConnectionsPerIp,
      maxConnectionsPerUser: l.maxConnectionsPerUser,
      maxLineLength: l.imapMaxLine,
      appendLimit: l.maxMessageSize,
      idleTimeoutMs: l.imapIdleTimeoutMs,
    }),
    pop3: defined({ maxConnectionsPerIp: l.maxConnectionsPerIp, idleTimeoutMs: l.pop3IdleTimeoutMs }),
    delivery: defined({ maxConnectionsPerIp: l.maxConnectionsPerIp, maxMessageSize: l.maxMessageSize, maxRecipients: l.smtpMaxRecipients }),
  };
}

export interface ListenerInfo {
  name: ListenerName;
  host: string;
  port: number;
  tls: 'implicit' | 'starttls' | 'none';
}

export class Mailroom {
  readonly #opts: MailroomOptions;
  #store: Store | null = null;
  #auth: Authenticator | null = null;
  #services: Array<{ name: ListenerName; service: NetService }> = [];
  #queue: OutboundQueue | null = null;
  #tempDir: string | null = null;
  #listeners: ListenerInfo[] = [];
  #tlsFiles: { certFile: string; keyFile: string } | null = null;
  #state: 'new' | 'starting' | 'running' | 'stopping' | 'stopped' = 'new';
  /** Set when a self-signed certificate was generated by this start. */
  selfSignedCertFile: string | null = null;
  certificateCreated = false;
  dataDir = '';

  constructor(opts: MailroomOptions = {}) {
    this.#opts = opts;
  }

  get store(): Store {
    if (!this.#store) throw new Error('mailroom is not started');
    return this.#store;
  }

  get auth(): Authenticator {
    if (!this.#auth) throw new Error('mailroom is not started');
    return this.#auth;
  }

  /** Bound ports of the running listeners, by name. */
  get ports(): Partial<Record<ListenerName, number>> {
    const out: Partial<Record<ListenerName, number>> = {};
    for (const l of this.#listeners) out[l.name] = l.port;
    return out;
  }

  get listeners(): readonly ListenerInfo[] {
    return this.#listeners;
  }

  get outboundQueue(): OutboundQueue | null {
    return this.#queue;
  }

  /** Opens the store and starts every configured listener; rejects (after cleaning up) if one cannot bind. */
  async start(): Promise<void> {
    if (this.#state !== 'new') throw new Error(`cannot start a mailroom that is ${this.#state}`);
    this.#state = 'starting';
    const logger = this.#opts.logger ?? silentLogger;
    try {
      let dataDir = this.#opts.dataDir;
      if (!dataDir) {
        this.#tempDir = await mkdtemp(join(tmpdir(), 'mailroom-'));
        dataDir = this.#tempDir;
      }
      await mkdir(dataDir, { recursive: true, mode: 0o700 });
      this.dataDir = dataDir;
      const hostname = this.#opts.hostname ?? osHostname();
      if (!this.#opts.storeUrl) {
        // A data directory made under a loose umask (or by an older version) holds password hashes: close it.
        const tightened = tightenModes(dataDir, sqliteFiles('mail.db'));
        if (tightened.length) logger.warn({ files: tightened }, 'data directory or database was readable by others: modes set to 0700/0600');
      }
      const quota = this.#opts.quota ?? {};
      this.#store = await openServerStore(this.#opts.storeUrl ? { url: this.#opts.storeUrl, logger: logger.child({ svc: 'store' }) } : { dataDir }, {
        quota: { storage: quota.storage ?? null, messages: quota.messages ?? null },
        ...this.#opts.cluster?.storeOptions,
      });
      this.#opts.cluster?.storeOpened(this.#store);
      // In a worker of `serve --workers N` failed logins and connections are counted for the whole cluster.
      const cluster = this.#opts.cluster;
      this.#auth = new Authenticator(this.#store.directory, { ...this.#opts.auth, ...(cluster ? { failures: cluster.failures } : {}) });
      // Created just now under a loose umask (library use): private too, nothing to report.
      if (!this.#opts.storeUrl) tightenModes(dataDir, sqliteFiles('mail.db'));

      const wanted = LISTENERS.filter((n) => {
        const p = this.#opts.ports?.[n];
        return p !== undefined && p !== 'off';
      });
      let tls: TlsMaterial | undefined;
      if (wanted.length > 0) {
        const t = this.#opts.tls;
        if (t && 'certFile' in t) {
          tls = await loadTlsFiles(t.certFile, t.keyFile);
          this.#tlsFiles = { certFile: t.certFile, keyFile: t.keyFile };
        } else if (t) tls = t;
        else {
          const s = await ensureSelfSigned(dataDir, hostname);
          tls = s.tls;
          this.selfSignedCertFile = s.certFile;
          this.certificateCreated = s.created;
        }
        tls = withTlsProfile(tls);
      }
      const base: ServiceOptions & { store: Store } = { store: this.#store, auth: this.#auth, logger, hostname, ...(tls ? { tls } : {}), ...(cluster ? { connections: cluster.connections } : {}) };
      // DATA past a small size is spooled here rather than held in memory (delivery/spool.ts).
      const spool = { dir: join(this.dataDir, 'spool') };
      const host = this.#opts.host ?? '127.0.0.1';
      const need = (n: ListenerName): boolean => wanted.includes(n);

      const stages = buildStages({ store: this.#store, logger, hostname, dataDir: this.dataDir, ...(this.#opts.spam ? { spam: this.#opts.spam } : {}), ...(this.#opts.sieve ? { sieve: this.#opts.sieve } : {}), kickQueue: () => this.#queue?.kick() }, this.#opts.stages);
      // The HTTP and mail-authentication modules are loaded here, not at import: CLI commands that only
      // use this module's helpers start faster without them.
      // The MX checks (SPF/DMARC code of the mailauth package) load only for an SMTP listener that runs them.
      const { buildMailAuth } = await import('../mailauth/options.js');
      const mx = this.#opts.mailAuth?.checks && need('smtp') ? (await import('../mailauth/mx.js')).createMxChecker : null;
      const http = need('http') || need('https') ? await import('../http/server.js') : null;
      const auth = buildMailAuth(this.#store, hostname, logger, this.#opts.mailAuth ?? {}, mx);
      // Every listener that accepts mail may queue some: submission and JMAP send, and local delivery over
      // LMTP and SMTP makes Sieve redirects and vacation replies.
      if (need('submission') || need('submissions') || need('http') || need('https') || need('lmtp') || need('smtp') || this.#opts.outbound) {
        const { createOutboundQueue } = await import('../delivery/outbound.js');
        this.#queue = createOutboundQueue({ ...base, logger: logger.child({ svc: 'queue' }), stages, quotaFullTemporary: quota.fullTemporary ?? false, ...auth.outbound, ...this.#opts.outbound });
        if (this.#opts.cluster) this.#queue = this.#opts.cluster.queue(this.#queue);
      }
      const lim = limitOptions(this.#opts.limits);
      const imapOpts = { ...lim.imap, ...this.#opts.imap };
      const pop3Opts = { ...lim.pop3, ...this.#opts.pop3 };
      const deliveryOpts = { ...lim.delivery, stages, quotaFullTemporary: quota.fullTemporary ?? false, ...this.#opts.delivery };
      // Each protocol's module is imported when a listener of it runs: a server without SMTP, submission or
      // ManageSieve (each worker of `serve --workers N` too) does not keep their code in memory.
      const groups: Array<{ names: ListenerName[]; make: () => Promise<NetService> }> = [
        { names: ['imap', 'imaps'], make: async () => (await import('../imap-server/index.js')).createImapService({ ...base, logger: logger.child({ svc: 'imap' }), ...imapOpts }) },
        { names: ['pop3', 'pop3s'], make: async () => (await import('../pop3-server/index.js')).createPop3Service({ ...base, logger: logger.child({ svc: 'pop3' }), ...pop3Opts }) },
        { names: ['lmtp'], make: async () => (await import('../delivery/lmtp.js')).createLmtpService({ ...base, logger: logger.child({ svc: 'lmtp' }), spool, ...deliveryOpts }) },
        { names: ['smtp'], make: async () => (await import('../delivery/smtp.js')).createSmtpService({ ...base, logger: logger.child({ svc: 'smtp' }), spool, ...auth.smtp, ...deliveryOpts }) },
        {
          names: ['submission', 'submissions'],
          make: async () => {
            if (!this.#queue) throw new Error('outbound queue missing');
            const { createSubmissionService } = await import('../delivery/submission.js');
            return createSubmissionService({ ...base, logger: logger.child({ svc: 'submission' }), spool, ...deliveryOpts, outbound: this.#queue });
          },
        },
        { names: ['http', 'https'], make: async () => this.#httpService(http!.createHttpService, base, hostname) },
        {
          names: ['managesieve'],
          make: async () =>
            (await import('../managesieve/index.js')).createManageSieveService({ ...base, logger: logger.child({ svc: 'managesieve' }), ...(this.#opts.sieve?.quota ? { quota: this.#opts.sieve.quota } : {}), ...(lim.pop3.maxConnectionsPerIp ? { maxConnectionsPerIp: lim.pop3.maxConnectionsPerIp } : {}) }),
        },
      ];
      for (const g of groups) {
        const names = g.names.filter(need);
        if (names.length === 0) continue;
        const service = await g.make();
        for (const name of names) {
          this.#services.push({ name, service });
          const port = this.#opts.ports?.[name];
          if (typeof port !== 'number') continue;
          const implicitTls = IMPLICIT_TLS[name];
          const addr: AddressInfo = await service.listen({ host: this.bindAddress(name), port, implicitTls, name });
          this.#listeners.push({ name, host: addr.address, port: addr.port, tls: implicitTls ? 'implicit' : name === 'http' ? 'none' : 'starttls' });
        }
      }
      this.#queue?.start();
      this.#state = 'running';
    } catch (e) {
      await this.#teardown();
      this.#state = 'stopped';
      throw e;
    }
  }

  #httpService(createHttpService: typeof import('../http/server.js').createHttpService, base: ServiceOptions & { store: Store }, hostname: string): NetService {
    const logger = (base.logger ?? silentLogger).child({ svc: 'http' });
    return createHttpService({
      ctx: {
        store: base.store,
        auth: base.auth,
        logger,
        hostname,
        dataDir: this.#opts.storeUrl ? '' : this.dataDir,
        queue: this.#queue,
        listeners: () => this.#listeners.map((l) => ({ name: l.name, port: l.port, tls: l.tls })),
        corsOrigins: this.#opts.http?.corsOrigins ?? [],
        ...(this.#opts.sieve?.quota ? { sieveQuota: this.#opts.sieve.quota } : {}),
        ...(this.#opts.http?.sendDelaySec ? { sendDelaySec: this.#opts.http.sendDelaySec } : {}),
      },
      ...(base.tls ? { tls: base.tls } : {}),
      ...(this.#opts.http?.plugins ? { plugins: this.#opts.http.plugins } : {}),
    });
  }

  /** The address listener `name` binds: lmtpHost (default 127.0.0.1) for LMTP, host (default 127.0.0.1) for the rest. */
  bindAddress(name: ListenerName): string {
    if (name === 'lmtp') return this.#opts.lmtpHost ?? '127.0.0.1';
    return this.#opts.host ?? '127.0.0.1';
  }

  /**
   * Re-reads the certificate and key files given as tls.certFile/keyFile (after a renewal) and hands them to
   * every running service: new connections use them, open sessions keep theirs. Returns the names of the
   * listeners whose service cannot swap certificates (they keep the old one until restart). Throws when
   * the files cannot be read; the old certificate then stays in use.
   */
  async reloadTls(): Promise<ListenerName[]> {
    if (this.#state !== 'running') throw new Error('mailroom is not running');
    if (!this.#tlsFiles) return [];
    const tls = withTlsProfile(await loadTlsFiles(this.#tlsFiles.certFile, this.#tlsFiles.keyFile));
    const stuck: ListenerName[] = [];
    const done = new Set<NetService>();
    for (const { name, service } of this.#services) {
      if (!service.setTls) stuck.push(name);
      else if (!done.has(service)) service.setTls(tls);
      done.add(service);
    }
    return stuck;
  }

  /** Stops listeners (sessions are ended politely after in-flight commits), the queue, then the store. Idempotent. */
  async stop(): Promise<void> {
    if (this.#state === 'stopped' || this.#state === 'stopping') return;
    this.#state = 'stopping';
    await this.#teardown();
    this.#state = 'stopped';
  }

  async #teardown(): Promise<void> {
    const seen = new Set<NetService>();
    const closing: Promise<void>[] = [];
    for (const { service } of this.#services.reverse()) {
      if (seen.has(service)) continue;
      seen.add(service);
      closing.push(service.close());
    }
    await Promise.allSettled(closing);
    this.#services = [];
    if (this.#queue) await this.#queue.stop().catch(() => undefined);
    this.#queue = null;
    if (this.#store) await this.#store.close().catch(() => undefined);
    this.#store = null;
    if (this.#tempDir) await rm(this.#tempDir, { recursive: true, force: true });
    this.#tempDir = null;
  }

  /** Creates a user (and their domain if new) with an argon2id hash of `password`. */
  async addUser(address: string, password: string): Promise<User> {
    return createUserWithDomain(this.store.directory, address, password);
  }
}

export function createMailroom(opts: MailroomOptions = {}): Mailroom {
  return new Mailroom(opts);
}
