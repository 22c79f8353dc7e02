/**
 * SqliteMailboxes: the mailbox half of the SQLite MailStore (mail.ts completes it): mailboxes and
 * subscriptions (RFC 9051 6.3), URLAUTH access keys (RFC 4467), STATUS counts, \Recent claims, message lists, the change log
 * (changesSince, RFC 7162) and change subscriptions. Failures are StoreError values (NOT_FOUND, EXISTS,
 * NO_PERM, HAS_CHILDREN, INVALID; TEMPORARY when the database is busy or the store is closed).
 */
import { randomBytes } from 'node:crypto';
import type { ChangeEvent, Changes, Mailbox, MailboxChangeOptions, MailboxListEvent, MailboxStatus, MessageMeta, SpecialUse } from '../types.js';
import { StoreError } from '../types.js';
import { checkSpecialUse } from '../message-prep.js';
import { childNameRange, mailboxNameOrNull, normalizeMailboxName, renameNames } from '../names.js';
import { statusOf } from './caches.js';
import type { SqliteCore } from './core.js';
import { dropMailbox, insertMailboxRow, moveRows } from './mutations.js';
import { listEvent, originOf } from '../mailbox-list.js';
import { emitListChanges, logListChange, subscribeList } from './mailbox-list.js';
import { rawToMeta, toMailbox, type FullMsgRow, type MailboxRow, type RawMsgRow } from './rows.js';

export class SqliteMailboxes {
  /** Per mailbox, the queued claimRecent: resolves to the FIRST_RECENT it sets (see claimRecent). */
  private readonly recentClaims = new Map<number, Promise<number>>();

  constructor(protected readonly core: SqliteCore) {}

  // ---------------------------------------------------------------------------------------------
  // mailboxes

  listMailboxes(userId: number): Promise<Mailbox[]> {
    return this.core.run(async () => {
      const rows = this.core
        .sql(
          `SELECT m.*, (s.name IS NOT NULL) AS subscribed FROM mailboxes m
           LEFT JOIN subscriptions s ON s.user_id = m.user_id AND s.name = m.name
           WHERE m.user_id = ? ORDER BY (m.name != 'INBOX'), m.name`,
        )
        .all(userId) as MailboxRow[];
      return rows.map((r) => toMailbox(r, r.subscribed === 1));
    });
  }

  getMailbox(userId: number, name: string): Promise<Mailbox | null> {
    return this.core.run(async () => {
      const n = mailboxNameOrNull(name);
      if (n === null) return null;
      const r = this.core.st.mailboxByNameSub.get(userId, n) as MailboxRow | undefined;
      return r ? toMailbox(r, r.subscribed === 1) : null;
    });
  }

  getMailboxById(mailboxId: number): Promise<Mailbox | null> {
    return this.core.run(async () => {
      const r = this.core.st.mailboxSub.get(mailboxId) as MailboxRow | undefined;
      return r ? toMailbox(r, r.subscribed === 1) : null;
    });
  }

  createMailbox(userId: number, name: string, opts?: { specialUse?: SpecialUse | null } & MailboxChangeOptions): Promise<Mailbox> {
    return this.core.run(async () => {
      const n = normalizeMailboxName(name);
      const su = opts?.specialUse ?? null;
      checkSpecialUse(su);
      const { mb, ev } = this.core.tx(() => {
        this.core.userRow(userId);
        if (this.core.st.mailboxByName.get(userId, n)) throw new StoreError('EXISTS', 'mailbox exists');
        const id = insertMailboxRow(this.core, userId, n, su);
        const ev = logListChange(this.core, listEvent(userId, 'create', n, null, originOf(opts)));
        return { mb: this.core.mailboxWithSub(this.core.st.mailbox.get(id) as MailboxRow), ev };
      });
      emitListChanges(this.core, [ev]);
      return mb;
    });
  }

