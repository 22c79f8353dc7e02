/**
 * Expunge holds (RFC 2180 section 4.1.1): a reader that still shows messages another session may expunge
 * (an IMAP view that has not yet reported the EXPUNGE) takes a hold on the mailbox. While any hold on a
 * mailbox exists in this process, or the store's expunge grace is above zero, an expunge keeps the removed
 * messages' rows and blobs aside ("held") instead of freeing them: readMessages with `expunged: true` and
 * readBytes still return them. A held message is freed once every hold of its mailbox has advanced past the
 * expunge's modseq (the holder has told its client) and the grace has elapsed. Holds are per process; the
 * grace covers readers in other processes. Processes that know of each other (the workers of
 * `serve --workers N`, server/cluster*.ts) exchange their holds: onChange reports this process's floors,
 * setRemote takes the lowest floor of the others per mailbox, and both count in holding() and floor().
 *
 * This module only keeps the holds and tells the backend when one moved (coalesced per mailbox, on a later
 * turn of the event loop); the backend's sweep frees what no hold covers. Never throws.
 */
import { flattenBatches, inBatches, type Batched } from './helpers.js';

/** A reader's hold on the expunged messages of one mailbox. */
export interface ExpungeHold {
  /** The holder has told its client of every expunge up to `modseq` (lower values are ignored). */
  advance(modseq: number): void;
  /** Ends the hold (the view closed). Idempotent. */
  release(): void;
  /**
   * Runs `expunge`, an expunge (or move) of the holder's own whose removals it reports to its client before
   * it reads anything else (IMAP EXPUNGE then the pending updates). While it runs this hold does not make
   * expunges keep their messages: an expunge by another session meanwhile is reported by the holder in the
   * same breath, so nothing it may still read is freed (other holds, linked processes and the grace still
   * count). Resolves or rejects as `expunge` does.
   */
  exempt<T>(expunge: () => Promise<T>): Promise<T>;
}

interface HoldState {
  modseq: number;
  /** Exempt runs in progress (see ExpungeHold.exempt). */
  exempt: number;
}

export class ExpungeHolds {
  readonly #byMailbox = new Map<number, Set<HoldState>>();
  readonly #due = new Set<number>();
  readonly #sweep: (mailboxId: number) => void;
  #scheduled = false;
  #changed = false;
  /** The other processes' lowest floor per mailbox they hold (see setRemote). */
  #remote = new Map<number, number>();
  /** Called (coalesced, on a later turn) with this process's floors when a hold is taken, moved or released. */
  onChange: ((floors: Map<number, number>) => void) | null = null;

  /** `sweep` frees the held messages of a mailbox that no hold covers any more (see floor). */
  constructor(sweep: (mailboxId: number) => void) {
    this.#sweep = sweep;
  }

  /** Takes a hold: its holder has told its client of every expunge up to `modseq`. */
  hold(mailboxId: number, modseq: number): ExpungeHold {
    const st: HoldState = { modseq, exempt: 0 };
    let set = this.#byMailbox.get(mailboxId);
    if (!set) this.#byMailbox.set(mailboxId, (set = new Set()));
    set.add(st);
    if (this.onChange) this.#schedule(mailboxId);
    let live = true;
    return {
      advance: (m: number): void => {
        if (!live || !(m > st.modseq)) return;
        st.modseq = m;
        this.#schedule(mailboxId);
      },
      release: (): void => {
        if (!live) return;
        live = false;
        const s = this.#byMailbox.get(mailboxId);
        s?.delete(st);
        if (s && s.size === 0) this.#byMailbox.delete(mailboxId);
        this.#schedule(mailboxId);
      },
      exempt: async <T>(expunge: () => Promise<T>): Promise<T> => {
        st.exempt++;
        try {
          return await expunge();
        } finally {
          st.exempt--;
        }
      },
    };
  }

  /**
   * True when some reader of this process (or of a linked one) holds the mailbox's expunged messages (a hold
   * running an exempt expunge of its own does not).
   */
  holding(mailboxId: number): boolean {
    if (this.#remote.has(mailboxId)) return true;
    const set = this.#byMailbox.get(mailboxId);
    if (!set) return false;
    for (const s of set) if (s.exempt === 0) return true;
    return false;
  }

  /** Held messages expunged at or below this modseq may be freed (Infinity when nothing holds the mailbox). */
  floor(mailboxId: number): number {
    return Math.min(this.#localFloor(mailboxId), this.#remote.get(mailboxId) ?? Infinity);
  }

  #localFloor(mailboxId: number): number {
    const set = this.#byMailbox.get(mailboxId);
    if (!set) return Infinity;
    let min = Infinity;
    for (const s of set) if (s.modseq < min) min = s.modseq;
    return min;
  }

  /** This process's floor per held mailbox. */
  localFloors(): Map<number, number> {
    const out = new Map<number, number>();
    for (const id of this.#byMailbox.keys()) out.set(id, this.#localFloor(id));
    return out;
  }

  /**
   * The holds of the linked processes (lowest floor per mailbox). Mailboxes whose floor rose or that are no
   * longer held there are swept.
   */
  setRemote(floors: Map<number, number>): void {
    const before = this.#remote;
    this.#remote = floors;
    for (const [id, f] of before) if ((floors.get(id) ?? Infinity) > f) this.#schedule(id, false);
  }

  /** `local`: one of this process's holds moved (so the linked processes hear of it). */
  #schedule(mailboxId: number, local = true): void {
    this.#due.add(mailboxId);
    if (local) this.#changed = true;
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      const ids = [...this.#due];
      this.#due.clear();
      if (this.#changed && this.onChange) this.onChange(this.localFloors());
      this.#changed = false;
      for (const id of ids) this.#sweep(id);
    }).unref();
  }
}

/**
 * Merges held expunged messages into a uid-ordered stream of live ones (`asked`: the uids asked for, ascending,
 * each once). After each live batch, the asked uids up to its last one that it lacks are looked up among the
 * held rows (`held`), so a message expunged by another process while the live rows were being read is found
 * where it went: an expunge commits the row's move to the held rows at once, and a held row stays while the
 * reader holds it. Reading the held rows once before the live ones would miss such a message (gone from
 * the live rows read later, not yet held when the held rows were read). The two never share a uid (uids are
 * not reused); when every asked uid is live (the usual case) no held rows are read at all.
 */
export function mergeHeld<T extends { uid: number }>(live: AsyncIterable<T>, asked: readonly number[], held: (uids: number[]) => Promise<T[]>): Batched<T> {
  return flattenBatches(async function* (): AsyncGenerator<T[]> {
    let i = 0;
    /** `rows` (a live batch) with the held rows of the asked uids up to `upto` that it lacks. */
    const complete = async (rows: T[], upto: number): Promise<T[]> => {
      const missing: number[] = [];
      let j = 0;
      while (i < asked.length && asked[i]! <= upto) {
        const u = asked[i++]!;
        while (j < rows.length && rows[j]!.uid < u) j++;
        if (j >= rows.length || rows[j]!.uid !== u) missing.push(u);
      }
      if (missing.length === 0) return rows;
      // Rows of the missing uids only, so none is also in `rows`.
      const h = await held(missing);
      if (h.length === 0) return rows;
      return [...rows, ...h].sort((a, b) => a.uid - b.uid);
    };
    for await (const batch of inBatches(live)) {
      if (batch.length === 0) continue;
      yield await complete(batch, batch[batch.length - 1]!.uid);
    }
    const rest = await complete([], Infinity);
    if (rest.length) yield rest;
  });
}
