/**
 * Message submission (RFC 6409) on 587 (STARTTLS) and 465 (implicit TLS, RFC 8314), chosen per listen spec.
 * - AUTH PLAIN/LOGIN (RFC 4954) is required before MAIL; it is offered only over TLS or from loopback
 *   (elsewhere AUTH is not advertised before STARTTLS and is refused with 538). A PLAIN authzid other than
 *   the authenticating user is refused with 535 5.7.8 (RFC 4616: no proxy authorization).
 * - The envelope sender must be one of the user's addresses: their address, a plus-variant of it, or an alias
 *   that resolves to them, neither being itself another user (553 5.7.1 otherwise; see sender.ts). The null
 *   sender is refused. So must every header From address and the Sender (550 5.7.1 at the end of DATA).
 * - Local recipients reaching the same user (plus-addresses, aliases, repeats) share one stored copy. The bare
 *   RCPT TO:<Postmaster> is the postmaster of the local domains (RFC 5321 4.1.1.3; postmaster.ts).
 * - SIZE limit (552), recipients per message (452), messages per user per time window (451 rate limited).
 * - RFC 6409 section 8: a missing Date or Message-ID is added.
 * - BURL (RFC 4468, burl.ts): the message or parts of it come from IMAP URLs with URLAUTH access
 *   "submit+<user>", resolved in the store (src/urlauth/); EHLO advertises "BURL imap" after AUTH.
 * - On DATA: remote recipients (and local ones whose delivery failed temporarily) go to the persistent
 *   outbound queue, local ones are delivered at once, a copy goes to the sender's Sent folder (when the user's
 *   setting, else `sentCopy`, says so) unless one with the same Message-ID is there; 250 is sent after all of
 *   that committed. A client APPEND of the same message to Sent shortly after replaces the server's copy
 *   (sent.ts). Only here, for authenticated senders, are local delivery failures bounced.
 */
import { randomBytes } from 'node:crypto';
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import type { SMTPServerSession } from 'smtp-server';
import { isLoopback, type NetService } from '../lib/service.js';
import { normalizeAddress } from '../auth/authenticator.js';
import { deliverGroup, DELIVERY_CONCURRENCY, enhancedStatusFor, groupRecipients, isPermanent, mapLimit, replyCodeFor } from './deliver.js';
import { buildDsn, type FailedRecipient } from './dsn.js';
import { checkMessage, headerSection, headerValue } from './message-check.js';
import type { OutboundQueue } from './outbound.js';
import { resolveWithPostmaster } from './postmaster.js';
import { envelopeNotOwned, notOwnedInHeader, ownsAddress } from './sender.js';
import { saveToSent, SentCopyWatch, sentCopyWanted } from './sent.js';
import {
  createListenerService,
  recipientLimitReply,
  recordRecipient,
  resolveCommon,
  sessionTrace,
  SmtpReply,
  transactionRecipients,
  unknownRecipient,
  usesSmtpUtf8,
  type DeliveryServiceOptions,
} from './smtp-common.js';
import { collectData } from './spool.js';
import { receivedHeader, rfc5322Date, withProtocol } from './trace.js';
import { burlExtension } from './burl.js';
import { resolveUrl, urlBytes } from '../urlauth/resolve.js';

/** Failed AUTH commands one submission connection may make; the last of them is answered 421 and closes it. */
export const MAX_AUTH_FAILURES = 5;
const authFailures = new WeakMap<SMTPServerSession, number>();

export interface SubmissionOptions extends DeliveryServiceOptions {
  outbound: OutboundQueue;
  /** Messages one user may submit per window; defaults to 200 per hour. */
  rateLimit?: { messages: number; perSeconds: number };
  /**
   * Allow AUTH without TLS from loopback addresses (default true). Set false when a local proxy forwards
   * remote clients, so that loopback is no proof of a local client.
   */
  cleartextAuthOnLoopback?: boolean;
}

