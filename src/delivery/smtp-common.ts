/**
 * The listening side shared by LMTP, SMTP (MX) and submission: one smtp-server instance per listen spec
 * (implicit TLS or plain with STARTTLS), our own key/cert only, no console logging, no reverse DNS, bounded
 * message size and recipient count, and a close() that lets in-flight deliveries commit and reply before the
 * remaining sessions get 421. DATA is received through spool.ts (bounded memory, large messages on disk);
 * each transaction's accepted RCPTs are kept in order with their resolution (transactionRecipients).
 */
import type { AddressInfo, Socket } from 'node:net';
import { hostname as osHostname } from 'node:os';
import { SMTPServer, type SMTPServerDataStream, type SMTPServerOptions, type SMTPServerSession } from 'smtp-server';
import type { SMTPConnection } from 'smtp-server/lib/smtp-connection.js';
import type { ServiceOptions } from '../auth/service.js';
import { silentLogger, type Logger } from '../lib/logger.js';
import { MAX_CONNECTIONS_PER_IP, MAX_MESSAGE_SIZE, SMTP_MAX_RECIPIENTS } from '../lib/limits.js';
import { AddressCounter, whenAdmitted } from '../lib/connection-limit.js';
import { record } from '../lib/metrics.js';
import { listenOn, withTlsProfile, type ListenSpec, type NetService, type TlsMaterial } from '../lib/service.js';
import type { DeliveryStore, RecipientEntry } from './deliver.js';
import type { DeliveryStage } from './pipeline.js';
import type { MxChecker } from '../mailauth/mx.js';
import type { BareLineEndPolicy } from './message-check.js';
import type { Resolution } from './resolve.js';
import { isPostmasterAddress, resolveWithPostmaster } from './postmaster.js';
import { cleanSpool, resolveSpool, type Spool, type SpoolOptions } from './spool.js';
import { installFastDataScan } from './data-stream.js';
import { advertisedParams, installSyntaxChecks, type EsmtpParams } from './smtp-syntax.js';

/** Options shared by createLmtpService, createSmtpService and createSubmissionService. */
export interface DeliveryServiceOptions extends ServiceOptions {
  /** The directory, the mail store and the outbound queue (a Store handle will do). */
  store: DeliveryStore;
  /** Largest message accepted (SIZE, RFC 1870); bigger ones get 552. Defaults to MAX_MESSAGE_SIZE. */
  maxMessageSize?: number;
  /** Recipients per transaction; more get 452 (RFC 5321 4.5.3.1.10). Defaults to SMTP_MAX_RECIPIENTS. */
  maxRecipients?: number;
  /** Idle time before a session is closed with 421. RFC 5321 4.5.3.2.7 suggests 5 minutes. */
  socketTimeoutMs?: number;
  /** What to do with bare CR/LF in a message: 'reject' (554, default for SMTP and submission) or 'normalize' (LMTP default). */
  bareLineEnds?: BareLineEndPolicy;
  /** Concurrent sessions per listener. */
  maxClients?: number;
  /** Concurrent sessions from one IP address (across this service's listeners); more get 421. Loopback is not counted. */
  maxConnectionsPerIp?: number;
  /** Count loopback sessions against maxConnectionsPerIp too (default false). */
  countLoopback?: boolean;
  /** Submission: keep a copy of submitted mail in the sender's Sent folder (default true); a user's own setting wins (sent.ts). */
  sentCopy?: boolean;
  /** Where DATA past a small size goes instead of memory, and the memory budget (see spool.ts). */
  spool?: SpoolOptions;
  /** Per-user delivery stages (spam filter, Sieve) for local copies; see pipeline.ts. */
  stages?: readonly DeliveryStage[];
  /** A recipient over quota gets 452 4.2.2 (try again) instead of 552 5.2.2 (deliver.ts). Default false. */
  quotaFullTemporary?: boolean;
  /** SMTP MX only: SPF/DKIM/DMARC/ARC checks and the Authentication-Results field (mailauth/mx.ts); none when absent. */
  mxChecks?: MxChecker;
  /**
   * How long close() waits for messages still being received or delivered before it ends their sessions
   * (a message cut off this way is not stored and was never acknowledged). Default 10 s.
   */
  closeGraceMs?: number;
}

