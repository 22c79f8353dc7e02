/**
 * The Sieve delivery stage (delivery/pipeline.ts): runs after the spam stage for every local copy.
 *
 * Scripts run in sequence as Pigeonhole's sieve_before / user / sieve_after do: the administrator's
 * "before" scripts, the user's active script, the "after" scripts; the sequence goes on only while the
 * message is kept (a script that files, discards, rejects or redirects without keeping ends it), and the
 * implicit keep of the last script run decides whether the message is kept. "Keep" means wherever the
 * earlier stages put it (INBOX, or Junk for spam), with the flags the script set.
 *
 * Actions become the Disposition: fileinto (flags, :create, :mailboxid) and keep are targets; discard
 * leaves none; reject/ereject refuse the recipient with 550 5.7.1 at LMTP/SMTP time, or, for mail from the
 * queue or submission, are answered with a bounce to the envelope sender; redirect and vacation become
 * after-commit jobs that enqueue through store.queue (so the smart host and DKIM signing apply). The
 * user's vacation setting (store.sieve.getVacation: JMAP, web) acts as a vacation action when enabled and
 * within its dates and the scripts sent none. No vacation reply is sent for spam.
 *
 * Safety: a runtime error or limit hit in a script keeps the message (earlier scripts' actions stand) and
 * is logged with the user; once a run redirected, answered or rejected a message, the same message (by
 * Message-ID) delivered to the same user again does not run the scripts again (the earlier stages' decision
 * stands), which also ends redirect loops between local users; a message that this user already redirected
 * is not redirected again.
 */
import { createHash } from 'node:crypto';
import type { DeliveryStage, Disposition, LocalMessage, Target } from '../delivery/pipeline.js';
import { buildDsn } from '../delivery/dsn.js';
import type { Logger } from '../lib/logger.js';
import { asciiLower } from '../lib/ascii.js';
import type { Store } from '../store/handle.js';
import type { SieveQuota } from '../store/sieve.js';
import { runSieve, type SieveAction, type SieveEnv, type SieveLimits } from './index.js';
import { GlobalScripts, UserScripts, type NamedScript } from './deliver-scripts.js';
import {
  buildVacationReply,
  headerFields,
  messageId,
  redirectedBy,
  redirectedCopy,
  vacationHandle,
  vacationRefusal,
} from './deliver-outgoing.js';

export interface SieveStageOptions {
  store: Pick<Store, 'sieve' | 'mail' | 'queue'>;
  /** Our host name (environment "host", vacation Message-IDs, bounces). */
  hostname: string;
  logger: Logger;
  /** Scripts run before the user's (files or directories of *.sieve files). */
  before?: readonly string[];
  /** Scripts run after the user's. */
  after?: readonly string[];
  /** Directory of scripts for `include :global`. */
  globalDir?: string | null;
  /** Called after something was queued (the outbound queue's kick). */
  kickQueue?: () => void;
  /** How long a Message-ID is remembered so a second delivery does not run the scripts again (seconds). */
  oncePeriod?: number;
  limits?: Partial<SieveLimits>;
  now?: () => Date;
}

/** What an operator configures (serve's sieve-before, sieve-after, sieve-global and quota keys). */
export interface SieveSettings {
  before?: readonly string[];
  after?: readonly string[];
  globalDir?: string | null;
  /** Per-user script limits (ManageSieve, CLI); unset keys keep DEFAULT_SIEVE_QUOTA's. */
  quota?: Partial<SieveQuota>;
}

/** RFC 5230 4.1 default :days for the vacation setting (it has no period of its own). */
export const SETTING_VACATION_SECONDS = 7 * 86400;
/** Default oncePeriod: one day, as Dovecot's duplicate database keeps LMTP deliveries. */
export const ONCE_PERIOD = 86400;
/** Reply records are kept this long at least (longer than any sensible :days). */
const VACATION_MEMORY_MS = 366 * 86400 * 1000;
const VERSION = '0.1.0';

const digest = (s: string): string => createHash('sha256').update(s).digest('hex').slice(0, 40);

type Fields = ReturnType<typeof headerFields>;

export function createSieveStage(opts: SieveStageOptions): DeliveryStage {
  return new SieveStage(opts);
}

class SieveStage implements DeliveryStage {
  readonly name = 'sieve';
  readonly #o: SieveStageOptions;
  readonly #globals: GlobalScripts;
  readonly #users: UserScripts;
  readonly #now: () => Date;

  constructor(o: SieveStageOptions) {
    this.#o = o;
    this.#globals = new GlobalScripts(o.before ?? [], o.after ?? [], o.globalDir ?? null, o.logger);
    this.#users = new UserScripts(o.store.sieve, o.logger);
    this.#now = o.now ?? (() => new Date());
  }

