/**
 * SMTP in the MX role (RFC 5321) for the local domains.
 * - Accepts mail only for existing local recipients (users, aliases, plus-addresses, catch-all). No AUTH is
 *   offered here, so relaying is never allowed: RCPT for a domain that is not local gets 550 "Relaying denied".
 * - SIZE (552), 8BITMIME, SMTPUTF8, PIPELINING, ENHANCEDSTATUSCODES, STARTTLS (when tls is configured).
 * - Each local copy gets Return-Path, Delivered-To and Received (see deliver.ts, trace.ts) and goes to INBOX.
 * - One copy per user per message: recipients reaching the same user (plus-addresses, aliases, repeats)
 *   share one stored copy.
 * - One reply per message (SMTP), all or nothing: 250 once every copy is committed; else nothing is kept and
 *   the failure (e.g. 554 5.4.6 for a Delivered-To naming a recipient, 552, 451) is the reply. The MX never
 *   queues a bounce: its envelope senders are unverified, and a bounce to a forged one is backscatter.
 * - With `mxChecks` (mailauth/mx.ts): SPF, DKIM, DMARC and ARC are checked at the end of DATA; DMARC
 *   p=reject failures get 550 5.7.1 (451 4.7.5 when a DNS failure may be the cause), the rest is delivered
 *   with one Authentication-Results field on top and the results as the stages' facts.
 */
import type { SMTPServerSession } from 'smtp-server';
import type { NetService } from '../lib/service.js';
import {
  deliverGroup,
  DELIVERY_CONCURRENCY,
  enhancedStatusFor,
  groupLoop,
  groupRecipients,
  isPermanent,
  mapLimit,
  replyCodeFor,
  type DeliverResult,
  type DeliveryGroup,
} from './deliver.js';
import { checkMessage } from './message-check.js';
import {
  createListenerService,
  localRecipientsOnly,
  resolveCommon,
  sessionTrace,
  SmtpReply,
  transactionRecipients,
  usesSmtpUtf8,
  type DeliveryServiceOptions,
  type ResolvedCommon,
} from './smtp-common.js';
import { collectData } from './spool.js';
import { receivedHeader, withProtocol } from './trace.js';

export function createSmtpService(opts: DeliveryServiceOptions): NetService {
  const common = resolveCommon(opts, 'smtp');
  const policy = opts.bareLineEnds ?? 'reject';
  return createListenerService(opts, common, {
    lmtp: false,
    serverOptions: () => ({ disabledCommands: opts.tls ? ['AUTH'] : ['AUTH', 'STARTTLS'], authOptional: true }),
    onRcptTo: localRecipientsOnly(common, () => new SmtpReply(550, 'Relaying denied', '5.7.1')),
    async onData(stream, session, callback) {
      const mailFrom = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
      const who = { ip: session.remoteAddress, helo: session.hostNameAppearsAs || '', mailFrom };
      common.mxChecks?.start?.(who); // SPF runs while the message arrives
      const got = await collectData(stream, common.maxMessageSize, common.spool);
      if (!got) return;
      try {
        if (got.oversized) return callback(null);
        const checked = checkMessage(got.raw, policy);
        if (!checked.ok) return callback(new SmtpReply(checked.code, checked.message, checked.enhanced));
        let raw = checked.raw;
        let facts: Readonly<Record<string, unknown>> = {};
        if (common.mxChecks) {
          // SPF, DKIM, DMARC, ARC (mailauth/mx.ts): a DMARC reject is refused here, at the end of DATA.
          const auth = await common.mxChecks(raw, who);
          if (auth.refuse) {
            common.logger.info({ session: session.id, from: mailFrom, code: auth.refuse.code, dmarc: auth.verdict.dmarc }, 'message refused by DMARC policy');
            return callback(new SmtpReply(auth.refuse.code, auth.refuse.message, auth.refuse.enhanced));
          }
          raw = auth.raw;
          facts = auth.facts;
        }
        const reply = await deliverAll(common, session, raw, false, facts);
        if (reply instanceof Error) callback(reply);
        else callback(null, reply);
      } finally {
        got.release();
      }
    },
  });
}