/**
 * An error whose message and responseCode smtp-server turns into the reply. With `enhanced` (RFC 3463, e.g.
 * "5.7.1") the reply carries that status instead of the one smtp-server derives from the basic code; the status
 * travels as a "{5.7.1} " prefix of the message, which our listener's send() turns into the status field.
 */
export class SmtpReply extends Error {
  readonly responseCode: number;
  constructor(code: number, message: string, enhanced?: string) {
    super(enhanced ? `{${enhanced}} ${message}` : message);
    this.name = 'SmtpReply';
    this.responseCode = code;
  }
}

const ENHANCED_MARK = /^\{([245]\.\d{1,3}\.\d{1,3})\} /;

/**
 * smtp-server with exact enhanced status codes for our replies: each new connection's send() replaces a
 * leading "{x.y.z} " in the text by that status (see SmtpReply); and with the EHLO argument and the MAIL/RCPT
 * parameters checked against what the listener advertises (smtp-syntax.ts).
 */
class DeliveryServer extends SMTPServer {
  readonly #extend: ((conn: SMTPConnection) => void) | undefined;
  readonly #params: EsmtpParams;

  constructor(options: SMTPServerOptions, extend?: (conn: SMTPConnection) => void) {
    super(options);
    this.#extend = extend;
    this.#params = advertisedParams(this.options);
    installFastDataScan();
  }