  deleteMailbox(userId: number, name: string, opts?: MailboxChangeOptions): Promise<void> {
    return this.core.run(async () => {
      const n = normalizeMailboxName(name);
      if (n === 'INBOX') throw new StoreError('NO_PERM', 'INBOX cannot be deleted');
      const doomed: string[] = [];
      const b = this.core.tx(() => {
        const b = this.core.st.mailboxByName.get(userId, n) as MailboxRow | undefined;
        if (!b) throw new StoreError('NOT_FOUND', 'no such mailbox');
        const child = this.core
          .sql('SELECT 1 FROM mailboxes WHERE user_id = ? AND name >= ? AND name < ? LIMIT 1')
          .get(userId, ...childNameRange(n));
        if (child) throw new StoreError('HAS_CHILDREN', 'mailbox has children');
        dropMailbox(this.core, b, doomed);
        return { ...b, ev: logListChange(this.core, listEvent(userId, 'delete', n, null, originOf(opts))) };
      });
      emitListChanges(this.core, [b.ev]);
      this.core.emit(b.user_id, b.id, b.highest_modseq + 1);
      this.core.hub.announced.delete(b.id);
      this.core.unlinkAll(doomed);
    });
  }

  renameMailbox(userId: number, from: string, to: string, opts?: MailboxChangeOptions): Promise<void> {
    return this.core.run(async () => {
      const { from: f, to: t } = renameNames(from, to);
      const events: Array<[number, number, number]> = [];
      const origin = originOf(opts);
      const ev = this.core.tx(() => {
        const src = this.core.st.mailboxByName.get(userId, f) as MailboxRow | undefined;
        if (!src) throw new StoreError('NOT_FOUND', 'no such mailbox');
        if (this.core.st.mailboxByName.get(userId, t)) throw new StoreError('EXISTS', 'target mailbox exists');
        if (f === 'INBOX') {
          // RFC 9051 6.3.6: move INBOX's messages to a new mailbox; INBOX stays (empty); children unaffected.
          const id = insertMailboxRow(this.core, userId, t, null);
          const rows = this.core.st.allFull.all(src.id) as FullMsgRow[];
          if (rows.length > 0) {
            const dst = this.core.st.mailbox.get(id) as MailboxRow;
            moveRows(this.core, src, rows, dst, true);
            events.push([userId, src.id, src.highest_modseq + 1], [userId, id, dst.highest_modseq + 1]);
          }
          // INBOX stays: the list gained the new name.
          return logListChange(this.core, listEvent(userId, 'create', t, null, origin));
        }
        const children = this.core
          .sql('SELECT id, name FROM mailboxes WHERE user_id = ? AND name >= ? AND name < ?')
          .all(userId, ...childNameRange(f)) as Array<{ id: number; name: string }>;
        const renames: Array<[number, string, string]> = [[src.id, f, t]];
        for (const c of children) renames.push([c.id, c.name, t + c.name.slice(f.length)]);
        for (const [, , nn] of renames.slice(1)) {
          if (this.core.st.mailboxByName.get(userId, nn)) throw new StoreError('EXISTS', `target mailbox ${nn} exists`);
        }
        const upd = this.core.sql('UPDATE mailboxes SET name = ? WHERE id = ?');
        const subDel = this.core.sql('DELETE FROM subscriptions WHERE user_id = ? AND name = ?');
        const subIns = this.core.sql('INSERT OR IGNORE INTO subscriptions (user_id, name) VALUES (?, ?)');
        // Two passes through temporary names would be needed only if a target equalled another source, which
        // the checks above exclude (targets do not exist, and t is not inside f).
        for (const [id, oldName, newName] of renames) {
          upd.run(newName, id);
          if (subDel.run(userId, oldName).changes > 0) subIns.run(userId, newName);
        }
        return logListChange(this.core, listEvent(userId, 'rename', t, f, origin));
      });
      emitListChanges(this.core, [ev]);
      for (const [u, m, ms] of events) this.core.emit(u, m, ms);
    });
  }