/** What onAuth stores in session.user. */
interface SessionUser {
  id: number;
  address: string;
}

type DataCallback = (err: (Error & { responseCode?: number }) | null, message?: string) => void;

function sessionUser(session: SMTPServerSession): SessionUser | null {
  const u: unknown = session.user;
  if (u && typeof u === 'object' && 'id' in u && 'address' in u) return u as SessionUser;
  return null;
}

export function createSubmissionService(opts: SubmissionOptions): NetService {
  const common = resolveCommon(opts, 'submission');
  const policy = opts.bareLineEnds ?? 'reject';
  const rate = opts.rateLimit ?? { messages: 200, perSeconds: 3600 };
  const limiter = new RateLimiterMemory({ points: rate.messages, duration: rate.perSeconds });
  const baseDisabled = opts.tls ? [] : ['STARTTLS'];
  const loopbackOk = opts.cleartextAuthOnLoopback ?? true;
  const cleartextOk = (session: SMTPServerSession) => session.secure || (loopbackOk && isLoopback(session.remoteAddress));

  /** The end of DATA (or BURL LAST): checks, delivers and queues `input`, then answers through `callback`. */
  const accept = async (input: Buffer, session: SMTPServerSession, user: SessionUser, callback: DataCallback): Promise<void> => {
    const checked = checkMessage(input, policy);
    if (!checked.ok) return callback(new SmtpReply(checked.code, checked.message, checked.enhanced));
    const { raw, messageId } = completeHeader(checked.raw, common.hostname);
    const forged = await notOwnedInHeader(common.store.directory, user, raw);
    if (forged) return callback(new SmtpReply(550, forged, '5.7.1'));
    const sender = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
    const date = new Date();
    const protocol = withProtocol({ secure: session.secure, authenticated: true, utf8: usesSmtpUtf8(session) });
    const trace = sessionTrace(session);
    const hop = Buffer.from(receivedHeader({ ...trace, by: common.hostname, protocol, date }), 'utf8');
    const withHop = Buffer.concat([hop, raw]);

    const { groups } = await groupRecipients(common.store.directory, transactionRecipients(session));
    const local = groups.filter((g) => g.resolution.kind === 'local');
    const queued = groups.filter((g) => g.resolution.kind !== 'local').flatMap((g) => g.members);
    // Remote recipients first: if the queue cannot take them, nothing has been done yet and 451 is honest.
    if (queued.length) await common.store.queue.enqueue(sender, queued, withHop);
    const retry: string[] = [];
    const failed: FailedRecipient[] = [];
    // One copy per user: recipients reaching the same user share it.
    const results = await mapLimit(local, DELIVERY_CONCURRENCY, (g) => deliverGroup(common.store, g, withHop, { envelopeFrom: sender, logger: common.logger, stages: common.stages, quotaFullTemporary: common.quotaFullTemporary, transport: 'submission' }));
    for (const [i, g] of local.entries()) {
      const d = results[i]!;
      if (d.ok) continue;
      if (isPermanent(d.code)) failed.push(...g.members.map((recipient) => ({ recipient, status: enhancedStatusFor(d.code), diagnostic: `${replyCodeFor(d.code)} ${d.message}` })));
      // the address as resolved: a bare "Postmaster" given at RCPT is queued as the postmaster@domain it reached
      else retry.push(g.resolution.kind === 'local' ? g.resolution.recipient : g.members[0]!);
    }
    if (retry.length) await common.store.queue.enqueue(sender, retry, withHop).catch((e: unknown) => common.logger.error({ err: String(e), rcpts: retry }, 'could not queue local retry'));
    if (failed.length) {
      const dsn = buildDsn({ reportingMta: common.hostname, to: sender, originalEnvelopeFrom: sender, arrivalDate: date, failed, original: raw });
      await common.store.queue.enqueue('', [sender], dsn).catch((e: unknown) => common.logger.error({ err: String(e) }, 'could not queue bounce'));
    }
    try {
      if (await sentCopyWanted(common.store.mail, user.id, opts.sentCopy ?? true)) {
        const saved = await saveToSent(common.store.mail, user.id, raw, messageId);
        // a client that appends its own copy in a moment keeps that one (sent.ts)
        if (saved.state === 'saved' && messageId) sentWatch.watch(common.store.mail, saved, messageId);
        common.logger.debug({ session: session.id, sent: saved.state }, 'sent copy');
      }
    } catch (e) {
      common.logger.warn({ err: String(e), user: user.address }, 'could not save Sent copy');
    }
    common.logger.info({ session: session.id, user: user.address, from: sender, local: local.length, queued: queued.length }, 'message submitted');
    opts.outbound.kick();
    callback(null, `Ok: queued as ${messageId ?? 'message'}`);
  };
  const burl = burlExtension({
    maxSize: common.maxMessageSize,
    user: sessionUser,
    async resolve(user, url) {
      const ctx = { mail: common.store.mail, directory: common.store.directory, user };
      const r = await resolveUrl(ctx, url, 'submit');
      return r && urlBytes(ctx, r);
    },
    complete: (raw, session, reply) =>
      accept(raw, session, sessionUser(session)!, reply).catch((e: unknown) => {
        common.logger.error({ err: String(e), session: session.id }, 'message handling failed');
        reply(new SmtpReply(451, 'Temporary failure, try again later'));
      }),
  });

  const sentWatch = new SentCopyWatch((e) => common.logger.warn({ err: String(e) }, 'watching a Sent copy failed'));
  const service = createListenerService(opts, common, {
    lmtp: false,
    scope: 'submission',
    onConnection: burl,
    serverOptions: () => ({
      authMethods: ['PLAIN', 'LOGIN'],
      authOptional: false,
      // smtp-server's own check would refuse AUTH before STARTTLS even on loopback; onConnect/onAuth decide.
      allowInsecureAuth: true,
      disabledCommands: baseDisabled,
    }),
    onConnect(session, callback) {
      // Hide AUTH until TLS unless the client is on loopback (RFC 4954 section 4, RFC 8314).
      if (!cleartextOk(session)) session.disabledCommands = [...baseDisabled, 'AUTH'];
      callback();
    },
    onSecure(_socket, session, callback) {
      session.disabledCommands = [...baseDisabled];
      callback();
    },
    onAuth(auth, session, callback) {
      if (!cleartextOk(session)) return callback(new SmtpReply(538, 'Encryption required for requested authentication mechanism', '5.7.11'));
      if ((auth.method !== 'PLAIN' && auth.method !== 'LOGIN') || !auth.username || auth.password == null) {
        return callback(new SmtpReply(504, 'Unrecognized authentication type'));
      }
      // A refused attempt; the MAX_AUTH_FAILURES-th on one connection closes it (421), as IMAP and POP3 do.
      const failed = (reply: SmtpReply): void => {
        const n = (authFailures.get(session) ?? 0) + 1;
        authFailures.set(session, n);
        callback(n >= MAX_AUTH_FAILURES ? new SmtpReply(421, 'Too many failed authentication attempts, closing connection', '4.7.0') : reply);
      };
      // RFC 4616: acting as another identity is not offered; a differing authzid is refused, never ignored.
      if (auth.authzid && normalizeAddress(auth.authzid) !== normalizeAddress(auth.username)) {
        const refuse = (): void => failed(new SmtpReply(535, 'Authorization identity not permitted', '5.7.8'));
        return void opts.auth.recordFailure(session.remoteAddress, auth.username).then(refuse, refuse);
      }
      opts.auth.verify(auth.username, auth.password, { remoteAddress: session.remoteAddress }).then(
        (r) => {
          if (r.ok) return callback(null, { user: { id: r.user.id, address: r.user.address } satisfies SessionUser });
          if (r.reason === 'bad-credentials') return failed(new SmtpReply(535, 'Authentication credentials invalid'));
          if (r.reason === 'throttled') return failed(new SmtpReply(454, 'Temporary authentication failure'));
          callback(new SmtpReply(454, 'Temporary authentication failure'));
        },
        () => callback(new SmtpReply(454, 'Temporary authentication failure')),
      );
    },
    onMailFrom(address, session, callback) {
      const user = sessionUser(session);
      if (!user) return callback(new SmtpReply(530, 'Authentication required'));
      if (!address.address) return callback(new SmtpReply(553, 'The null sender is not allowed for submission', '5.7.1'));
      (async () => {
        if (!(await ownsAddress(common.store.directory, user, address.address))) {
          return callback(new SmtpReply(553, envelopeNotOwned(address.address, user), '5.7.1'));
        }
        try {
          await limiter.consume(String(user.id), 1);
        } catch (e) {
          if (e instanceof RateLimiterRes) {
            const secs = Math.ceil(e.msBeforeNext / 1000);
            return callback(new SmtpReply(451, `Rate limit exceeded, try again in ${secs} s`, '4.7.0'));
          }
          throw e;
        }
        callback();
      })().catch((e: unknown) => {
        common.logger.warn({ err: String(e) }, 'sender check failed');
        callback(new SmtpReply(451, 'Temporary failure, try again later'));
      });
    },
    onRcptTo(address, session, callback) {
      if (!sessionUser(session)) return callback(new SmtpReply(530, 'Authentication required'));
      const tooMany = recipientLimitReply(session, common.maxRecipients);
      if (tooMany) return callback(tooMany);
      resolveWithPostmaster(common.store.directory, address.address, common.hostname).then(
        (r) => {
          if (r.kind === 'invalid') return callback(new SmtpReply(553, 'Bad recipient address syntax'));
          if (r.kind === 'unknown') return callback(unknownRecipient(common, r.address));
          recordRecipient(session, address.address, r);
          callback();
        },
        () => callback(new SmtpReply(451, 'Temporary lookup failure, try again later')),
      );
    },
    async onData(stream, session, callback) {
      const got = await collectData(stream, common.maxMessageSize, common.spool);
      if (!got) return;
      try {
        if (got.oversized) return callback(null);
        const user = sessionUser(session);
        if (!user) return callback(new SmtpReply(530, 'Authentication required'));
        await accept(got.raw, session, user, callback);
      } finally {
        got.release();
      }
    },
  });
  return {
    ...service,
    async close() {
      sentWatch.stopAll();
      await service.close();
    },
  };
}

/**
 * RFC 6409 section 8.1/8.3: adds Date and Message-ID when missing (at the top of the header).
 * Returns the message and its Message-ID (with angle brackets) or null when it has none usable.
 */
export function completeHeader(raw: Buffer, hostname: string): { raw: Buffer; messageId: string | null } {
  const header = headerSection(raw);
  const hasHeader = header.length > 2 && header.includes(':');
  let messageId = hasHeader ? headerValue(raw, 'message-id') : null;
  const add: string[] = [];
  if (!hasHeader || headerValue(raw, 'date') === null) add.push(`Date: ${rfc5322Date(new Date())}`);
  if (!messageId) {
    messageId = `<${randomBytes(16).toString('hex')}@${hostname}>`;
    add.push(`Message-ID: ${messageId}`);
  }
  if (!add.length) return { raw, messageId };
  // Without a header the new fields form one; the blank line that ends it is the message's own when it starts
  // with one, else one is added.
  const startsBlank = raw.length >= 2 && raw[0] === 0x0d && raw[1] === 0x0a;
  const prefix = add.join('\r\n') + '\r\n' + (hasHeader || startsBlank ? '' : '\r\n');
  return { raw: Buffer.concat([Buffer.from(prefix, 'utf8'), raw]), messageId };
}
