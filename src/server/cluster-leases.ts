/**
 * Connection limits for the whole cluster of `serve --workers N`, counted as Dovecot's anvil counts them: in
 * one place, the primary process. So that a connection costs no question to the primary, a worker holds a
 * lease of slots per key (an address of one service, or a user's IMAP sessions) and admits from it without
 * asking; only when its lease is used up does it ask for more.
 *
 * Primary (LeaseTable): per key, the slots leased to each worker; their sum never passes the key's limit.
 * An ask is granted from the free slots, with some extra for the next connections (a share of what is free,
 * so no worker takes them all). When too few are free and other workers hold leases, the primary reclaims
 * their unused slots first (each answers at once from its own counts) and grants once all have answered
 * (or RECLAIM_TIMEOUT_MS passed). A worker that dies loses its leases: its connections died with it.
 *
 * Worker (LeaseCounter): per key, the slots held and used. admit() answers true at once while a slot is free
 * in the lease; otherwise it waits for the primary's grant (asks made in one turn of the event loop leave in
 * one message). Slots of a key unused for LEASE_IDLE_MS go back to the primary.
 *
 * When the primary cannot be asked (its channel is closed: it has exited, and this worker is stopping) or
 * does not answer within ASK_TIMEOUT_MS, the worker decides alone against the same limit, counting only its
 * own connections: the limit then holds per worker, as if it ran alone. That is failing open, as Dovecot's
 * auth process does when anvil cannot be reached (a failed penalty lookup counts as no penalty, and without
 * an anvil connection penalties are off): these limits protect the server from one greedy client, they are
 * not access control, and refusing every client because a bookkeeping process is gone would turn its
 * failure into an outage for everyone. The per-worker count still bounds what a client gets.
 */
import type { ConnectionCounter } from '../lib/connection-limit.js';

/** How long a worker waits for the primary's answer before it decides alone. */
const ASK_TIMEOUT_MS = 2_000;
/** How long the primary waits for the workers to give back unused slots before it grants what it has. */
const RECLAIM_TIMEOUT_MS = 1_000;
/** Slots of a key without connections go back to the primary after this long (a reconnecting client reuses them). */
const LEASE_IDLE_MS = 2_000;

export type LeaseToPrimary =
  | { t: 'mr:lease'; asks: Array<[key: string, max: number, want: number]> }
  | { t: 'mr:return'; returns: Array<[key: string, n: number]>; reclaim: boolean };

export type LeaseToWorker = { t: 'mr:grant'; grants: Array<[key: string, n: number]> } | { t: 'mr:reclaim'; keys: string[] };

interface Ask {
  slot: number;
  max: number;
  want: number;
}

interface Reclaim {
  /** Workers whose answer is awaited. */
  waiting: Set<number>;
  /** Asks for the key made meanwhile, answered when the reclaim ends. */
  parked: Ask[];
  timer: NodeJS.Timeout;
}

/** The primary's side: every worker's leases (see the file comment). */
export class LeaseTable {
  /** key -> worker slot -> slots leased. */
  readonly #held = new Map<string, Map<number, number>>();
  readonly #reclaims = new Map<string, Reclaim>();

  /** `send` reaches a worker by its slot number; `workers` is how many there are. */
  constructor(
    private readonly send: (slot: number, m: LeaseToWorker) => void,
    private readonly workers: () => number,
  ) {}

  handle(slot: number, m: LeaseToPrimary): void {
    if (m.t === 'mr:lease') this.#asks(slot, m.asks);
    else this.#returned(slot, m.returns, m.reclaim);
  }

  /** Slots leased to a worker for a key (for tests). */
  held(key: string, slot: number): number {
    return this.#held.get(key)?.get(slot) ?? 0;
  }

  /** A worker died: its leases are free. */
  drop(slot: number): void {
    for (const [key, bySlot] of this.#held) {
      bySlot.delete(slot);
      if (bySlot.size === 0) this.#held.delete(key);
    }
    for (const [key, r] of this.#reclaims) {
      // Its parked asks die with it: a grant now would be counted for the slot's next worker.
      r.parked = r.parked.filter((a) => a.slot !== slot);
      if (r.waiting.delete(slot) && r.waiting.size === 0) this.#endReclaim(key);
    }
  }

  #asks(slot: number, asks: Array<[string, number, number]>): void {
    const grants: Array<[string, number]> = [];
    for (const [key, max, want] of asks) {
      const ask = { slot, max, want };
      const r = this.#reclaims.get(key);
      if (r) r.parked.push(ask);
      else if (!this.#reclaimFor(key, ask)) grants.push([key, this.#grant(key, ask)]);
    }
    if (grants.length) this.send(slot, { t: 'mr:grant', grants });
  }