  setSubscribed(userId: number, name: string, subscribed: boolean, opts?: MailboxChangeOptions): Promise<void> {
    return this.core.run(async () => {
      const n = normalizeMailboxName(name);
      const ev = this.core.tx(() => {
        this.core.userRow(userId);
        const changed = subscribed
          ? this.core.sql('INSERT OR IGNORE INTO subscriptions (user_id, name) VALUES (?, ?)').run(userId, n).changes
          : this.core.sql('DELETE FROM subscriptions WHERE user_id = ? AND name = ?').run(userId, n).changes;
        return changed > 0 ? logListChange(this.core, listEvent(userId, subscribed ? 'subscribe' : 'unsubscribe', n, null, originOf(opts))) : null;
      });
      if (ev) emitListChanges(this.core, [ev]);
    });
  }

  listSubscriptions(userId: number): Promise<string[]> {
    return this.core.run(async () => this.core.sql('SELECT name FROM subscriptions WHERE user_id = ? ORDER BY name').pluck().all(userId) as string[]);
  }

  setSpecialUse(mailboxId: number, specialUse: SpecialUse | null, opts?: MailboxChangeOptions): Promise<void> {
    return this.core.run(async () => {
      checkSpecialUse(specialUse);
      const ev = this.core.tx(() => {
        const b = this.core.st.mailbox.get(mailboxId) as MailboxRow | undefined;
        if (!b) throw new StoreError('NOT_FOUND', 'no such mailbox');
        if (b.special_use === specialUse) return null;
        this.core.sql('UPDATE mailboxes SET special_use = ? WHERE id = ?').run(specialUse, mailboxId);
        return logListChange(this.core, listEvent(b.user_id, 'special-use', b.name, null, originOf(opts)));
      });
      if (ev) emitListChanges(this.core, [ev]);
    });
  }

  urlauthKey(mailboxId: number, create: boolean): Promise<Buffer | null> {
    return this.core.run(async () => {
      const row = this.core.sql('SELECT key FROM urlauth_keys WHERE mailbox_id = ?').get(mailboxId) as { key: Buffer } | undefined;
      if (row || !create) return row?.key ?? null;
      const b = this.core.mailboxRow(mailboxId);
      this.core.sql('INSERT OR IGNORE INTO urlauth_keys (mailbox_id, user_id, key) VALUES (?, ?, ?)').run(mailboxId, b.user_id, randomBytes(32));
      return (this.core.sql('SELECT key FROM urlauth_keys WHERE mailbox_id = ?').get(mailboxId) as { key: Buffer }).key;
    });
  }

  resetUrlauthKeys(userId: number, mailboxId: number | null): Promise<void> {
    return this.core.run(async () => {
      if (mailboxId === null) this.core.sql('DELETE FROM urlauth_keys WHERE user_id = ?').run(userId);
      else this.core.sql('DELETE FROM urlauth_keys WHERE user_id = ? AND mailbox_id = ?').run(userId, mailboxId);
    });
  }

  status(mailboxId: number): Promise<MailboxStatus> {
    return this.core.run(async () => {
      // A mailbox in the list cache: the entry is brought forward through the change log (O(delta), the
      // work the next listMessages, a SELECT's, would do) and counted here, instead of the aggregate over
      // every message row. The entry counts when it is at the HIGHESTMODSEQ of the mailbox row, read first
      // (nothing runs between the two reads: the entry cannot be newer than the row).
      const b = this.core.mailboxRow(mailboxId);
      const cached = this.core.lists.get(mailboxId) ? this.core.lists.cachedList(this.core, mailboxId, b.highest_modseq) : null;
      const hit = this.core.lists.get(mailboxId);
      const s =
        hit && hit.highest === b.highest_modseq && (cached === null || hit.rows === cached)
          ? statusOf(hit.rows, b.first_recent)
          : (this.core.st.status.get(b.first_recent, mailboxId) as { messages: number; unseen: number; deleted: number; size: number; recent: number });
      return {
        messages: s.messages,
        unseen: s.unseen,
        deleted: s.deleted,
        size: s.size,
        recent: s.recent,
        uidNext: b.uid_next,
        uidValidity: b.uid_validity,
        highestModseq: b.highest_modseq,
      };
    });
  }

