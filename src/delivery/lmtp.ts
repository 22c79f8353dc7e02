/**
 * LMTP (RFC 2033): how an MTA such as Postfix hands mail to mailroom.
 * - RCPT for an address that is not a local recipient gets 550 at once (5.1.1); bad syntax 553 (or 501 from
 *   smtp-server's own parser); a store failure while checking 451.
 * - After DATA there is one reply per accepted recipient, in RCPT order; each 250 is sent only after that
 *   recipient's copy was committed by the store (deliver() resolves after commit).
 * - No AUTH: LMTP listeners belong on loopback or a unix socket reachable only by the MTA.
 */
import type { NetService } from '../lib/service.js';
import { deliver, DELIVERY_CONCURRENCY, enhancedStatusFor, mapLimit, replyCodeFor } from './deliver.js';
import { checkMessage } from './message-check.js';
import {
  collectData,
  createListenerService,
  localRecipientsOnly,
  recipientResolver,
  resolveCommon,
  sessionTrace,
  SmtpReply,
  type DeliveryServiceOptions,
} from './smtp-common.js';
import { receivedHeader, withProtocol } from './trace.js';

export function createLmtpService(opts: DeliveryServiceOptions): NetService {
  const common = resolveCommon(opts, 'lmtp');
  const policy = opts.bareLineEnds ?? 'normalize';
  return createListenerService(opts, common, {
    lmtp: true,
    serverOptions: () => ({ disabledCommands: opts.tls ? ['AUTH'] : ['AUTH', 'STARTTLS'], authOptional: true }),
    onRcptTo: localRecipientsOnly(common, () => new SmtpReply(550, 'Not a local domain', '5.1.2')),
    async onData(stream, session, callback) {
      const got = await collectData(stream, common.maxMessageSize);
      if (!got) return; // client went away before end of data: nothing stored, nobody to answer
      if (got.oversized) return callback(null); // smtp-server answers 552 per recipient
      const checked = checkMessage(got.raw, policy);
      if (!checked.ok) return callback(new SmtpReply(checked.code, checked.message, checked.enhanced));
      const envelopeFrom = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
      const trace = sessionTrace(session);
      const date = new Date();
      const resolve = recipientResolver(common, session);
      // Copies are written concurrently (sharing commits); the replies go out in RCPT order once all are done,
      // each 250 only for a copy the store committed.
      const results = await mapLimit(session.envelope.rcptTo, DELIVERY_CONCURRENCY, async (rcpt): Promise<string | Error> => {
        const r = await deliver(common.store, rcpt.address, checked.raw, {
          envelopeFrom,
          logger: common.logger,
          ...(await resolve(rcpt.address)),
          received: (recipient) =>
            receivedHeader({
              ...trace,
              by: common.hostname,
              protocol: withProtocol({ lmtp: true, secure: session.secure, authenticated: false }),
              for: recipient,
              date,
            }),
        });
        if (r.ok) {
          common.logger.info({ session: session.id, rcpt: r.recipient, user: r.address, uid: r.uid }, 'delivered');
          return `Ok: delivered as uid ${r.uid}`;
        }
        common.logger.warn({ session: session.id, rcpt: rcpt.address, code: r.code }, 'delivery failed');
        return new SmtpReply(replyCodeFor(r.code), r.message, enhancedStatusFor(r.code));
      });
      callback(null, results);
    },
  });
}
