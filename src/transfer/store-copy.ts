/**
 * transferStore(from, to): copies one store into another through the store interfaces only (any backend on
 * either side): users (with password hashes and their own quota limits, set once their mail is in: no
 * quota stops a transfer), domains, aliases, mailboxes (special-use, subscriptions), messages with flags, INTERNALDATE and EMAILID (so POP3 UIDLs survive a migration such as SQLite ->
 * PostgreSQL), and the outbound queue. UIDs are renumbered and UIDVALIDITY is new (the target allocates
 * them), so IMAP clients resynchronise once; that is what RFC 9051 UIDVALIDITY is for.
 *
 * Resolves with a report (counts and the messages skipped with their reason); individual bad messages are
 * skipped and reported, never fatal. Failures of the stores themselves propagate (StoreError); an unknown
 * user in `users` is NOT_FOUND, a user already in the target with existing 'fail' is EXISTS.
 */
import type { Store } from '../store/handle.js';
import { StoreError, isStoreError } from '../store/types.js';
import { ensureMailbox, type Skipped } from './common.js';

export interface TransferProgress {
  user: string;
  mailbox: string;
  /** Messages copied so far in this mailbox, and how many it has. */
  done: number;
  total: number;
}

export interface TransferOptions {
  /** Only these users (addresses, any case). Default: all. */
  users?: string[];
  /**
   * A user who already exists in the target: 'fail' (default; StoreError EXISTS before anything is written
   * for that user) or 'merge' (mailboxes are reused, messages added; with EMAILIDs kept, a message already
   * present is skipped, so re-running a merge does not duplicate mail).
   */
  existing?: 'fail' | 'merge';
  /** Keep EMAILIDs (default true). */
  keepEmailIds?: boolean;
  /** Also copy domains, aliases and the outbound queue (default true). */
  includeGlobal?: boolean;
  onProgress?: (p: TransferProgress) => void;
}

export interface TransferReport {
  users: number;
  mailboxes: number;
  messages: number;
  bytes: number;
  domains: number;
  aliases: number;
  outbound: number;
  skipped: Skipped[];
}

/** The parts of a store a transfer reads or writes. */
export type TransferSide = Pick<Store, 'directory' | 'mail' | 'queue'> & Partial<Pick<Store, 'quota'>>;

/** Copies everything from `from` into `to` (see the module comment). */
export async function transferStore(from: TransferSide, to: TransferSide, opts: TransferOptions = {}): Promise<TransferReport> {
  const report: TransferReport = { users: 0, mailboxes: 0, messages: 0, bytes: 0, domains: 0, aliases: 0, outbound: 0, skipped: [] };
  const keepIds = opts.keepEmailIds ?? true;
  const only = opts.users ? new Set(opts.users.map((u) => u.trim().toLowerCase())) : null;
  const users = (await from.directory.listUsers()).filter((u) => !only || only.has(u.address));
  if (only) {
    for (const a of only) if (!users.some((u) => u.address === a)) throw new StoreError('NOT_FOUND', `no such user in the source: ${a}`);
  }
  if ((opts.existing ?? 'fail') === 'fail') {
    for (const u of users) if (await to.directory.getUser(u.address)) throw new StoreError('EXISTS', `user ${u.address} already exists in the target`);
  }

  if (opts.includeGlobal ?? true) {
    for (const d of await from.directory.listDomains()) {
      await to.directory.addDomain(d);
      report.domains++;
    }
    for (const a of await from.directory.listAliases()) {
      await to.directory.addAlias(a.from, a.to);
      report.aliases++;
    }
  }

  for (const u of users) {
    let target = await to.directory.getUser(u.address);
    const created = !target;
    if (!target) target = await to.directory.createUser(u.address, u.passwordHash);
    report.users++;
    // No quota stops the copy; afterwards the user has their own limits from the source (or keeps the target's).
    const own = from.quota ? await from.quota.settings(u.id) : { storage: null, messages: null };
    const kept = to.quota ? await to.quota.settings(target.id) : null;
    await to.quota?.setLimits(target.id, { storage: Number.POSITIVE_INFINITY, messages: Number.POSITIVE_INFINITY });
    const boxes = await from.mail.listMailboxes(u.id);
    if (created) {
      // A new target user starts with the default mailboxes; drop those the source user does not have.
      const names = new Set(boxes.map((b) => b.name));
      for (const b of await to.mail.listMailboxes(target.id)) {
        if (!names.has(b.name) && b.name !== 'INBOX') await to.mail.deleteMailbox(target.id, b.name).catch(() => undefined);
      }
    }
    for (const box of boxes) {
      const dst = await ensureMailbox(to.mail, target.id, box.name, box.specialUse);
      if (dst.specialUse !== box.specialUse && (created || box.specialUse !== null)) await to.mail.setSpecialUse(dst.id, box.specialUse);
      report.mailboxes++;
      const metas = await from.mail.listMessages(box.id);
      let done = 0;
      for (const m of metas) {
        let raw: Buffer;
        try {
          raw = await from.mail.readBytes(box.id, m.uid);
        } catch (e) {
          if (isStoreError(e, 'NOT_FOUND')) {
            report.skipped.push({ item: `${u.address}/${box.name} uid ${m.uid}`, reason: 'expunged during the transfer' });
            continue;
          }
          throw e;
        }
        try {
          await to.mail.append(dst.id, raw, { flags: m.flags, internalDate: m.internalDate, ...(keepIds ? { emailId: m.emailId } : {}) });
          report.messages++;
          report.bytes += raw.length;
        } catch (e) {
          if (isStoreError(e, 'EXISTS')) report.skipped.push({ item: `${u.address}/${box.name} uid ${m.uid}`, reason: 'already present (same EMAILID)' });
          else if (isStoreError(e, 'TOO_BIG') || isStoreError(e, 'INVALID')) {
            report.skipped.push({ item: `${u.address}/${box.name} uid ${m.uid}`, reason: e.message });
          } else throw e;
        }
        done++;
        opts.onProgress?.({ user: u.address, mailbox: box.name, done, total: metas.length });
      }
    }
    // Subscriptions: the source's set exactly (a new target user starts with its defaults subscribed).
    const want = new Set(await from.mail.listSubscriptions(u.id));
    for (const name of want) await to.mail.setSubscribed(target.id, name, true);
    if (created) for (const name of await to.mail.listSubscriptions(target.id)) if (!want.has(name)) await to.mail.setSubscribed(target.id, name, false);
    if (kept) await to.quota?.setLimits(target.id, { storage: own.storage ?? kept.storage, messages: own.messages ?? kept.messages });
  }

  if (opts.includeGlobal ?? true) {
    for (const o of await from.queue.list()) {
      const raw = await from.queue.read(o.id);
      const id = await to.queue.enqueue(o.sender, o.recipients, raw);
      await to.queue.update(id, { recipients: o.recipients, attempts: o.attempts, nextAttemptAt: o.nextAttemptAt, lastError: o.lastError });
      report.outbound++;
    }
  }
  return report;
}