/**
 * Delivers one message to the session's recipients (all local), one copy per user, all or nothing, and
 * decides the single SMTP reply: 250 once every copy is committed; otherwise nothing is kept (copies already
 * committed are expunged again) and the failure is the reply (5xx when a recipient failed for good, else
 * 4xx), naming the recipients it concerns. Nothing is queued and no bounce is made: the sender of mail
 * arriving here is not verified, so a bounce to it would be backscatter.
 */
export async function deliverAll(
  common: ResolvedCommon,
  session: SMTPServerSession,
  raw: Buffer,
  authenticated: boolean,
  facts: Readonly<Record<string, unknown>> = {},
): Promise<string | SmtpReply> {
  const envelopeFrom = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
  const trace = sessionTrace(session);
  const date = new Date();
  const protocol = withProtocol({ secure: session.secure, authenticated, utf8: usesSmtpUtf8(session) });
  const { groups } = await groupRecipients(common.store.directory, transactionRecipients(session));
  // What can be known before storing anything: a recipient no longer local, a planted Delivered-To.
  const early = groups.map((g): Failure | null => {
    if (g.resolution.kind !== 'local') return { group: g, r: { ok: false, code: g.resolution.kind === 'invalid' ? 'INVALID' : 'UNKNOWN', message: 'No such user here' } };
    const loop = groupLoop(raw, g);
    return loop ? { group: g, r: loop } : null;
  });
  const refused = early.filter((f): f is Failure => f !== null);
  if (refused.length) return failureReply(common, session, envelopeFrom, refused);
  const results = await mapLimit(groups, DELIVERY_CONCURRENCY, (g) =>
    deliverGroup(common.store, g, raw, {
      envelopeFrom,
      logger: common.logger,
      stages: common.stages,
      quotaFullTemporary: common.quotaFullTemporary,
      transport: 'smtp',
      facts,
      received: (recipient) => receivedHeader({ ...trace, by: common.hostname, protocol, for: recipient, date }),
    }),
  );
  const failed: Failure[] = [];
  for (const [i, r] of results.entries()) if (!r.ok) failed.push({ group: groups[i]!, r });
  if (!failed.length) {
    common.logger.info({ session: session.id, from: envelopeFrom, copies: groups.length }, 'message received');
    return 'Ok: message accepted';
  }
  for (const r of results) {
    if (!r.ok) continue;
    for (const c of r.copies) {
      try {
        await common.store.mail.storeFlags(c.mailboxId, [c.uid], { op: 'add', flags: ['\\Deleted'] });
        await common.store.mail.expunge(c.mailboxId, [c.uid]);
      } catch (e) {
        common.logger.error({ err: String(e), session: session.id, user: r.address, uid: c.uid }, 'could not take back a copy of a refused message');
      }
    }
  }
  return failureReply(common, session, envelopeFrom, failed);
}

type Failure = { group: DeliveryGroup; r: Extract<DeliverResult, { ok: false }> };

/** The reply for a refused message: the first permanent failure (else the first one), naming every failed recipient. */
function failureReply(common: ResolvedCommon, session: SMTPServerSession, envelopeFrom: string, failed: Failure[]): SmtpReply {
  const main = failed.find((f) => isPermanent(f.r.code)) ?? failed[0]!;
  const who = failed.flatMap((f) => f.group.members.map((m) => `<${m}>`)).join(', ');
  common.logger.info({ session: session.id, from: envelopeFrom, failed: who, code: main.r.code }, 'message refused');
  const code = main.r.reply?.code ?? replyCodeFor(main.r.code);
  return new SmtpReply(code, `${main.r.message} (${who})`, main.r.reply?.enhanced ?? enhancedStatusFor(main.r.code));
}
