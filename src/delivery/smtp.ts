/**
 * SMTP in the MX role (RFC 5321) for the local domains.
 * - Accepts mail only for existing local recipients (users, aliases, plus-addresses, catch-all). No AUTH is
 *   offered here, so relaying is never allowed: RCPT for a domain that is not local gets 550 "Relaying denied".
 * - SIZE (552), 8BITMIME, SMTPUTF8, PIPELINING, ENHANCEDSTATUSCODES, STARTTLS (when tls is configured).
 * - Each local copy gets Return-Path, Delivered-To and Received (see deliver.ts, trace.ts) and goes to INBOX.
 * - One reply per message (SMTP): 250 once every recipient's copy is committed, or handed to the persistent
 *   queue for a local retry (temporary store trouble), or answered by a bounce (permanent failure of some
 *   recipients while others succeeded). Only when nothing was stored is a failure code returned.
 */
import type { SMTPServerSession } from 'smtp-server';
import type { NetService } from '../lib/service.js';
import { deliver, DELIVERY_CONCURRENCY, enhancedStatusFor, isPermanent, mapLimit, replyCodeFor, type DeliverResult } from './deliver.js';
import { buildDsn, type FailedRecipient } from './dsn.js';
import { checkMessage } from './message-check.js';
import {
  collectData,
  createListenerService,
  localRecipientsOnly,
  recipientResolver,
  resolveCommon,
  sessionTrace,
  SmtpReply,
  usesSmtpUtf8,
  type DeliveryServiceOptions,
  type ResolvedCommon,
} from './smtp-common.js';
import { receivedHeader, withProtocol } from './trace.js';

export function createSmtpService(opts: DeliveryServiceOptions): NetService {
  const common = resolveCommon(opts, 'smtp');
  const policy = opts.bareLineEnds ?? 'reject';
  return createListenerService(opts, common, {
    lmtp: false,
    serverOptions: () => ({ disabledCommands: opts.tls ? ['AUTH'] : ['AUTH', 'STARTTLS'], authOptional: true }),
    onRcptTo: localRecipientsOnly(common, () => new SmtpReply(550, 'Relaying denied', '5.7.1')),
    async onData(stream, session, callback) {
      const got = await collectData(stream, common.maxMessageSize);
      if (!got) return;
      if (got.oversized) return callback(null);
      const checked = checkMessage(got.raw, policy);
      if (!checked.ok) return callback(new SmtpReply(checked.code, checked.message, checked.enhanced));
      const reply = await deliverAll(common, session, checked.raw, false);
      if (reply instanceof Error) callback(reply);
      else callback(null, reply);
    },
  });
}

/**
 * Delivers one message to the session's recipients (all local) and decides the single SMTP reply.
 * Temporary failures go to the persistent queue for a local retry; permanent ones are bounced, unless
 * nothing at all was stored, in which case the failure is the reply.
 */
export async function deliverAll(
  common: ResolvedCommon,
  session: SMTPServerSession,
  raw: Buffer,
  authenticated: boolean,
): Promise<string | SmtpReply> {
  const envelopeFrom = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
  const trace = sessionTrace(session);
  const date = new Date();
  const protocol = withProtocol({ secure: session.secure, authenticated, utf8: usesSmtpUtf8(session) });
  const resolve = recipientResolver(common, session);
  const ok: string[] = [];
  const temp: string[] = [];
  const perm: Array<{ rcpt: string; r: Extract<DeliverResult, { ok: false }> }> = [];
  const results = await mapLimit(session.envelope.rcptTo, DELIVERY_CONCURRENCY, async (rcpt) =>
    deliver(common.store, rcpt.address, raw, {
      envelopeFrom,
      logger: common.logger,
      ...(await resolve(rcpt.address)),
      received: (recipient) => receivedHeader({ ...trace, by: common.hostname, protocol, for: recipient, date }),
    }),
  );
  for (const [i, rcpt] of session.envelope.rcptTo.entries()) {
    const r = results[i]!;
    if (r.ok) ok.push(rcpt.address);
    else if (isPermanent(r.code)) perm.push({ rcpt: rcpt.address, r });
    else temp.push(rcpt.address);
  }
  common.logger.info({ session: session.id, from: envelopeFrom, delivered: ok.length, deferred: temp.length, failed: perm.length }, 'message received');
  if (ok.length === 0 && temp.length === 0 && perm[0]) return new SmtpReply(replyCodeFor(perm[0].r.code), perm[0].r.message, enhancedStatusFor(perm[0].r.code));
  if (ok.length === 0 && perm.length === 0) return new SmtpReply(451, 'Local delivery failed, try again later');
  const hop = Buffer.from(receivedHeader({ ...trace, by: common.hostname, protocol, date }), 'utf8');
  const withHop = Buffer.concat([hop, raw]);
  if (temp.length) {
    try {
      await common.store.queue.enqueue(envelopeFrom, temp, withHop);
    } catch (e) {
      common.logger.error({ err: String(e), rcpts: temp }, 'could not queue deferred local delivery');
      if (ok.length === 0) return new SmtpReply(451, 'Local delivery failed, try again later');
    }
  }
  if (perm.length && envelopeFrom) {
    const failed: FailedRecipient[] = perm.map(({ rcpt, r }) => ({
      recipient: rcpt,
      status: enhancedStatusFor(r.code),
      diagnostic: `${replyCodeFor(r.code)} ${r.message}`,
    }));
    const dsn = buildDsn({ reportingMta: common.hostname, to: envelopeFrom, originalEnvelopeFrom: envelopeFrom, arrivalDate: date, failed, original: raw });
    try {
      await common.store.queue.enqueue('', [envelopeFrom], dsn);
    } catch (e) {
      common.logger.error({ err: String(e) }, 'could not queue bounce');
    }
  }
  return 'Ok: message accepted';
}