  override connect(...args: Parameters<SMTPServer['connect']>): void {
    super.connect(...args);
    let conn: SMTPConnection | undefined;
    for (const c of this.connections) conn = c; // the connection just added is the last one
    if (!conn) return;
    const send = coalescedSend(conn, conn.send.bind(conn));
    conn.send = (code, data, context) => {
      const m = typeof data === 'string' ? ENHANCED_MARK.exec(data) : null;
      if (m && typeof data === 'string') return send(code, `${m[1]} ${data.slice(m[0].length)}`, false);
      return send(code, data, context);
    };
    installSyntaxChecks(conn, this.#params);
    this.#extend?.(conn);
  }
}

/**
 * Replies made in one turn of the event loop (those to a pipelined MAIL, RCPT and DATA, RFC 2920) leave in
 * one write instead of one small segment each, which the client would also wake up for. 220 (greeting,
 * STARTTLS) and 221/421 (closing) go out at once, since a TLS upgrade or a close follows them.
 */
function coalescedSend(conn: SMTPConnection, send: SMTPConnection['send']): SMTPConnection['send'] {
  let corked: Socket | null = null;
  const flush = (): void => {
    const s = corked;
    corked = null;
    if (s && s.writableCorked) s.uncork();
  };
  return (code, data, context) => {
    const socket = (conn as unknown as { _socket?: Socket })._socket;
    const now = code === 220 || code === 221 || code === 421;
    if (!now && !corked && socket && !socket.destroyed) {
      corked = socket;
      socket.cork();
      setImmediate(flush);
    }
    send(code, data, context);
    if (now) flush();
  };
}

/** Default session idle timeout: 5 minutes (RFC 5321 section 4.5.3.2.7). */
export const SMTP_IDLE_TIMEOUT_MS = 5 * 60 * 1000;

export interface ListenerHandlers {
  lmtp: boolean;
  /** Names the service's connection counts in a counter shared by services; default 'lmtp' or 'smtp'. */
  scope?: string;
  /** Extra smtp-server options for this role (auth, disabled commands ...). */
  serverOptions: (spec: ListenSpec) => Partial<SMTPServerOptions>;
  onConnect?: SMTPServerOptions['onConnect'];
  onSecure?: SMTPServerOptions['onSecure'];
  onAuth?: SMTPServerOptions['onAuth'];
  onMailFrom?: SMTPServerOptions['onMailFrom'];
  onRcptTo?: SMTPServerOptions['onRcptTo'];
  /** Adds role-specific commands to each new connection (submission's BURL). */
  onConnection?: (conn: SMTPConnection) => void;
  /** Handles a complete message; its promise is tracked so close() waits for it. */
  onData: (stream: SMTPServerDataStream, session: SMTPServerSession, callback: Parameters<NonNullable<SMTPServerOptions['onData']>>[2]) => Promise<void>;
}

export interface ResolvedCommon {
  store: DeliveryStore;
  logger: Logger;
  hostname: string;
  maxMessageSize: number;
  maxRecipients: number;
  spool: Spool;
  stages: readonly DeliveryStage[];
  mxChecks: MxChecker | null;
  quotaFullTemporary: boolean;
}

export function resolveCommon(opts: DeliveryServiceOptions, component: string): ResolvedCommon {
  return {
    store: opts.store,
    logger: (opts.logger ?? silentLogger).child({ component }),
    hostname: opts.hostname ?? osHostname(),
    maxMessageSize: opts.maxMessageSize ?? MAX_MESSAGE_SIZE,
    maxRecipients: opts.maxRecipients ?? SMTP_MAX_RECIPIENTS,
    spool: resolveSpool(opts.spool),
    stages: opts.stages ?? [],
    mxChecks: opts.mxChecks ?? null,
    quotaFullTemporary: opts.quotaFullTemporary ?? false,
  };
}

/**
 * RCPT TO handler for the roles that accept mail only for local users (LMTP, SMTP MX): local recipients
 * pass, the bare "postmaster" too (RFC 5321 4.1.1.3, see postmaster.ts), bad syntax is 553, a remote domain
 * gets `remoteReply` (LMTP: not a local domain; MX: relaying denied), an unknown local user 550 5.1.1 (for a
 * postmaster address the reply says what is missing), and a failed lookup 451 4.3.0.
 */
export function localRecipientsOnly(common: ResolvedCommon, remoteReply: () => SmtpReply): NonNullable<SMTPServerOptions['onRcptTo']> {
  return (address, session, callback) => {
    const tooMany = recipientLimitReply(session, common.maxRecipients);
    if (tooMany) return callback(tooMany);
    resolveWithPostmaster(common.store.directory, address.address, common.hostname).then(
      (r) => {
        if (r.kind === 'local') {
          recordRecipient(session, address.address, r);
          return callback();
        }
        if (r.kind === 'invalid') return callback(new SmtpReply(553, 'Bad recipient address syntax', '5.1.3'));
        callback(r.kind === 'remote' ? remoteReply() : unknownRecipient(common, r.address));
      },
      (e: unknown) => {
        common.logger.warn({ err: String(e) }, 'recipient lookup failed');
        callback(new SmtpReply(451, 'Temporary lookup failure, try again later', '4.3.0'));
      },
    );
  };
}

/** 550 5.1.1 for an unknown local recipient; for a postmaster address the text says what is missing. */
export function unknownRecipient(common: ResolvedCommon, address: string): SmtpReply {
  if (!isPostmasterAddress(address)) return new SmtpReply(550, 'No such user here', '5.1.1');
  common.logger.warn({ rcpt: address }, 'postmaster mail refused: no user or alias for it and no administrator');
  return new SmtpReply(550, `No mailbox for ${address} here: no user or alias of that name and no administrator`, '5.1.1');
}

/**
 * Per transaction (smtp-server gives every transaction a new envelope object), each accepted RCPT in order,
 * repeats included, with how it resolved. DATA reuses the resolutions instead of resolving every recipient
 * a second time moments later, and LMTP answers once per entry (RFC 2033 section 4.2).
 */
const acceptedRcpts = new WeakMap<object, RecipientEntry[]>();

/**
 * 452 4.5.3 once the transaction has `max` accepted RCPTs, repeats of one address included (as Postfix counts
 * smtpd_recipient_limit), else null. smtp-server's own maxRecipients counts distinct addresses only, so the
 * same address sent a million times was accepted every time, each answered again after DATA under LMTP.
 */
export function recipientLimitReply(session: SMTPServerSession, max: number): SmtpReply | null {
  const n = acceptedRcpts.get(session.envelope)?.length ?? 0;
  return n >= max ? new SmtpReply(452, 'Error: too many recipients', '4.5.3') : null;
}

/** Notes an accepted RCPT of the session's current transaction. */
export function recordRecipient(session: SMTPServerSession, address: string, resolution: Resolution): void {
  let list = acceptedRcpts.get(session.envelope);
  if (!list) acceptedRcpts.set(session.envelope, (list = []));
  list.push({ address, resolution });
}

/**
 * The accepted recipients of the session's transaction in RCPT order (repeats included); recipients
 * smtp-server holds that were not recorded are added without a resolution.
 */
export function transactionRecipients(session: SMTPServerSession): RecipientEntry[] {
  const list = acceptedRcpts.get(session.envelope) ?? [];
  const seen = new Set(list.map((e) => e.address.toLowerCase()));
  const out = [...list];
  for (const r of session.envelope.rcptTo) if (!seen.has(r.address.toLowerCase())) out.push({ address: r.address });
  return out;
}

/** Builds the NetService around smtp-server for one role. */
export function createListenerService(opts: DeliveryServiceOptions, common: ResolvedCommon, h: ListenerHandlers): NetService {
  const servers = new Set<SMTPServer>();
  const inflight = new Set<Promise<void>>();
  let closing: Promise<void> | null = null;
  const perIp = new AddressCounter(opts.maxConnectionsPerIp ?? MAX_CONNECTIONS_PER_IP, opts.countLoopback ?? false, opts.connections, h.scope ?? (h.lmtp ? 'lmtp' : 'smtp'));
  const counted = new WeakSet<SMTPServerSession>();
  /** Sessions closed before their admission was answered. */
  const gone = new WeakSet<SMTPServerSession>();
  const closers = new WeakMap<SMTPServerSession, () => void>();
  /** The certificate and key in use (setTls replaces them). */
  let tls = opts.tls;
  /** Spool files of processes that are gone are removed before the first listener starts. */
  let spoolReady: Promise<unknown> | null = null;

  function build(spec: ListenSpec): SMTPServer {
    if (spec.implicitTls && !opts.tls) throw new Error('implicit TLS listener needs tls key and certificate');
    const disabled = opts.tls ? [] : ['STARTTLS'];
    const base: SMTPServerOptions = {
      name: common.hostname,
      banner: '',
      heloResponse: '%s', // just our name (RFC 5321 4.1.1.1), no greeting text
      lmtp: h.lmtp,
      secure: spec.implicitTls,
      size: common.maxMessageSize,
      rejectOversized: true,
      maxRecipients: common.maxRecipients,
      logger: false,
      disableReverseLookup: true,
      noDelay: true, // replies are small and latency-bound (pipelined LMTP/SMTP)
      hideDSN: true,
      hideREQUIRETLS: true,
      hideENHANCEDSTATUSCODES: false,
      hide8BITMIME: false,
      hideSMTPUTF8: false,
      hidePIPELINING: false,
      socketTimeout: opts.socketTimeoutMs ?? SMTP_IDLE_TIMEOUT_MS,
      closeTimeout: 24 * 60 * 60 * 1000, // close() kicks sessions itself once deliveries have committed
      maxClients: opts.maxClients ?? 500,
      disabledCommands: disabled,
      ...(tls ? withTlsProfile(tls) : {}),
      ...h.serverOptions(spec),
    };
    base.onConnect = (session, callback) => {
      whenAdmitted(perIp.admit(session.remoteAddress), (admitted) => {
        if (!admitted) return callback(new SmtpReply(421, `${common.hostname} Too many connections from your address`));
        if (gone.has(session)) return perIp.release(session.remoteAddress); // closed while another process was asked
        counted.add(session);
        closers.set(session, record.connection(h.lmtp ? 'lmtp' : 'smtp'));
        if (h.onConnect) h.onConnect(session, callback);
        else callback();
      });
    };
    base.onClose = (session) => {
      if (!counted.has(session)) return void gone.add(session);
      counted.delete(session);
      closers.get(session)?.();
      perIp.release(session.remoteAddress);
    };
    if (h.onSecure) base.onSecure = h.onSecure;
    if (h.onAuth) base.onAuth = h.onAuth;
    if (h.onMailFrom) base.onMailFrom = h.onMailFrom;
    if (h.onRcptTo) base.onRcptTo = h.onRcptTo;
    base.onData = (stream, session, reply) => {
      const callback: typeof reply = (err, message) => {
        record.command(h.lmtp ? 'lmtp' : 'smtp', 'DATA', err ? 'error' : 'ok');
        reply(err, message);
      };
      const p = h.onData(stream, session, callback).catch((e: unknown) => {
        common.logger.error({ err: String(e), session: session.id }, 'message handling failed');
        const failed = new SmtpReply(451, 'Local error in processing, try again later', '4.3.0');
        // LMTP: one reply per accepted RCPT, repeats included (smtp-server would send one per distinct address).
        if (h.lmtp) callback(null, transactionRecipients(session).map(() => failed));
        else callback(failed);
      });
      inflight.add(p);
      void p.finally(() => inflight.delete(p));
    };
    const server = new DeliveryServer(base, h.onConnection);
    server.on('error', (err) => common.logger.warn({ err: String(err) }, 'smtp listener error'));
    return server;
  }

  return {
    async listen(spec: ListenSpec): Promise<AddressInfo> {
      if (closing) throw new Error('service is closed');
      spoolReady ??= cleanSpool(common.spool.dir).then(
        (removed) => removed && common.logger.info({ removed, dir: common.spool.dir }, 'removed stale spool files'),
        (e: unknown) => common.logger.warn({ err: String(e), dir: common.spool.dir }, 'spool directory unusable'),
      );
      await spoolReady;
      const server = build(spec);
      const addr = await listenOn(server.server, spec);
      servers.add(server);
      return addr;
    },
    setTls(material: TlsMaterial): void {
      // smtp-server reads its '*' context for every implicit-TLS handshake and every STARTTLS.
      tls = material;
      for (const s of servers) s.updateSecureContext(withTlsProfile(material));
    },
    close(): Promise<void> {
      closing ??= (async () => {
        const closed = [...servers].map((s) => new Promise<void>((resolve) => s.close(() => resolve())));
        // In-flight messages finish (commit and get their replies), within the grace period: a client that
        // stalls in the middle of DATA must not hold the shutdown until its socket timeout.
        const deadline = Date.now() + (opts.closeGraceMs ?? 10_000);
        while (inflight.size && Date.now() < deadline) {
          let timer: NodeJS.Timeout | undefined;
          const grace = new Promise<void>((resolve) => {
            timer = setTimeout(resolve, Math.max(0, deadline - Date.now()));
            timer.unref();
          });
          await Promise.race([Promise.allSettled([...inflight]), grace]);
          clearTimeout(timer);
        }
        for (const s of servers) {
          for (const conn of s.connections) {
            conn.send(421, `${common.hostname} Service shutting down`);
            conn.close();
          }
        }
        await Promise.all(closed);
        servers.clear();
      })();
      return closing;
    },
  };
}

/** The RFC 3848 "with" value and helo/IP facts of a session, for Received. */
export function sessionTrace(session: SMTPServerSession): { helo: string; remoteAddress: string; clientHostname: string; id: string } {
  return {
    helo: session.hostNameAppearsAs || 'unknown',
    remoteAddress: session.remoteAddress,
    clientHostname: session.clientHostname,
    id: session.id,
  };
}

/** True when MAIL FROM carried the SMTPUTF8 parameter (RFC 6531). */
export function usesSmtpUtf8(session: SMTPServerSession): boolean {
  const from = session.envelope.mailFrom;
  return !!(from && from.args && from.args.SMTPUTF8);
}
