/**
 * The selected-mailbox view: this session's sequence-number <-> UID map and what it has told the client.
 *
 * The store's change log is the truth: refresh() reads changesSince(seenModseq) and records what is new
 * (appends, flag changes, expunges) as pending; flush() reports pending changes as untagged responses, but
 * expunges only when the caller allows it (RFC 9051 section 7.5.1: never during FETCH, STORE or SEARCH),
 * so sequence numbers stay valid for the client until then. Store wake-ups only mark the view dirty.
 * Until its client has been told of an expunge, the view holds the expunged messages in the store
 * (MailStore.holdExpunged), so FETCH still returns them (RFC 2180 4.1.1, as Dovecot does).
 */
import { isStoreError, type AppendResult, type ExpungeResult, type Mailbox, type MessageMeta } from '../store/types.js';
import type { MailStore } from '../store/mail.js';
import type { ExpungeHold } from '../store/holds.js';
import { RIGHT_ORDER } from '../store/acl.js';
import { flagRight } from './acl-flags.js';
import type { SequenceSet } from '../imap/grammar/sequence.js';
import { indexOfUid, resolveInView, seqSetOutOfRange } from './view-seq.js';
import { SYSTEM_FLAGS, flagsFetch, flagsOfMessages, hasSeen, sameFlags, type PrivateSeen, type UpdateSink } from './view-flags.js';
import { existsLine, expungeLine, flagsLine, permanentFlagsLine, recentLine, vanishedLine } from './responses.js';

export type { PrivateSeen, UpdateSink } from './view-flags.js';

export class MailboxView {
  readonly mailbox: Mailbox;
  readonly readOnly: boolean;
  /** The session user's RFC 4314 rights on the mailbox (canonical; every right for the owner). */
  readonly rights: string;
  readonly #store: MailStore;
  /**
   * The session user's own \Seen when the mailbox is another owner's (namespaces.ts): the message's \Seen
   * (the owner's) is replaced by membership here in every flag list this view holds. Null for the owner.
   */
  readonly #privateSeen: Set<number> | null;
  /** Reads the session user's private \Seen again (other sessions of the user change it); see refresh. */
  readonly #loadSeen: (() => Promise<readonly number[]>) | null;
  #uids: number[] = [];
  /**
   * The messages' metadata, index for index with #uids (a uid is found by binary search). The objects may be
   * the store's shared frozen ones (MailStore.listMessages): replaced, never modified.
   */
  #metas: MessageMeta[] = [];
  #seenModseq = 0;
  #uidNextAtOpen = 1;
  readonly #pendingExpunge = new Set<number>();
  /** #seenModseq before the read that found the oldest of #pendingExpunge: below all their modseqs. */
  #expungeFloor = 0;
  readonly #pendingFlags = new Set<number>();
  #reportedExists = 0;
  #reportedRecent = 0;
  readonly #recent = new Set<number>();
  #trackRecent: boolean;
  #dirty = false;
  #gone = false;
  /** The highest modseq a store wake-up announced for the mailbox (see refresh). */
  #woken = 0;
  /** HIGHESTMODSEQ as a store operation of the current command found it (noteHighest), or -1. */
  #proven = -1;
  /** Lower-cased keywords the client has been told about in FLAGS / PERMANENTFLAGS. */
  readonly #keywords = new Map<string, string>();
  #keywordsChanged = false;
  /** #keywords lists exactly the keywords of the messages, in uid order (true only until the first change). */
  #keywordsFresh = false;
  #unsubscribe: (() => void) | null = null;
  /** A \Recent claim made by this session's own APPEND (AppendResult.recentClaim), for the next refresh. */
  #ownClaim: { first: number; next: number } | null = null;
  /** Keeps messages expunged after what the client has been told readable (see the module comment). */
  #hold: ExpungeHold | null = null;
  /** An expunge was read or reported since the hold last moved: only then can moving it free anything. */
  #expungeRead = false;
  /** SEARCHRES saved result (UIDs), RFC 5182. */
  savedSearch: number[] = [];
  /** Called on every store wake-up (IDLE hooks in here). */
  onWake: (() => void) | null = null;
  /**
   * Called with the uids about to be reported expunged, before their EXPUNGE/VANISHED responses (search
   * contexts send their REMOVEFROM here, RFC 5267 section 4.4).
   */
  onExpunge: ((uids: readonly number[], sink: UpdateSink) => void) | null = null;

