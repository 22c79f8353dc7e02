/**
 * The JMAP view of one user's mail: every message of every mailbox by EMAILID, threads by THREADID, kept
 * in step with the store's change log. sync() re-reads listMailboxes and, per mailbox whose HIGHESTMODSEQ
 * moved, changesSince(known modseq): the change log is the truth, store wake-ups (of its mailboxes, and
 * the owner's mailbox list events) only trigger a sync. One
 * store message is one JMAP Email (each Email is in exactly one mailbox: maxMailboxesPerEmail is 1; a move
 * keeps the EMAILID, a copy gets a new one).
 *
 * State strings (RFC 8620 1.4):
 *  - Email and Thread: the vector of (mailbox id, HIGHESTMODSEQ, UIDNEXT) of every mailbox, so /changes is
 *    computed exactly from changesSince per changed mailbox; an old state stays valid across restarts.
 *  - Mailbox: a digest of every mailbox's properties; the last MAILBOX_SNAPSHOTS snapshots are kept (here
 *    and in the store, so every process can use them) to answer Mailbox/changes (an older state gives
 *    cannotCalculateChanges).
 * Expunged messages are reported by EMAILID from the tombstones' uids; the uid -> EMAILID of messages that
 * left a mailbox is remembered here (bounded, GRAVEYARD_MAX per mailbox) since tombstones keep only uids.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Store } from '../store/handle.js';
import type { Mailbox, MessageMeta } from '../store/types.js';
import { MethodError } from './errors.js';
import { RIGHT_ORDER } from '../store/acl.js';

/** Every RFC 4314 right: what the owner holds in the own account. */
const ALL_RIGHTS = RIGHT_ORDER;

export interface EmailRec {
  id: string;
  threadId: string;
  mailboxId: number;
  uid: number;
  /** IMAP flags as stored. */
  flags: string[];
  receivedAt: number;
  size: number;
  modseq: number;
}

export interface Box {
  mb: Mailbox;
  modseq: number;
  uidNext: number;
  byUid: Map<number, EmailRec>;
  unread: number;
  /** Highest uid seen in the mailbox. */
  maxUid: number;
}

interface Gone {
  emailId: string;
  threadId: string;
}

export const GRAVEYARD_MAX = 50_000;
export const MAILBOX_SNAPSHOTS = 64;

export interface BoxState {
  modseq: number;
  uidNext: number;
}

export function encodeEmailState(boxes: Iterable<[number, BoxState]>): string {
  const parts: string[] = [];
  for (const [id, s] of boxes) parts.push(`${id.toString(36)}.${s.modseq.toString(36)}.${s.uidNext.toString(36)}`);
  return parts.length ? parts.join('-') : 'empty';
}

/** Parses an Email/Thread state string; null when it is not one of ours. */
export function decodeEmailState(state: unknown): Map<number, BoxState> | null {
  if (typeof state !== 'string' || state.length > 1_000_000) return null;
  const out = new Map<number, BoxState>();
  if (state === 'empty') return out;
  for (const p of state.split('-')) {
    const m = /^([0-9a-z]{1,12})\.([0-9a-z]{1,12})\.([0-9a-z]{1,12})$/.exec(p);
    if (!m) return null;
    out.set(parseInt(m[1]!, 36), { modseq: parseInt(m[2]!, 36), uidNext: parseInt(m[3]!, 36) });
  }
  return out;
}

export function isSeen(flags: readonly string[]): boolean {
  return flags.some((f) => f.toLowerCase() === '\\seen');
}