  claimRecent(mailboxId: number): Promise<number> {
    return this.core.run(async () => {
      // A claim of this mailbox is queued and takes every message up to UIDNEXT when it commits: nothing is
      // left for this caller (10,000 IDLE sessions woken by one delivery would otherwise queue 10,000 claims).
      const queued = this.recentClaims.get(mailboxId);
      if (queued) return queued;
      const now = this.core.st.recentState.get(mailboxId) as [number, number] | undefined;
      if (!now) throw new StoreError('NOT_FOUND', 'no such mailbox');
      // Nothing arrived since the last claim: nothing to write (the common re-SELECT).
      if (now[0] >= now[1]) return now[0];
      const claim = this.core.groupCommit(() => {
        const r = this.core.st.recentState.get(mailboxId) as [number, number] | undefined;
        if (!r) throw new StoreError('NOT_FOUND', 'no such mailbox');
        if (r[0] < r[1]) this.core.st.claimRecent.run(r[1], mailboxId);
        return { first: r[0], next: Math.max(r[0], r[1]) };
        // Like flag changes, a \Recent claim is not synced before the reply (see groupCommit).
      }, undefined, false);
      const next = claim.then((c) => c.next);
      next.catch(() => undefined);
      this.recentClaims.set(mailboxId, next);
      try {
        return (await claim).first;
      } finally {
        if (this.recentClaims.get(mailboxId) === next) this.recentClaims.delete(mailboxId);
      }
    });
  }

  // ---------------------------------------------------------------------------------------------
  // message lists and the change log

  listMessages(mailboxId: number): Promise<MessageMeta[]> {
    return this.core.run(async () => this.core.lists.listMetas(this.core, mailboxId));
  }

  changesSince(mailboxId: number, modseq: number): Promise<Changes> {
    return this.core.run(async () => {
      const since = Number.isFinite(modseq) ? modseq : 0;
      // Every change bumps HIGHESTMODSEQ, so one lookup answers "nothing new" (a session's refresh after
      // most commands) and tells whether a cached answer is still exact.
      const h = this.core.st.highestModseq.get(mailboxId) as number | undefined;
      if (h === undefined) throw new StoreError('NOT_FOUND', 'no such mailbox');
      if (h <= since) return { highestModseq: h, changed: [], expunged: [] };
      const hit = this.core.changes.get(mailboxId);
      if (hit && hit.since === since && h === hit.highest) return { highestModseq: h, changed: hit.changed.map(rawToMeta), expunged: hit.expunged.slice() };
      const r = this.core.readTx(() => {
        const b = this.core.mailboxRow(mailboxId);
        const changed = this.core.st.changedSinceRaw.all(mailboxId, since) as RawMsgRow[];
        const expunged = this.core.st.tombstonesSince.all(mailboxId, since) as number[];
        return { highest: b.highest_modseq, changed, expunged };
      });
      this.core.changes.offer(mailboxId, { since, highest: r.highest, changed: r.changed, expunged: r.expunged });
      return { highestModseq: r.highest, changed: r.changed.map(rawToMeta), expunged: r.expunged.slice() };
    });
  }

  subscribe(mailboxId: number, listener: (ev: ChangeEvent) => void): () => void {
    return this.core.subscribe(mailboxId, listener);
  }

  subscribeMailboxList(userId: number, listener: (ev: MailboxListEvent) => void): () => void {
    return subscribeList(this.core, userId, listener);
  }
}