  /** Starts a reclaim when `ask` cannot be met from the free slots and others hold some; true if started. */
  #reclaimFor(key: string, ask: Ask): boolean {
    const bySlot = this.#held.get(key);
    if (!bySlot || ask.max - sum(bySlot) >= ask.want) return false;
    const others = [...bySlot].filter(([s, n]) => s !== ask.slot && n > 0).map(([s]) => s);
    if (others.length === 0) return false;
    const timer = setTimeout(() => this.#endReclaim(key), RECLAIM_TIMEOUT_MS);
    timer.unref();
    this.#reclaims.set(key, { waiting: new Set(others), parked: [ask], timer });
    for (const s of others) this.send(s, { t: 'mr:reclaim', keys: [key] });
    return true;
  }

  /** Leases what it can to `ask`: what it wants and a share of the rest; 0 when nothing is free. */
  #grant(key: string, ask: Ask): number {
    const bySlot = this.#held.get(key) ?? new Map<number, number>();
    const free = ask.max - sum(bySlot);
    const g = Math.max(0, Math.min(free, Math.max(ask.want, Math.ceil(free / (2 * Math.max(1, this.workers()))))));
    if (g > 0) {
      bySlot.set(ask.slot, (bySlot.get(ask.slot) ?? 0) + g);
      this.#held.set(key, bySlot);
    }
    return g;
  }

  #returned(slot: number, returns: Array<[string, number]>, reclaim: boolean): void {
    for (const [key, n] of returns) {
      const bySlot = this.#held.get(key);
      if (bySlot && n > 0) {
        const left = (bySlot.get(slot) ?? 0) - n;
        if (left > 0) bySlot.set(slot, left);
        else bySlot.delete(slot);
        if (bySlot.size === 0) this.#held.delete(key);
      }
      const r = reclaim ? this.#reclaims.get(key) : undefined;
      if (r && r.waiting.delete(slot) && r.waiting.size === 0) this.#endReclaim(key);
    }
  }

  /** Answers the asks parked during a reclaim from what is free now (no second reclaim). */
  #endReclaim(key: string): void {
    const r = this.#reclaims.get(key);
    if (!r) return;
    clearTimeout(r.timer);
    this.#reclaims.delete(key);
    for (const ask of r.parked) this.send(ask.slot, { t: 'mr:grant', grants: [[key, this.#grant(key, ask)]] });
  }
}

function sum(m: Map<number, number>): number {
  let n = 0;
  for (const v of m.values()) n += v;
  return n;
}

interface Lease {
  max: number;
  held: number;
  used: number;
  /** Admissions waiting for the primary, oldest first. */
  waiters: Array<(admitted: boolean) => void>;
  /** An ask for this key is on its way; `covered` of the waiters were counted in it. */
  asking: boolean;
  covered: number;
  /** When the last connection of the key ended (0 while it has some). */
  idleSince: number;
}

/** The worker's side: a ConnectionCounter that admits from its leases (see the file comment). */
export class LeaseCounter implements ConnectionCounter {
  readonly #leases = new Map<string, Lease>();
  /** Keys with waiters to ask for in the next message. */
  readonly #toAsk = new Set<string>();
  #flushing = false;
  #sweep: NodeJS.Timeout | null = null;
  /** The primary's channel is closed: every decision is this worker's own. */
  #alone = false;

  /** `send` returns false when the primary cannot be reached. */
  constructor(
    private readonly send: (m: LeaseToPrimary) => boolean,
    private readonly now: () => number = Date.now,
  ) {}

  admit(key: string, max: number): boolean | Promise<boolean> {
    let l = this.#leases.get(key);
    if (!l) this.#leases.set(key, (l = { max, held: 0, used: 0, waiters: [], asking: false, covered: 0, idleSince: 0 }));
    l.max = max;
    if (this.#alone) return this.#alone1(l);
    if (l.used < l.held && l.waiters.length === 0) {
      l.used++;
      l.idleSince = 0;
      return true;
    }
    return new Promise<boolean>((resolve) => {
      l.waiters.push(resolve);
      this.#toAsk.add(key);
      if (this.#flushing) return;
      this.#flushing = true;
      setImmediate(() => this.#flush());
    });
  }

  release(key: string): void {
    const l = this.#leases.get(key);
    if (!l || l.used === 0) return;
    const next = l.waiters.shift();
    if (next) {
      // The slot goes straight to the oldest waiting admission.
      if (l.covered > 0) l.covered--;
      next(true);
      return;
    }
    l.used--;
    if (l.used === 0) {
      l.idleSince = this.now();
      this.#sweep ??= setInterval(() => this.#returnIdle(), LEASE_IDLE_MS);
      this.#sweep.unref();
    }
  }

  handle(m: LeaseToWorker): void {
    if (m.t === 'mr:grant') for (const [key, n] of m.grants) this.#granted(key, n);
    else this.#reclaim(m.keys);
  }

  /** The primary is gone: waiting admissions are decided here, and every later one. */
  detach(): void {
    this.#alone = true;
    for (const l of this.#leases.values()) this.#settle(l, l.waiters.length, (x) => this.#alone1(x));
    if (this.#sweep) clearInterval(this.#sweep);
    this.#sweep = null;
  }

  /** Slots held and used under a key (for tests). */
  lease(key: string): { held: number; used: number } | null {
    const l = this.#leases.get(key);
    return l ? { held: l.held, used: l.used } : null;
  }

  #alone1(l: Lease): boolean {
    if (l.used >= l.max) return false;
    l.used++;
    l.idleSince = 0;
    return true;
  }

  #flush(): void {
    this.#flushing = false;
    const asks: Array<[string, number, number]> = [];
    for (const key of this.#toAsk) {
      const l = this.#leases.get(key);
      if (!l || l.asking || l.waiters.length === 0) continue;
      l.asking = true;
      l.covered = l.waiters.length;
      asks.push([key, l.max, l.covered]);
    }
    this.#toAsk.clear();
    if (asks.length === 0) return;
    if (!this.send({ t: 'mr:lease', asks })) return this.detach();
    setTimeout(() => {
      // No answer: the admissions still waiting are decided here (a late grant is still added to the lease).
      for (const [key] of asks) {
        const l = this.#leases.get(key);
        if (!l?.asking) continue;
        l.asking = false;
        l.covered = 0;
        this.#settle(l, l.waiters.length, (x) => this.#alone1(x));
        this.#forgetIfEmpty(key, l);
      }
    }, ASK_TIMEOUT_MS).unref();
  }

  #granted(key: string, n: number): void {
    const l = this.#leases.get(key);
    if (!l) {
      if (n > 0) this.send({ t: 'mr:return', returns: [[key, n]], reclaim: false });
      return;
    }
    l.held += n;
    const covered = l.asking ? l.covered : 0;
    l.asking = false;
    l.covered = 0;
    // The waiters the ask was for get a slot or a refusal; later ones a slot or a new ask.
    this.#settle(l, covered, (x) => this.#fromLease(x));
    if (l.waiters.length > 0) {
      this.#settle(l, l.waiters.length, (x) => (this.#fromLease(x) ? true : null));
      if (l.waiters.length > 0) {
        this.#toAsk.add(key);
        if (!this.#flushing) {
          this.#flushing = true;
          setImmediate(() => this.#flush());
        }
      }
    }
    // A refused key leaves nothing behind (a flood of refused addresses must not grow memory).
    this.#forgetIfEmpty(key, l);
  }

  #fromLease(l: Lease): boolean {
    if (l.used >= l.held) return false;
    l.used++;
    l.idleSince = 0;
    return true;
  }

  /** Answers up to `count` of the oldest waiters with `decide` (null: leave that one and the rest waiting). */
  #settle(l: Lease, count: number, decide: (l: Lease) => boolean | null): void {
    for (let i = 0; i < count && l.waiters.length > 0; i++) {
      const answer = decide(l);
      if (answer === null) return;
      l.waiters.shift()!(answer);
    }
  }

  /** Gives back the unused slots of these keys, answering the primary's reclaim (0 for a key without any). */
  #reclaim(keys: string[]): void {
    const returns: Array<[string, number]> = keys.map((key) => {
      const l = this.#leases.get(key);
      if (!l) return [key, 0];
      const n = Math.max(0, l.held - l.used);
      l.held -= n;
      this.#forgetIfEmpty(key, l);
      return [key, n];
    });
    this.send({ t: 'mr:return', returns, reclaim: true });
  }

  /** Gives back the leases of keys without connections for LEASE_IDLE_MS. */
  #returnIdle(): void {
    const returns: Array<[string, number]> = [];
    const now = this.now();
    for (const [key, l] of this.#leases) {
      if (l.used > 0 || l.waiters.length > 0 || l.asking || now - l.idleSince < LEASE_IDLE_MS) continue;
      if (l.held > 0) returns.push([key, l.held]);
      this.#leases.delete(key);
    }
    if (returns.length) this.send({ t: 'mr:return', returns, reclaim: false });
    if (this.#leases.size === 0 && this.#sweep) {
      clearInterval(this.#sweep);
      this.#sweep = null;
    }
  }

  #forgetIfEmpty(key: string, l: Lease): void {
    if (l.held === 0 && l.used === 0 && l.waiters.length === 0 && !l.asking) this.#leases.delete(key);
  }
}