export class Account {
  readonly boxes = new Map<number, Box>();
  readonly boxByObjectId = new Map<string, Box>();
  readonly emails = new Map<string, EmailRec>();
  readonly threads = new Map<string, Set<EmailRec>>();
  /** Per mailbox: uid -> the message that left it (expunged or moved away). */
  readonly graveyard = new Map<number, Map<number, Gone>>();
  /** Mailboxes deleted (or renamed away from this user) since load, with their messages at deletion. */
  readonly goneBoxes = new Map<number, Map<number, Gone>>();
  /** Bumped on every change seen. */
  version = 0;
  /** Bumped when an Email appears or goes (not on flag changes): results that ignore flags stay valid. */
  membership = 0;
  readonly listeners = new Set<() => void>();
  readonly mailboxSnapshots = new Map<string, Map<string, string>>();
  #unsubs = new Map<number, () => void>();
  /** The store's mailbox list events of the owner: creates, renames and subscription changes made anywhere. */
  #offList: (() => void) | null = null;
  /** A sync is scheduled for mailbox list events (#listChanged). */
  #listWake = false;
  /**
   * The origin of the mailbox changes this view makes (Mailbox/set passes it to the store): their events
   * are not this view's news, since Mailbox/set syncs before it answers.
   */
  readonly origin = `jmap-${randomBytes(6).toString('base64url')}`;
  readonly #snapshotWrites = new Set<Promise<unknown>>();
  #syncing: Promise<void> | null = null;
  #again = false;
  #loaded = false;
  #closed = false;

  /** Per mailbox id, the viewer's RFC 4314 rights (a shared account); empty for the owner's own account. */
  rights = new Map<number, string>();

  /**
   * `userId` owns the mail. `access`, for an account shared with another user, gives that user's rights
   * per mailbox id at each sync: only mailboxes with "l" are seen, and the messages only of those with "r".
   */
  constructor(
    readonly store: Store,
    readonly userId: number,
    readonly accountId: string,
    readonly access: (() => Promise<Map<number, string>>) | null = null,
    /** The user viewing a shared account: its \\Seen is that user's own (store.acl private seen), as over IMAP. */
    readonly viewerId: number | null = null,
  ) {}

  /** True for an account another user shares with the viewer. */
  get shared(): boolean {
    return this.access !== null;
  }

  /** The viewer's rights on mailbox `boxId` (RFC 4314 letters); every right in the viewer's own account. */
  rightsOf(boxId: number): string {
    return this.access === null ? ALL_RIGHTS : (this.rights.get(boxId) ?? '');
  }

