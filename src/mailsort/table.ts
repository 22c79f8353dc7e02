/**
 * SortKeys of many messages held as columns (typed arrays and interned strings) instead of one object per
 * message: what a store caches per mailbox, and what sorting reads.
 *
 * Contract:
 * - a `SortKeyTable` is immutable once built; row i is one message's keys, rows in the order they were
 *   added (the stores' tables are in ascending uid order; a table built from a records array keeps that
 *   array's order and duplicates);
 * - string keys are ids into the table's `StringPool` (casemapped sort keys) and `ids` pool (Message-IDs
 *   and parents); a pool is append-only and may be shared by successive tables of one mailbox, so an id
 *   means the same string in every table built over it;
 * - `at(i)` (and iteration, `map`, `records()`) gives a fresh SortKeys object equal to what was added;
 *   nothing keeps it, so callers that need every message's object for a moment (threading) pay for them
 *   only while they use them;
 * - `StringPool.ranks()` is the collation order of every pooled string (code point order of the casemap
 *   keys, see casemap.ts) as a rank per id, kept up to date incrementally as strings are added.
 * Never throws for valid input; `at` of an index out of range throws RangeError.
 */
import { compareCodePoints, needsCodePointCompare } from './casemap.js';
import { arrivalOf, type ContentKeys, type SortKeys } from './keys.js';

/** The string sort keys a table keeps as StringPool ids. */
export const STRING_FIELDS = ['subject', 'from', 'to', 'cc', 'displayFrom', 'displayTo'] as const;
export type StringField = (typeof STRING_FIELDS)[number];

/** Interned strings with ids 0..size-1, and (for sort keys) their collation ranks. */
export class StringPool {
  readonly strings: string[] = [];
  readonly #ids = new Map<string, number>();
  /** Ids in collation order, of the first #ranked strings. */
  #sorted: Uint32Array = new Uint32Array(0);
  #rank: Uint32Array = new Uint32Array(0);
  #ranked = 0;

  get size(): number {
    return this.strings.length;
  }

  intern(s: string): number {
    let id = this.#ids.get(s);
    if (id === undefined) {
      id = this.strings.push(s) - 1;
      this.#ids.set(s, id);
    }
    return id;
  }

