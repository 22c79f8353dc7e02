/**
 * LMTP (RFC 2033): how an MTA such as Postfix hands mail to mailroom.
 * - RCPT for an address that is not a local recipient gets 550 at once (5.1.1); bad syntax 553 (or 501 from
 *   smtp-server's own parser); a store failure while checking 451.
 * - After DATA there is one reply per accepted RCPT (a repeated address too), in RCPT order; each 250 is sent
 *   only after that recipient's copy was committed by the store (deliver() resolves after commit).
 * - One copy per user: recipients that reach the same user (plus-addresses, aliases, repeats) share one
 *   stored copy, and each of them gets that copy's reply.
 * - No AUTH: LMTP listeners belong on loopback or a unix socket reachable only by the MTA.
 */
import type { NetService } from '../lib/service.js';
import { deliverEach, enhancedStatusFor, replyCodeFor } from './deliver.js';
import { checkMessage } from './message-check.js';
import {
  createListenerService,
  localRecipientsOnly,
  resolveCommon,
  sessionTrace,
  SmtpReply,
  transactionRecipients,
  type DeliveryServiceOptions,
} from './smtp-common.js';
import { collectData } from './spool.js';
import { receivedFor, withProtocol } from './trace.js';
import { record } from '../lib/metrics.js';

export function createLmtpService(opts: DeliveryServiceOptions): NetService {
  const common = resolveCommon(opts, 'lmtp');
  const policy = opts.bareLineEnds ?? 'normalize';
  return createListenerService(opts, common, {
    lmtp: true,
    // Oversized messages are answered here, once per RCPT (smtp-server's own answer counts distinct addresses).
    serverOptions: () => ({ disabledCommands: opts.tls ? ['AUTH'] : ['AUTH', 'STARTTLS'], authOptional: true, rejectOversized: false }),
    onRcptTo: localRecipientsOnly(common, () => new SmtpReply(550, 'Not a local domain', '5.1.2')),
    async onData(stream, session, callback) {
      const got = await collectData(stream, common.maxMessageSize, common.spool);
      if (!got) return; // client went away before end of data: nothing stored, nobody to answer
      try {
        const entries = transactionRecipients(session);
        if (got.oversized) {
          const tooBig = new SmtpReply(552, `Error: message exceeds fixed maximum message size ${common.maxMessageSize}`, '5.3.4');
          return callback(null, entries.map(() => tooBig));
        }
        const checked = checkMessage(got.raw, policy);
        if (!checked.ok) return callback(null, entries.map(() => new SmtpReply(checked.code, checked.message, checked.enhanced)));
        const envelopeFrom = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
        const trace = sessionTrace(session);
        const date = new Date();
        const protocol = withProtocol({ lmtp: true, secure: session.secure, authenticated: false });
        // One copy per user (recipients of the same user share it and its reply); copies are written
        // concurrently (sharing commits); the replies go out in RCPT order once all are done, each 250 only
        // for a copy the store committed.
        const delivered = await deliverEach(common.store, entries, checked.raw, {
          envelopeFrom,
          logger: common.logger,
          stages: common.stages,
          quotaFullTemporary: common.quotaFullTemporary,
          transport: 'lmtp',
          received: receivedFor({ ...trace, by: common.hostname, protocol, date }),
        });
        const results = delivered.map((r, i): string | Error => {
          record.delivery('lmtp', r.ok);
          if (r.ok) {
            common.logger.info({ session: session.id, rcpt: entries[i]!.address, user: r.address, uid: r.uid }, 'delivered');
            return r.copies.length ? `Ok: delivered as uid ${r.uid}` : 'Ok: message discarded by filter';
          }
          common.logger.warn({ session: session.id, rcpt: entries[i]!.address, code: r.code }, 'delivery failed');
          if (r.reply) return new SmtpReply(r.reply.code, r.message, r.reply.enhanced);
          return new SmtpReply(replyCodeFor(r.code), r.message, enhancedStatusFor(r.code));
        });
        callback(null, results);
      } finally {
        got.release();
      }
    },
  });
}