  /** Brings the view up to date with the store (concurrent calls share one pass; a call during a pass runs another). */
  sync(): Promise<void> {
    if (this.#syncing) {
      this.#again = true;
      return this.#syncing;
    }
    this.#syncing = (async () => {
      try {
        do {
          this.#again = false;
          await this.#pass();
        } while (this.#again);
      } finally {
        this.#syncing = null;
      }
    })();
    return this.#syncing;
  }

  close(): void {
    this.#closed = true;
    this.#offList?.();
    this.#offList = null;
    for (const u of this.#unsubs.values()) u();
    this.#unsubs.clear();
    this.listeners.clear();
  }

  async #pass(): Promise<void> {
    // A mailbox created, renamed or (un)subscribed anywhere (IMAP, another worker or node, the CLI) wakes
    // no mailbox's change bus: the owner's mailbox list events trigger a sync for those.
    if (!this.#offList && !this.#closed) this.#offList = this.store.mail.subscribeMailboxList(this.userId, (ev) => {
        if (ev.origin !== this.origin) this.#listChanged();
      });
    let mbs = await this.store.mail.listMailboxes(this.userId);
    if (this.access) {
      const rights = await this.access();
      const changedRights = rights.size !== this.rights.size || [...rights].some(([id, r]) => this.rights.get(id) !== r);
      // A mailbox whose "r" right went away is dropped and, with "r" back, loaded again.
      for (const [id, box] of this.boxes) if (!(rights.get(id) ?? '').includes('r') && box.byUid.size > 0) mbs = mbs.filter((m) => m.id !== id);
      this.rights = rights;
      mbs = mbs.filter((m) => (rights.get(m.id) ?? '').includes('l'));
      if (changedRights) this.#again = true;
    }
    let changed = false;
    const seen = new Set<number>();
    for (const mb of mbs) {
      seen.add(mb.id);
      let box = this.boxes.get(mb.id);
      if (!box) {
        box = { mb, modseq: 0, uidNext: 1, byUid: new Map(), unread: 0, maxUid: 0 };
        this.boxes.set(mb.id, box);
        this.boxByObjectId.set(mb.mailboxObjectId, box);
        if (!this.#closed) this.#unsubs.set(mb.id, this.store.mail.subscribe(mb.id, () => void this.sync().catch(() => undefined)));
        const metas = this.rightsOf(mb.id).includes('r') ? await this.store.mail.listMessages(mb.id) : [];
        for (const m of metas) this.#add(box, m);
        // Without "r" nothing was read: from modseq 0, the "r" right later brings every message.
        box.modseq = this.rightsOf(mb.id).includes('r') ? mb.highestModseq : 0;
        changed = true;
      } else {
        if (box.mb.name !== mb.name || box.mb.specialUse !== mb.specialUse || box.mb.subscribed !== mb.subscribed) changed = true;
        box.mb = mb;
        if (mb.highestModseq !== box.modseq && this.rightsOf(mb.id).includes('r')) {
          const ch = await this.store.mail.changesSince(mb.id, box.modseq);
          for (const uid of ch.expunged) this.#remove(box, uid);
          for (const m of ch.changed) {
            const rec = box.byUid.get(m.uid);
            if (rec) {
              const wasUnread = !isSeen(rec.flags);
              rec.flags = m.flags;
              rec.modseq = m.modseq;
              box.unread += (!isSeen(m.flags) ? 1 : 0) - (wasUnread ? 1 : 0);
            } else this.#add(box, m);
          }
          box.modseq = ch.highestModseq;
          changed = true;
        }
      }
      box.uidNext = Math.max(box.uidNext, mb.uidNext, box.maxUid + 1);
      if (this.viewerId !== null && this.rightsOf(mb.id).includes('r') && (await this.#privateSeen(box, this.viewerId))) changed = true;
    }
    for (const [id, box] of this.boxes) {
      if (seen.has(id)) continue;
      const gone = new Map<number, Gone>(this.graveyard.get(id));
      for (const rec of box.byUid.values()) gone.set(rec.uid, { emailId: rec.id, threadId: rec.threadId });
      for (const uid of [...box.byUid.keys()]) this.#remove(box, uid);
      this.goneBoxes.set(id, gone);
      this.boxes.delete(id);
      this.boxByObjectId.delete(box.mb.mailboxObjectId);
      this.graveyard.delete(id);
      this.#unsubs.get(id)?.();
      this.#unsubs.delete(id);
      changed = true;
    }
    if (changed || !this.#loaded) {
      this.#loaded = true;
      this.version++;
      for (const l of [...this.listeners]) {
        try {
          l();
        } catch {
          // a listener's failure is its own
        }
      }
    }
  }

  /**
   * Syncs a turn after mailbox list events made elsewhere, so that a burst of them is one pass.
   */
  #listChanged(): void {
    if (this.#listWake) return;
    this.#listWake = true;
    setImmediate(() => {
      this.#listWake = false;
      if (!this.#closed) void this.sync().catch(() => undefined);
    });
  }

  /** Puts the viewer's own \\Seen in place of the owner's on every message of `box`; true when one changed. */
  async #privateSeen(box: Box, viewerId: number): Promise<boolean> {
    const seen = new Set(await this.store.acl.seenUids(box.mb.id, viewerId));
    let changed = false;
    for (const rec of box.byUid.values()) {
      const want = seen.has(rec.uid);
      if (want === isSeen(rec.flags)) continue;
      rec.flags = want ? [...rec.flags, '\\Seen'] : rec.flags.filter((f) => f.toLowerCase() !== '\\seen');
      box.unread += want ? -1 : 1;
      changed = true;
    }
    return changed;
  }

  #add(box: Box, m: MessageMeta): void {
    const rec: EmailRec = { id: m.emailId, threadId: m.threadId, mailboxId: box.mb.id, uid: m.uid, flags: m.flags, receivedAt: m.internalDate.getTime(), size: m.size, modseq: m.modseq };
    box.byUid.set(m.uid, rec);
    if (m.uid > box.maxUid) box.maxUid = m.uid;
    if (!isSeen(m.flags)) box.unread++;
    this.membership++;
    const prev = this.emails.get(rec.id);
    if (prev) this.threads.get(prev.threadId)?.delete(prev);
    this.emails.set(rec.id, rec);
    let t = this.threads.get(rec.threadId);
    if (!t) this.threads.set(rec.threadId, (t = new Set()));
    t.add(rec);
  }

  #remove(box: Box, uid: number): void {
    const rec = box.byUid.get(uid);
    if (!rec) return;
    box.byUid.delete(uid);
    if (!isSeen(rec.flags)) box.unread--;
    this.membership++;
    let g = this.graveyard.get(box.mb.id);
    if (!g) this.graveyard.set(box.mb.id, (g = new Map()));
    g.set(uid, { emailId: rec.id, threadId: rec.threadId });
    if (g.size > GRAVEYARD_MAX) g.delete(g.keys().next().value as number);
    if (this.emails.get(rec.id) === rec) {
      this.emails.delete(rec.id);
      const t = this.threads.get(rec.threadId);
      t?.delete(rec);
      if (t && t.size === 0) this.threads.delete(rec.threadId);
    }
  }

  emailState(): string {
    const v: Array<[number, BoxState]> = [...this.boxes].sort((a, b) => a[0] - b[0]).map(([id, b]) => [id, { modseq: b.modseq, uidNext: b.uidNext }]);
    return encodeEmailState(v);
  }

  /** What left mailbox `boxId` with uid `uid`, if remembered. */
  gone(boxId: number, uid: number): Gone | null {
    return this.graveyard.get(boxId)?.get(uid) ?? this.goneBoxes.get(boxId)?.get(uid) ?? null;
  }

  /** The current thread of emails (any mailbox), oldest first by receivedAt then id. */
  threadEmails(threadId: string): EmailRec[] {
    const t = this.threads.get(threadId);
    if (!t) return [];
    return [...t].sort((a, b) => a.receivedAt - b.receivedAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  boxOf(mailboxObjectId: string): Box {
    const b = this.boxByObjectId.get(mailboxObjectId);
    if (!b) throw new MethodError('invalidArguments', `no mailbox ${mailboxObjectId}`);
    return b;
  }

  /** Remembers the mailbox snapshot under its state and returns that state. */
  rememberMailboxes(snapshot: Map<string, string>): string {
    const h = createHash('sha256');
    for (const [k, v] of [...snapshot].sort((a, b) => (a[0] < b[0] ? -1 : 1))) h.update(k).update('\0').update(v).update('\0');
    const state = 'm' + h.digest('base64url').slice(0, 16);
    if (!this.mailboxSnapshots.has(state)) {
      this.mailboxSnapshots.set(state, snapshot);
      if (this.mailboxSnapshots.size > MAILBOX_SNAPSHOTS) this.mailboxSnapshots.delete(this.mailboxSnapshots.keys().next().value as string);
      // Kept in the store too, so another process can answer Mailbox/changes from this state.
      const write = this.store.jmap.putSnapshot(this.userId, 'Mailbox', state.replace(/[^A-Za-z0-9_-]/g, ''), JSON.stringify([...snapshot]), MAILBOX_SNAPSHOTS).catch(() => undefined);
      this.#snapshotWrites.add(write);
      void write.then(() => this.#snapshotWrites.delete(write));
    }
    return state;
  }

  /** Resolves when the snapshots remembered so far are in the store (a request answers only after that). */
  async flushSnapshots(): Promise<void> {
    while (this.#snapshotWrites.size) await Promise.all([...this.#snapshotWrites]);
  }

  /** The mailbox snapshot of `state`: this process's, or one another process stored. */
  async mailboxSnapshot(state: string): Promise<Map<string, string> | null> {
    const mine = this.mailboxSnapshots.get(state);
    if (mine) return mine;
    if (!/^m[A-Za-z0-9_-]{16}$/.test(state)) return null;
    const text = await this.store.jmap.getSnapshot(this.userId, 'Mailbox', state);
    if (text === null) return null;
    try {
      return new Map(JSON.parse(text) as Array<[string, string]>);
    } catch {
      return null;
    }
  }
}