  async run(msg: LocalMessage, d: Disposition, log: Logger): Promise<void> {
    const store = this.#o.store;
    const now = this.#now();
    const seq = this.#globals.sequences(now.getTime());
    // One read for both when the store offers it.
    const state = store.sieve.deliveryState ? await store.sieve.deliveryState(msg.userId) : null;
    const user = await this.#users.active(msg.userId, state ? state.active : undefined);
    const setting = state ? state.vacation : await store.sieve.getVacation(msg.userId);
    const vacationOn =
      setting.enabled && (!setting.fromDate || setting.fromDate.getTime() <= now.getTime()) && (!setting.toDate || now.getTime() < setting.toDate.getTime());
    const scripts: NamedScript[] = [...seq.before, ...(user ? [user] : []), ...seq.after];
    if (scripts.length === 0 && !vacationOn) return;

    const input = d.message ?? msg.raw;
    const fields = headerFields(input);
    const mid = messageId(fields);
    const onceKey = mid ? `once:${digest(mid)}` : null;
    if (onceKey && (await store.sieve.duplicateSeen(msg.userId, onceKey, now))) {
      log.info({ user: msg.address, messageId: mid }, 'sieve: message already delivered to this user; scripts not run again');
      return;
    }
    const records: Array<{ key: string; seconds: number }> = [];
    const own = [...new Set([msg.address, msg.recipient, ...msg.members].map((a) => a.toLowerCase()))];
    const env = this.#env(msg, d, input, own, now, records);

    const actions: SieveAction[] = [];
    let message = input;
    let keep = true;
    let keepFlags: string[] = [];
    for (const s of scripts) {
      env.message = message;
      const r = await runSieve(s.script, env);
      if (r.errors.length) {
        log.warn({ user: msg.address, script: s.name, errors: r.errors }, 'sieve: runtime error; keeping the message');
        actions.push({ type: 'keep', flags: [] });
        keep = false;
        break;
      }
      // The interpreter lists the implicit keep as a final keep action (with the imap4flags flags): it is
      // deferred to the end of the sequence, where only the last script's decides.
      const acts = [...r.actions];
      const last = acts[acts.length - 1];
      if (r.implicitKeep && last?.type === 'keep') {
        acts.pop();
        keepFlags = last.flags;
      } else keepFlags = [];
      actions.push(...acts);
      message = r.message;
      keep = r.implicitKeep;
      if (!keep && !acts.some((a) => a.type === 'keep')) break;
    }
    if (vacationOn && !actions.some((a) => a.type === 'vacation')) {
      actions.push({ type: 'vacation', reason: setting.textBody, ...(setting.subject ? { subject: setting.subject } : {}), addresses: [], mime: false, handle: 'vacation-setting', seconds: SETTING_VACATION_SECONDS });
    }
    await this.#apply(msg, d, { actions, keep, keepFlags, message, input, fields, own, now, setting: vacationOn ? setting : null }, log);
    // Remembered only when the run sent something (a redirect, a vacation reply, a rejection): repeating
    // those is what must not happen; a second run that only files the copy again is harmless and saves a
    // write per delivery.
    if (onceKey && actions.some((a) => a.type === 'redirect' || a.type === 'vacation' || a.type === 'reject')) {
      records.push({ key: onceKey, seconds: this.#o.oncePeriod ?? ONCE_PERIOD });
    }
    if (records.length) {
      d.after.push(async () => {
        for (const r of records) await store.sieve.recordDuplicate(msg.userId, r.key, now, new Date(now.getTime() + r.seconds * 1000));
      });
    }
  }

  #env(msg: LocalMessage, d: Disposition, input: Buffer, own: string[], now: Date, records: Array<{ key: string; seconds: number }>): SieveEnv {
    const store = this.#o.store;
    const spam = d.notes['spam'] as { score?: number } | undefined;
    const domain = msg.address.slice(msg.address.lastIndexOf('@') + 1);
    return {
      message: input,
      envelope: { from: msg.envelopeFrom, to: msg.recipient, auth: null },
      mailboxExists: async (name) => (await store.mail.getMailbox(msg.userId, name)) !== null,
      mailboxIdExists: async (id) => (await store.mail.listMailboxes(msg.userId)).some((b) => b.mailboxObjectId === id),
      spamScore: typeof spam?.score === 'number' ? spam.score : null,
      virusScore: null,
      duplicate: {
        seen: async (id, seconds) => {
          const key = `dup:${digest(id)}`;
          records.push({ key, seconds });
          return store.sieve.duplicateSeen(msg.userId, key, now);
        },
      },
      include: async (name, scope) => (scope === 'global' ? this.#globals.include(name) : this.#users.personal(msg.userId, name)),
      environment: { domain, host: this.#o.hostname, location: 'MDA', name: 'mailroom', phase: 'during', version: VERSION },
      now,
      userAddresses: own,
      ...(this.#o.limits ? { limits: this.#o.limits } : {}),
    };
  }

  async #apply(
    msg: LocalMessage,
    d: Disposition,
    r: { actions: SieveAction[]; keep: boolean; keepFlags: string[]; message: Buffer; input: Buffer; fields: Fields; own: string[]; now: Date; setting: { htmlBody?: string | null } | null },
    log: Logger,
  ): Promise<void> {
    const keepTargets = d.targets.map((t) => ({ ...t }));
    const targets: Target[] = [];
    const kept = (flags: string[]): void => {
      for (const t of keepTargets) targets.push(flags.length ? { ...t, flags } : { ...t });
    };
    let keep = r.keep;
    for (const a of r.actions) {
      switch (a.type) {
        case 'keep':
          kept(a.flags);
          break;
        case 'fileinto': {
          const name = (a.mailboxId && (await this.#mailboxById(msg.userId, a.mailboxId))) || a.mailbox;
          targets.push({ mailbox: name, ...(a.flags.length ? { flags: a.flags } : {}), ...(a.create ? { create: true } : {}) });
          break;
        }
        case 'discard':
          break;
        case 'reject':
          this.#reject(msg, d, a.reason, r.message, r.now, log);
          break;
        case 'redirect':
          if (redirectedBy(r.fields, msg.address)) {
            log.warn({ user: msg.address, to: a.address }, 'sieve: message already redirected by this user (loop); kept instead');
            keep = true;
          } else this.#send(d, msg.envelopeFrom, a.address, redirectedCopy(r.message, msg.address), log, 'redirect');
          break;
        case 'vacation':
          await this.#vacation(msg, d, a, r, log);
          break;
      }
    }
    if (keep) kept(r.keepFlags);
    d.targets = targets;
    if (r.message !== r.input) d.message = r.message;
  }

  async #mailboxById(userId: number, id: string): Promise<string | null> {
    return (await this.#o.store.mail.listMailboxes(userId)).find((b) => b.mailboxObjectId === id)?.name ?? null;
  }

  #reject(msg: LocalMessage, d: Disposition, reason: string, message: Buffer, now: Date, log: Logger): void {
    const text = reason.replace(/[\r\n\t]+/g, ' ').replace(/[^\x20-\x7e]/g, '?').trim().slice(0, 400) || 'Message rejected';
    if (msg.transport === 'lmtp' || msg.transport === 'smtp') {
      d.refuse = { code: 550, enhanced: '5.7.1', message: text };
      return;
    }
    if (!msg.envelopeFrom) return; // RFC 5429 2.1: no rejection message for the null sender; discard
    const dsn = buildDsn({
      reportingMta: this.#o.hostname,
      to: msg.envelopeFrom,
      originalEnvelopeFrom: msg.envelopeFrom,
      arrivalDate: now,
      failed: [{ recipient: msg.recipient, status: '5.7.1', diagnostic: `550 5.7.1 ${text}` }],
      original: message,
    });
    this.#send(d, '', msg.envelopeFrom, dsn, log, 'reject');
  }

  async #vacation(
    msg: LocalMessage,
    d: Disposition,
    a: Extract<SieveAction, { type: 'vacation' }>,
    r: { fields: Fields; own: string[]; now: Date; setting: { htmlBody?: string | null } | null },
    log: Logger,
  ): Promise<void> {
    const spam = d.notes['spam'] as { isSpam?: boolean } | undefined;
    const why = spam?.isSpam ? 'spam' : vacationRefusal({ fields: r.fields, envelopeFrom: msg.envelopeFrom, own: [...r.own, ...a.addresses] });
    if (why) {
      log.debug({ user: msg.address, why }, 'sieve: no vacation reply');
      return;
    }
    const handle = a.handle ?? vacationHandle(a);
    const sender = msg.envelopeFrom.toLowerCase();
    const last = await this.#o.store.sieve.vacationSentAt(msg.userId, sender, handle);
    if (last && r.now.getTime() - last.getTime() < a.seconds * 1000) {
      log.debug({ user: msg.address, to: sender }, 'sieve: vacation reply already sent in this period');
      return;
    }
    const htmlBody = a.handle === 'vacation-setting' ? r.setting?.htmlBody : null;
    // RFC 5230 4.2 lets an implementation restrict :from: only the user's own addresses, or the server would
    // send replies in anyone's name (another local user's) to whoever mails the user.
    const from = a.from && r.own.includes(asciiLower(fromAddress(a.from))) ? a.from : msg.address;
    if (a.from && from !== a.from) log.info({ user: msg.address, from: a.from }, 'sieve: vacation :from is not one of the user\'s addresses; using the user\'s');
    const reply = buildVacationReply({ fields: r.fields, to: msg.envelopeFrom, from, reason: a.reason, subject: a.subject, mime: a.mime, htmlBody, hostname: this.#o.hostname, now: r.now });
    this.#send(d, '', reply.to, reply.raw, log, 'vacation', async () => {
      await this.#o.store.sieve.recordVacation(msg.userId, sender, handle, r.now, new Date(r.now.getTime() - VACATION_MEMORY_MS));
    });
  }

  /** Queues `raw` from `from` to `to` after the copies are committed. */
  #send(d: Disposition, from: string, to: string, raw: Buffer, log: Logger, what: string, then?: () => Promise<void>): void {
    d.after.push(async () => {
      const id = await this.#o.store.queue.enqueue(from, [to], raw);
      log.info({ what, to, id }, 'sieve: message queued');
      if (then) await then();
      this.#o.kickQueue?.();
    });
  }
}

/** The address of a :from value: inside its angle brackets when it has them ("Name <a@b>"), else all of it. */
function fromAddress(v: string): string {
  const m = /<([^<>]*)>\s*$/.exec(v);
  return (m ? m[1]! : v).trim();
}