  /**
   * rank[id] = the string's place in code point order among all pooled strings (distinct strings, distinct
   * ranks). Strings added since the last call are placed by bisection when they are few, else all are sorted.
   */
  ranks(): Uint32Array {
    const n = this.strings.length;
    if (this.#ranked === n) return this.#rank;
    const s = this.strings;
    const added = n - this.#ranked;
    let sorted: Uint32Array;
    if (added * 8 < this.#ranked) {
      const fresh = Array.from({ length: added }, (_, k) => this.#ranked + k).sort((a, b) => compareCodePoints(s[a]!, s[b]!));
      sorted = new Uint32Array(n);
      let w = 0;
      let r = 0;
      const old = this.#sorted;
      for (const id of fresh) {
        let lo = r;
        let hi = old.length;
        while (lo < hi) {
          const mid = (lo + hi) >>> 1;
          if (compareCodePoints(s[old[mid]!]!, s[id]!) < 0) lo = mid + 1;
          else hi = mid;
        }
        sorted.set(old.subarray(r, lo), w);
        w += lo - r;
        r = lo;
        sorted[w++] = id;
      }
      sorted.set(old.subarray(r), w);
    } else {
      const order = Array.from({ length: n }, (_, i) => i);
      if (s.some(needsCodePointCompare)) order.sort((a, b) => compareCodePoints(s[a]!, s[b]!));
      else order.sort((a, b) => (s[a]! < s[b]! ? -1 : 1));
      sorted = Uint32Array.from(order);
    }
    const rank = new Uint32Array(n);
    for (let i = 0; i < n; i++) rank[sorted[i]!] = i;
    this.#sorted = sorted;
    this.#rank = rank;
    this.#ranked = n;
    return rank;
  }
}

/** The per-row columns of a table and their array types. */
const ROW_TYPES = {
  uid: Uint32Array,
  arrival: Float64Array,
  sent: Float64Array,
  size: Float64Array,
  subject: Uint32Array,
  from: Uint32Array,
  to: Uint32Array,
  cc: Uint32Array,
  displayFrom: Uint32Array,
  displayTo: Uint32Array,
  replyOrForward: Uint8Array,
  /** Id in `ids`, or -1 for no Message-ID. */
  messageId: Int32Array,
} as const;
type RowColumn = keyof typeof ROW_TYPES;
const ROW_COLUMNS = Object.keys(ROW_TYPES) as RowColumn[];
type AnyColumn = Uint32Array | Float64Array | Uint8Array | Int32Array;

/** The columns of a table: one entry per row, and the parents (row i's are parents[parentAt[i] .. parentAt[i + 1])). */
type Columns = { [K in RowColumn]: InstanceType<(typeof ROW_TYPES)[K]> } & { parentAt: Uint32Array; parents: Uint32Array };

export class SortKeyTable implements Iterable<SortKeys> {
  readonly length: number;
  readonly pool: StringPool;
  readonly ids: StringPool;
  declare readonly uid: Uint32Array;
  declare readonly arrival: Float64Array;
  declare readonly sent: Float64Array;
  declare readonly size: Float64Array;
  declare readonly subject: Uint32Array;
  declare readonly from: Uint32Array;
  declare readonly to: Uint32Array;
  declare readonly cc: Uint32Array;
  declare readonly displayFrom: Uint32Array;
  declare readonly displayTo: Uint32Array;
  declare readonly replyOrForward: Uint8Array;
  declare readonly messageId: Int32Array;
  declare readonly parentAt: Uint32Array;
  declare readonly parents: Uint32Array;

  /** Use SortKeyBuilder, select or the static constructors. */
  constructor(pool: StringPool, ids: StringPool, c: Columns) {
    this.length = c.uid.length;
    this.pool = pool;
    this.ids = ids;
    Object.assign(this, c);
  }

  /** A table of `records` in their order (over the given pools, else fresh ones). */
  static fromRecords(records: Iterable<SortKeys>, pool = new StringPool(), ids = new StringPool()): SortKeyTable {
    const b = new SortKeyBuilder(pool, ids);
    for (const r of records) b.add(r);
    return b.build();
  }

  /** Row i's string key of `field`. */
  text(field: StringField, i: number): string {
    return this.pool.strings[this[field][i]!]!;
  }

  /** Row i as a SortKeys object (fresh each call). */
  at(i: number): SortKeys {
    if (!(i >= 0 && i < this.length)) throw new RangeError(`row ${i} of ${this.length}`);
    const s = this.pool.strings;
    const idStrings = this.ids.strings;
    const parents: string[] = [];
    for (let p = this.parentAt[i]!; p < this.parentAt[i + 1]!; p++) parents.push(idStrings[this.parents[p]!]!);
    const mid = this.messageId[i]!;
    return {
      uid: this.uid[i]!,
      arrival: this.arrival[i]!,
      sent: this.sent[i]!,
      size: this.size[i]!,
      subject: s[this.subject[i]!]!,
      from: s[this.from[i]!]!,
      to: s[this.to[i]!]!,
      cc: s[this.cc[i]!]!,
      displayFrom: s[this.displayFrom[i]!]!,
      displayTo: s[this.displayTo[i]!]!,
      replyOrForward: this.replyOrForward[i] === 1,
      messageId: mid < 0 ? null : idStrings[mid]!,
      parents,
    };
  }

  /** Every row as a SortKeys object, in row order (fresh objects). */
  records(): SortKeys[] {
    const out = new Array<SortKeys>(this.length);
    for (let i = 0; i < this.length; i++) out[i] = this.at(i);
    return out;
  }

  map<T>(fn: (k: SortKeys, i: number) => T): T[] {
    const out = new Array<T>(this.length);
    for (let i = 0; i < this.length; i++) out[i] = fn(this.at(i), i);
    return out;
  }

  *[Symbol.iterator](): Iterator<SortKeys> {
    for (let i = 0; i < this.length; i++) yield this.at(i);
  }

  /** True when the rows' uids are exactly `uids`, in the same order. */
  hasUids(uids: ArrayLike<number>): boolean {
    if (uids.length !== this.length) return false;
    const u = this.uid;
    for (let i = 0; i < u.length; i++) if (u[i] !== uids[i]) return false;
    return true;
  }

  /** Row index of `uid` in a table in ascending uid order, or -1. */
  indexOf(uid: number): number {
    const u = this.uid;
    let lo = 0;
    let hi = u.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const v = u[mid]!;
      if (v === uid) return mid;
      if (v < uid) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  /** A table of the given rows of this one, in the given order (same pools). */
  select(rows: ArrayLike<number>): SortKeyTable {
    const n = rows.length;
    const c = emptyColumns(n, 0);
    for (const k of ROW_COLUMNS) {
      const src: AnyColumn = this[k];
      const dst: AnyColumn = c[k];
      for (let j = 0; j < n; j++) dst[j] = src[rows[j]!]!;
    }
    let total = 0;
    for (let j = 0; j < n; j++) {
      total += this.parentAt[rows[j]! + 1]! - this.parentAt[rows[j]!]!;
      c.parentAt[j + 1] = total;
    }
    c.parents = new Uint32Array(total);
    for (let j = 0; j < n; j++) c.parents.set(this.parents.subarray(this.parentAt[rows[j]!]!, this.parentAt[rows[j]! + 1]!), c.parentAt[j]!);
    return new SortKeyTable(this.pool, this.ids, c);
  }
}

/** Grows columns row by row; `build` gives the table (the builder is then spent). */
export class SortKeyBuilder {
  readonly #pool: StringPool;
  readonly #ids: StringPool;
  #n = 0;
  #cap: number;
  #c: Columns;
  #parentCount = 0;

  constructor(pool: StringPool, ids: StringPool, capacity = 16) {
    this.#pool = pool;
    this.#ids = ids;
    this.#cap = Math.max(1, capacity);
    this.#c = emptyColumns(this.#cap, this.#cap);
  }

  get length(): number {
    return this.#n;
  }

  /** Appends one message's keys. */
  add(k: SortKeys): void {
    this.#addRow(k, k.uid, k.arrival, k.sent, k.size);
  }

  /** Appends one message's keys from its content keys and store row (as keysWithRow, without an object). */
  addContent(k: ContentKeys, uid: number, internalDate: number | Date, size: number): void {
    const arrival = arrivalOf(internalDate);
    this.#addRow(k, uid, arrival, k.sent ?? arrival, size);
  }

  #addRow(k: ContentKeys, uid: number, arrival: number, sent: number, size: number): void {
    if (this.#n === this.#cap) this.#grow(this.#cap * 2);
    const c = this.#c;
    const i = this.#n++;
    c.uid[i] = uid;
    c.arrival[i] = arrival;
    c.sent[i] = sent;
    c.size[i] = size;
    c.subject[i] = this.#pool.intern(k.subject);
    c.from[i] = this.#pool.intern(k.from);
    c.to[i] = this.#pool.intern(k.to);
    c.cc[i] = this.#pool.intern(k.cc);
    c.displayFrom[i] = this.#pool.intern(k.displayFrom);
    c.displayTo[i] = this.#pool.intern(k.displayTo);
    c.replyOrForward[i] = k.replyOrForward ? 1 : 0;
    c.messageId[i] = k.messageId === null ? -1 : this.#ids.intern(k.messageId);
    this.#reserveParents(k.parents.length);
    for (const id of k.parents) c.parents[this.#parentCount++] = this.#ids.intern(id);
    c.parentAt[i + 1] = this.#parentCount;
  }

  /** Appends row i of `t` (a table over the same pools). */
  addRow(t: SortKeyTable, i: number): void {
    if (t.pool !== this.#pool || t.ids !== this.#ids) {
      this.add(t.at(i));
      return;
    }
    if (this.#n === this.#cap) this.#grow(this.#cap * 2);
    const c = this.#c;
    const j = this.#n++;
    for (const k of ROW_COLUMNS) (c[k] as AnyColumn)[j] = t[k][i]!;
    const from = t.parentAt[i]!;
    const count = t.parentAt[i + 1]! - from;
    this.#reserveParents(count);
    c.parents.set(t.parents.subarray(from, from + count), this.#parentCount);
    this.#parentCount += count;
    c.parentAt[j + 1] = this.#parentCount;
  }

  /** Appends rows from .. to - 1 of `t` (a table over the same pools), copied a column at a time. */
  addRows(t: SortKeyTable, from: number, to: number): void {
    if (t.pool !== this.#pool || t.ids !== this.#ids) {
      for (let i = from; i < to; i++) this.add(t.at(i));
      return;
    }
    const count = to - from;
    if (count <= 0) return;
    if (this.#n + count > this.#cap) this.#grow(Math.max(this.#cap * 2, this.#n + count));
    const c = this.#c;
    const j = this.#n;
    for (const k of ROW_COLUMNS) (c[k] as AnyColumn).set(t[k].subarray(from, to), j);
    const p0 = t.parentAt[from]!;
    const p1 = t.parentAt[to]!;
    this.#reserveParents(p1 - p0);
    c.parents.set(t.parents.subarray(p0, p1), this.#parentCount);
    for (let i = 1; i <= count; i++) c.parentAt[j + i] = this.#parentCount + (t.parentAt[from + i]! - p0);
    this.#parentCount += p1 - p0;
    this.#n += count;
  }

  build(): SortKeyTable {
    const n = this.#n;
    const c = this.#c;
    const out = { ...c };
    for (const k of ROW_COLUMNS) if (c[k].length !== n) (out as Record<RowColumn, AnyColumn>)[k] = c[k].slice(0, n);
    out.parentAt = c.parentAt.slice(0, n + 1);
    out.parents = c.parents.slice(0, this.#parentCount);
    return new SortKeyTable(this.#pool, this.#ids, out);
  }

  /** Room for `count` more parents. */
  #reserveParents(count: number): void {
    const c = this.#c;
    if (this.#parentCount + count <= c.parents.length) return;
    const p = new Uint32Array(Math.max(c.parents.length * 2, this.#parentCount + count));
    p.set(c.parents);
    c.parents = p;
  }

  #grow(cap: number): void {
    const old = this.#c;
    const c = emptyColumns(cap, 0);
    for (const k of ROW_COLUMNS) (c[k] as AnyColumn).set(old[k]);
    c.parentAt.set(old.parentAt);
    c.parents = old.parents;
    this.#c = c;
    this.#cap = cap;
  }
}

function emptyColumns(n: number, parents: number): Columns {
  const c = { parentAt: new Uint32Array(n + 1), parents: new Uint32Array(parents) } as Columns;
  for (const k of ROW_COLUMNS) (c as Record<RowColumn, AnyColumn>)[k] = new ROW_TYPES[k](n);
  return c;
}