  private constructor(store: MailStore, mailbox: Mailbox, readOnly: boolean, trackRecent: boolean, rights: string, privateSeen: PrivateSeen | null) {
    this.#store = store;
    this.mailbox = mailbox;
    this.readOnly = readOnly;
    this.#trackRecent = trackRecent;
    this.rights = rights;
    this.#privateSeen = privateSeen?.uids ?? null;
    this.#loadSeen = privateSeen?.load ?? null;
  }

  /** The view's flags of a message as the store gives it: \Seen from the private set when there is one. */
  #overlay(m: MessageMeta): MessageMeta {
    const ps = this.#privateSeen;
    if (!ps) return m;
    const flags = m.flags.filter((f) => f.toLowerCase() !== '\\seen');
    if (ps.has(m.uid)) flags.push('\\Seen');
    return { ...m, flags };
  }

  /** True when \Seen is private to the session user (another owner's mailbox). */
  get privateSeen(): boolean {
    return this.#privateSeen !== null;
  }

  /**
   * Records a change of the session user's private \Seen (already stored) and returns the messages whose
   * flags changed, with their new flags, for the STORE/FETCH response.
   */
  applyPrivateSeen(uids: readonly number[], seen: boolean): MessageMeta[] {
    const ps = this.#privateSeen;
    if (!ps) return [];
    const out: MessageMeta[] = [];
    for (const uid of uids) {
      if (ps.has(uid) === seen) continue;
      if (seen) ps.add(uid);
      else ps.delete(uid);
      const i = this.#indexOf(uid);
      if (i < 0) continue;
      const next = this.#overlay(this.#metas[i]!);
      this.#metas[i] = next;
      out.push(next);
    }
    return out;
  }

  /**
   * Opens a view. The modseq is read before the message list, so a change racing with the open is
   * re-read by the first refresh (harmless: per-message modseqs filter duplicates).
   */
  static async open(
    store: MailStore,
    mailbox: Mailbox,
    opts: { readOnly: boolean; trackRecent: boolean; rights?: string; privateSeen?: PrivateSeen | null },
  ): Promise<MailboxView> {
    const v = new MailboxView(store, mailbox, opts.readOnly, opts.trackRecent, opts.rights ?? RIGHT_ORDER, opts.privateSeen ?? null);
    // Taken before the list is read: anything expunged from now on stays readable until told.
    v.#hold = store.holdExpunged(mailbox.id, 0);
    v.#unsubscribe = store.subscribe(mailbox.id, (ev) => {
      v.#dirty = true;
      if (ev.highestModseq > v.#woken) v.#woken = ev.highestModseq;
      v.onWake?.();
    });
    try {
      const st = await store.status(mailbox.id);
      v.#seenModseq = st.highestModseq;
      v.#proven = st.highestModseq;
      v.#uidNextAtOpen = st.uidNext;
      // The listed array is this view's own (its objects are not: they are replaced, never changed).
      const list = await store.listMessages(mailbox.id);
      const uids: number[] = new Array<number>(list.length);
      let seenModseq = v.#seenModseq;
      for (let i = 0; i < list.length; i++) {
        let m = list[i]!;
        if (v.#privateSeen) list[i] = m = v.#overlay(m);
        uids[i] = m.uid;
        v.#noteKeywords(m.flags);
        if (m.modseq > seenModseq) seenModseq = m.modseq;
      }
      v.#uids = uids;
      v.#metas = list;
      v.#seenModseq = seenModseq;
      v.#reportedExists = v.#uids.length;
      // claimRecent is a write (a commit per SELECT): skip it when the status read before the list saw no
      // recent message and the list holds nothing newer than that status (so nothing here can be recent).
      const last = v.#uids.length ? v.#uids[v.#uids.length - 1]! : 0;
      const nothingRecent = st.recent === 0 && last < st.uidNext;
      if (opts.trackRecent && !opts.readOnly && !nothingRecent) {
        const first = await store.claimRecent(mailbox.id);
        for (const u of v.#uids) if (u >= first) v.#recent.add(u);
      } else if (opts.trackRecent && opts.readOnly && !nothingRecent) {
        v.#markUnclaimedRecent(0, st.recent, st.uidNext);
      }
      v.#reportedRecent = v.#recent.size;
      v.#keywordsChanged = false;
      v.#keywordsFresh = true;
      // Every later expunge has a modseq above the list's (a message expunged before is not listed).
      v.#hold.advance(v.#seenModseq);
    } catch (e) {
      v.close();
      throw e;
    }
    return v;
  }

  close(): void {
    this.#unsubscribe?.();
    this.#unsubscribe = null;
    this.#hold?.release();
    this.#hold = null;
    this.onWake = null;
  }

  get exists(): number {
    return this.#uids.length;
  }
  get recentCount(): number {
    return this.#recent.size;
  }
  get uids(): readonly number[] {
    return this.#uids;
  }
  /** UIDNEXT as the store reported it when the view opened (SELECT's UIDNEXT, with the listed uids). */
  get uidNextAtOpen(): number {
    return this.#uidNextAtOpen;
  }
  get highestModseq(): number {
    return this.#seenModseq;
  }
  /**
   * While expunges are read but not reported (held back during FETCH, STORE, SEARCH): a modseq below every
   * one of them, the HIGHESTMODSEQ a client may keep meanwhile (RFC 7162: a server delaying an expunge
   * reports a HIGHESTMODSEQ below it); else null.
   */
  get modseqBeforePendingExpunges(): number | null {
    return this.#pendingExpunge.size > 0 ? this.#expungeFloor : null;
  }
  /** The mailbox was deleted (by another session) while selected. */
  get gone(): boolean {
    return this.#gone;
  }
  get dirty(): boolean {
    return this.#dirty;
  }

  meta(uid: number): MessageMeta | undefined {
    const i = this.#indexOf(uid);
    return i < 0 ? undefined : this.#metas[i];
  }

  /**
   * The sequence number of the first message without \Seen (SELECT's UNSEEN response), or 0. Flags come
   * from the store in canonical spelling (\Seen); other spellings are compared case-insensitively.
   */
  firstUnseen(): number {
    const metas = this.#metas;
    for (let i = 0; i < metas.length; i++) if (!hasSeen(metas[i]!.flags)) return i + 1;
    return 0;
  }

  isRecent(uid: number): boolean {
    return this.#recent.has(uid);
  }

  /** True when the message is gone from the store but its EXPUNGE has not been sent yet. */
  isExpunged(uid: number): boolean {
    return this.#pendingExpunge.has(uid);
  }

  /** Sequence number (1-based) of a UID in this view, or 0. */
  seqOf(uid: number): number {
    return this.#indexOf(uid) + 1;
  }

  /** Index of a UID in #uids (and #metas), or -1. */
  #indexOf(uid: number): number {
    return indexOfUid(this.#uids, uid);
  }

  /** Resolves a sequence set (or UID set with uid=true) to the UIDs it names in this view, ascending. */
  resolve(set: SequenceSet, uid: boolean): number[] {
    if (set.kind === 'saved') return this.savedSearch.filter((u) => this.#indexOf(u) >= 0);
    return resolveInView(set.ranges, uid, this.#uids);
  }

  /** Whether this view claims \Recent (read-write, IMAP4rev1): an APPEND into its mailbox may claim for it. */
  get claimsRecent(): boolean {
    return this.#trackRecent && !this.readOnly;
  }

  /**
   * Records the \Recent claim this session's APPEND into this mailbox made (AppendResult.recentClaim): the
   * next refresh marks the new messages it covers recent without a claim of its own.
   */
  noteRecentClaim(claim: { first: number; next: number }): void {
    this.#ownClaim = claim;
  }

  /** True when a non-UID sequence set names a number above the message count (RFC 9051: BAD). */
  seqOutOfRange(set: SequenceSet): boolean {
    return seqSetOutOfRange(set, this.#uids.length);
  }

  /**
   * Records HIGHESTMODSEQ as a store operation of the current command found it (StoreFlagsResult
   * .highestModseq): everything committed before the command started is at or below it.
   */
  noteHighest(modseq: number | undefined): void {
    if (modseq !== undefined) this.#proven = modseq;
  }

  /**
   * Reads the change log since what this view has seen and records pending updates. Without a read when
   * nothing can be new: a store operation of this command found HIGHESTMODSEQ at what the view has seen
   * (noteHighest, or the open) and no wake-up announced anything above it since. Whatever was committed
   * before the command started is covered by that operation's read; a commit after it is reported after the
   * next command, as if it had come a moment later (its wake-up, from this process or a linked one, marks
   * the view, and then this reads). A private \Seen is always read again (other sessions change it).
   */
  async refresh(): Promise<void> {
    this.#dirty = false;
    this.#keywordsFresh = false;
    const proven = this.#proven;
    this.#proven = -1;
    if (this.#gone) return;
    if (proven === this.#seenModseq && this.#woken <= proven && this.#loadSeen === null) {
      this.#ownClaim = null;
      this.#advanceHold();
      return;
    }
    let ch;
    try {
      ch = await this.#store.changesSince(this.mailbox.id, this.#seenModseq);
    } catch (e) {
      if (!isStoreError(e, 'NOT_FOUND')) throw e;
      this.#gone = true;
      return;
    }
    const last = this.#uids.length ? this.#uids[this.#uids.length - 1]! : 0;
    if (this.#pendingExpunge.size === 0) this.#expungeFloor = this.#seenModseq;
    let added = false;
    for (const changed of ch.changed) {
      const m = this.#overlay(changed);
      this.#noteKeywords(m.flags);
      const i = m.uid > last ? -1 : this.#indexOf(m.uid);
      if (i >= 0) {
        const known = this.#metas[i]!;
        if (m.modseq > known.modseq) {
          // Reported even when the flags are back to what the client holds (changed and changed back): its
          // MODSEQ moved, and Dovecot sends the FETCH too. Not for a change hidden by the private \Seen.
          if (this.#privateSeen === null || !sameFlags(known.flags, m.flags)) this.#pendingFlags.add(m.uid);
          this.#metas[i] = m;
        }
      } else if (m.uid > last && !this.#pendingExpunge.has(m.uid)) {
        this.#uids.push(m.uid);
        this.#metas.push(m);
        added = true;
      }
    }
    const untold = ch.expunged.filter((u) => this.#indexOf(u) >= this.#reportedExists); // an own append, never told
    if (untold.length > 0) this.#forget(untold);
    for (const u of ch.expunged) if (this.#indexOf(u) >= 0) this.#pendingExpunge.add(u);
    if (ch.expunged.length > 0) this.#expungeRead = true;
    if (ch.highestModseq > this.#seenModseq) this.#seenModseq = ch.highestModseq;
    if (this.#loadSeen) await this.#reloadSeen(this.#loadSeen);
    this.#advanceHold();
    const own = this.#ownClaim;
    this.#ownClaim = null;
    if (added && this.#trackRecent && !this.readOnly) {
      // New messages below the UIDNEXT of this session's own claim (made with its APPEND) were claimed there.
      let unclaimed = false;
      for (let i = this.#uids.length - 1; i >= 0 && this.#uids[i]! > last; i--) {
        const u = this.#uids[i]!;
        if (own && u < own.next) {
          if (u >= own.first) this.#recent.add(u);
        } else unclaimed = true;
      }
      if (unclaimed) {
        const first = await this.#store.claimRecent(this.mailbox.id);
        for (let i = this.#uids.length - 1; i >= 0 && this.#uids[i]! > last; i--) if (this.#uids[i]! >= first && !(own && this.#uids[i]! < own.next)) this.#recent.add(this.#uids[i]!);
      }
    } else if (added && this.#trackRecent) {
      const st = await this.#store.status(this.mailbox.id);
      this.#markUnclaimedRecent(this.#uids.findIndex((u) => u > last), st.recent, st.uidNext);
    }
  }

  /** Takes in private \Seen changes made by the user's other sessions: they are reported as flag updates. */
  async #reloadSeen(load: () => Promise<readonly number[]>): Promise<void> {
    const ps = this.#privateSeen!;
    const now = new Set(await load());
    const flips = [...ps].filter((u) => !now.has(u));
    for (const u of now) if (!ps.has(u)) flips.push(u);
    for (const uid of flips) {
      if (now.has(uid)) ps.add(uid);
      else ps.delete(uid);
      const i = this.#indexOf(uid);
      if (i < 0) continue;
      this.#metas[i] = this.#overlay(this.#metas[i]!);
      this.#pendingFlags.add(uid);
    }
  }

  /**
   * A read-only view (EXAMINE) shows \Recent without claiming it (RFC 3501 6.3.2; Dovecot does the same):
   * the store's `recent` messages are the newest ones below `uidNext` (uid >= the first unclaimed uid), and
   * messages listed after that status was read are unclaimed too. Only uids from index `from` on are marked.
   */
  #markUnclaimedRecent(from: number, recent: number, uidNext: number): void {
    let below = this.#uids.length;
    while (below > 0 && this.#uids[below - 1]! >= uidNext) below--;
    for (let i = Math.max(from, below - recent); i < this.#uids.length; i++) this.#recent.add(this.#uids[i]!);
  }

  /**
   * Records this session's own flag changes (STORE) so they are not reported again as foreign updates. When
   * they are the one change right after what the view has seen (a single MODSEQ, the next one), the view has
   * now seen everything up to it, and the refresh after the command finds nothing to read.
   */
  applyOwn(metas: readonly MessageMeta[]): void {
    this.#keywordsFresh = false;
    const next = metas.length > 0 ? metas[0]!.modseq : 0;
    if (next === this.#seenModseq + 1 && this.#privateSeen === null && metas.every((m) => m.modseq === next)) this.#seenModseq = next;
    for (const stored of metas) {
      const m = this.#overlay(stored);
      this.#noteKeywords(m.flags);
      const i = this.#indexOf(m.uid);
      if (i >= 0 && m.modseq >= this.#metas[i]!.modseq) {
        this.#metas[i] = m;
        this.#pendingFlags.delete(m.uid);
      }
    }
  }

  /**
   * Takes in this session's own APPEND here (store append/appendMany results) when it is the one change after
   * what the view has seen (the next MODSEQ), so the refresh after it reads nothing. False (left to that
   * refresh) otherwise or when the results lack what the view needs (private \Seen; \Recent unclaimed).
   */
  applyOwnAppend(results: readonly AppendResult[]): boolean {
    const first = results[0];
    const claim = first?.recentClaim;
    if (!first || this.#privateSeen !== null || this.#gone || (this.#trackRecent && (this.readOnly || !claim))) return false;
    const modseq = first.modseq;
    let prev = this.#uids.length ? this.#uids[this.#uids.length - 1]! : 0;
    for (const r of results) {
      if (r.modseq !== this.#seenModseq + 1 || r.uid <= prev) return false;
      prev = r.uid;
    }
    for (const r of results) {
      this.#noteKeywords(r.meta.flags);
      this.#uids.push(r.uid);
      this.#metas.push(r.meta);
      if (this.#trackRecent && r.uid >= claim!.first && r.uid < claim!.next) this.#recent.add(r.uid);
    }
    this.#keywordsFresh = false;
    this.#ownClaim = null;
    this.#seenModseq = modseq;
    this.#proven = modseq;
    return true;
  }

  /** This session's own EXPUNGE (before reportExpunged): as the one change since, the refresh reads nothing. */
  noteOwnExpunge(result: ExpungeResult): void {
    if (result.uids.length > 0 && result.highestModseq === this.#seenModseq + 1) this.#seenModseq = result.highestModseq;
    this.#proven = result.highestModseq;
  }

  /**
   * Runs this session's own EXPUNGE (store.expunge) without its hold keeping the removed messages (see
   * ExpungeHold.exempt): only for a command that reports its removals (reportExpunged) and, through the
   * dispatcher, every other pending expunge before its completion (seq 'breaks').
   */
  ownExpunge<T>(expunge: () => Promise<T>): Promise<T> {
    return this.#hold ? this.#hold.exempt(expunge) : expunge();
  }

  /**
   * Removes expunged messages from the view and reports them (EXPUNGE, or VANISHED under QRESYNC).
   * Used by EXPUNGE/MOVE for the session's own removals and by flush for foreign ones.
   */
  reportExpunged(uids: Iterable<number>, sink: UpdateSink): void {
    const gone = [...uids].filter((u) => this.#indexOf(u) >= 0).sort((a, b) => a - b);
    if (!gone.length) return;
    this.onExpunge?.(gone, sink);
    if (sink.qresync) {
      sink.send(Buffer.from(vanishedLine(gone)));
    } else {
      // Ascending, each number as it is after the previous removals ("* 1 EXPUNGE" three times for 1:3),
      // which is what Dovecot sends.
      const seqs = gone.map((u) => this.seqOf(u)).filter((s) => s > 0);
      seqs.sort((a, b) => a - b);
      let text = '';
      seqs.forEach((s, i) => (text += expungeLine(s - i)));
      if (text) sink.send(Buffer.from(text));
    }
    this.#keywordsFresh = false;
    // The RECENT count left unreported here: flush sends the new one when an expunged message was \Recent
    // (as Dovecot does; a client that never fetched its flags cannot know the count dropped otherwise).
    this.#forget(gone);
    this.#reportedExists -= gone.length;
    if (this.#reportedExists < 0) this.#reportedExists = 0;
    this.#expungeRead = true;
    this.#advanceHold();
  }

  /**
   * Moves the hold to what the view has seen once every expunge read is reported; not for flag changes and
   * appends alone (held rows are those of expunges; each move is a sweep and, with workers, a report).
   */
  #advanceHold(): void {
    if (!this.#expungeRead || this.#pendingExpunge.size > 0) return;
    this.#expungeRead = false;
    this.#hold?.advance(this.#seenModseq);
  }

  /** Drops messages (ascending uids, all in the view) and what the view holds for them, unreported. */
  #forget(gone: readonly number[]): void {
    this.#remove(gone);
    for (const u of gone) for (const set of [this.#pendingExpunge, this.#pendingFlags, this.#recent]) set.delete(u);
  }

  /** Drops messages (ascending uids, all in the view) from #uids and #metas, in place. */
  #remove(gone: readonly number[]): void {
    const uids = this.#uids;
    const metas = this.#metas;
    let k = 0;
    let out = this.#indexOf(gone[0]!);
    for (let i = out; i < uids.length; i++) {
      if (k < gone.length && uids[i] === gone[k]) {
        k++;
        continue;
      }
      uids[out] = uids[i]!;
      metas[out] = metas[i]!;
      out++;
    }
    uids.length = out;
    metas.length = out;
  }

  #noteKeywords(flags: readonly string[]): void {
    for (const f of flags) {
      if (f.startsWith('\\')) continue;
      const k = f.toLowerCase();
      if (!this.#keywords.has(k)) {
        this.#keywords.set(k, f);
        this.#keywordsChanged = true;
      }
    }
  }

  /** Sends pending updates. Expunges only when allowExpunge (see the module comment). */
  flush(sink: UpdateSink, allowExpunge: boolean): void {
    if (this.#keywordsChanged) {
      // A new keyword: tell the client the new FLAGS and PERMANENTFLAGS (Dovecot does the same).
      this.#keywordsChanged = false;
      const flags = this.flagsInUse();
      let text = flagsLine(flags);
      if (!this.readOnly) text += permanentFlagsLine(this.permitted(flags), false, this.rights.includes('w'));
      sink.send(Buffer.from(text));
    }
    if (allowExpunge && this.#pendingExpunge.size) this.reportExpunged([...this.#pendingExpunge], sink);
    if (this.#uids.length !== this.#reportedExists) {
      let text = existsLine(this.#uids.length);
      if (!sink.rev2) text += recentLine(this.#recent.size);
      sink.send(Buffer.from(text));
      this.#reportedExists = this.#uids.length;
      this.#reportedRecent = this.#recent.size;
    } else if (!sink.rev2 && this.#recent.size !== this.#reportedRecent) {
      sink.send(Buffer.from(recentLine(this.#recent.size)));
      this.#reportedRecent = this.#recent.size;
    }
    if (this.#pendingFlags.size) {
      const uids = [...this.#pendingFlags].sort((a, b) => a - b);
      this.#pendingFlags.clear();
      for (const uid of uids) {
        const i = this.#indexOf(uid);
        if (i < 0) continue;
        sink.send(this.flagsResponse(i + 1, this.#metas[i]!, sink, true));
      }
    }
  }

  /** "* seq FETCH (UID n FLAGS (...) MODSEQ (m))" for an unsolicited flag update. */
  flagsResponse(seq: number, m: MessageMeta, sink: UpdateSink, withUid: boolean): Buffer {
    return flagsFetch(seq, m, this.flagsOf(m, sink.rev2), sink, withUid);
  }

  /** The message's flags as IMAP reports them (with \Recent for rev1 sessions). */
  flagsOf(m: MessageMeta, rev2: boolean): string[] {
    return !rev2 && this.#recent.has(m.uid) ? [...m.flags, '\\Recent'] : m.flags;
  }

  /**
   * System flags and keywords (SELECT's FLAGS response, and the FLAGS sent when a new keyword appears):
   * the keywords of the current messages in message order, each in the case first seen, then any keyword
   * a message of this view carried since it opened but no longer does. A keyword is never dropped while the
   * view is open: the client may still hold a message with it whose update is not sent yet (RFC 9051 7.3.5;
   * Dovecot keeps a mailbox's keywords defined the same way). Right after open() the keywords noted while
   * listing are exactly that, so no pass over the mailbox is needed; later (a new keyword, rare) the
   * current messages are scanned.
   */
  flagsInUse(): string[] {
    return this.#keywordsFresh ? [...SYSTEM_FLAGS, ...this.#keywords.values()] : flagsOfMessages(this.#metas, this.#keywords);
  }

  /** The flags among `flags` the session user may change (RFC 4314: \Seen s, \Deleted t, others w), for PERMANENTFLAGS. */
  permitted(flags: readonly string[]): string[] {
    return flags.filter((f) => this.rights.includes(flagRight(f)));
  }

  /** Counts reported at SELECT time. */
  markReported(): void {
    this.#reportedExists = this.#uids.length;
    this.#reportedRecent = this.#recent.size;
  }
}
