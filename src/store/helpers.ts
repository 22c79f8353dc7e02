/**
 * Pure helpers shared by the SQLite and PostgreSQL stores, so the contract suite sees one behaviour from
 * both: address and domain normalisation (throws StoreError INVALID on bad input) and splitting an array
 * into fixed-size chunks for `IN (...)` / `ANY(...)` queries. Nothing here touches a database.
 */
import { StoreError } from './types.js';
import { addressKey } from '../lib/ascii.js';

/** The address key (lib/ascii addressKey: ASCII letters lowercased, ASCII whitespace trimmed); INVALID when empty, too long, or containing whitespace/control characters. */
export function normalizeAddress(address: string): string {
  if (typeof address !== 'string') throw new StoreError('INVALID', 'address must be a string');
  const a = addressKey(address);
  // eslint-disable-next-line no-control-regex
  if (a.length === 0 || a.length > 320 || /[\s\u0000-\u001f\u007f]/.test(a)) throw new StoreError('INVALID', 'invalid address');
  return a;
}

/** A normalised address without '@'; INVALID otherwise. */
export function normalizeDomain(domain: string): string {
  const d = normalizeAddress(domain);
  if (d.includes('@')) throw new StoreError('INVALID', 'invalid domain');
  return d;
}

/** `arr` cut into consecutive slices of at most `size` elements. */
export function chunks<T>(arr: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < arr.length; i += size) out.push(arr.slice(i, i + size));
  return out;
}

/** The key of an async iterable's batch view (see Batched). */
export const BATCHES = Symbol('batches');

/**
 * An async iterable of items that can also be read a batch at a time: `[BATCHES]()` yields the same items,
 * in the same order, as arrays (some possibly empty). What the store's readMessages returns.
 */
export interface Batched<T> extends AsyncIterable<T> {
  [BATCHES](): AsyncIterable<T[]>;
}

/**
 * The items of any async iterable as arrays: the batches themselves when it is Batched, else one array per
 * item. A consumer that handles each batch without awaiting (FETCH rendering) then pays no promise per item.
 */
export function inBatches<T>(items: AsyncIterable<T>): AsyncIterable<T[]> {
  const batched = (items as Partial<Batched<T>>)[BATCHES];
  if (batched) return batched.call(items);
  return {
    async *[Symbol.asyncIterator](): AsyncGenerator<T[]> {
      for await (const x of items) yield [x];
    },
  };
}

/**
 * The items of the arrays `batches` yields, in order, as one async iterable. A store reads rows in batches;
 * an async generator yielding each row (and each layer delegating with yield*) cost several promise
 * resolutions per row, a large share of a FETCH of thousands of small responses. Here an item already read
 * costs one resolved promise (none through inBatches); the generator runs once per batch. Ending the loop
 * early ends the generator.
 */
export function flattenBatches<T>(batches: () => AsyncIterator<T[]>): Batched<T> {
  return {
    [BATCHES]: () => ({ [Symbol.asyncIterator]: batches }),
    [Symbol.asyncIterator](): AsyncIterator<T> {
      const source = batches();
      let batch: T[] = [];
      let i = 0;
      let done = false;
      const next = (): Promise<IteratorResult<T>> => {
        if (i < batch.length) return Promise.resolve({ value: batch[i++]!, done: false });
        if (done) return Promise.resolve({ value: undefined, done: true });
        return source.next().then((r) => {
          if (r.done) {
            done = true;
            batch = [];
          } else {
            batch = r.value;
            i = 0;
          }
          return next();
        });
      };
      return {
        next,
        return: async (value?: unknown): Promise<IteratorResult<T>> => {
          if (!done) {
            done = true;
            batch = [];
            await source.return?.();
          }
          return { value: value as T, done: true };
        },
      };
    },
  };
}

/** Earliest and latest internal dates a store accepts: IMAP writes the year with exactly four digits. */
const MIN_INTERNAL_DATE = Date.parse('0001-01-01T00:00:00Z');
const MAX_INTERNAL_DATE = Date.parse('9999-12-31T23:59:59.999Z');

/** The internal date of a message to append (now when none is given); INVALID when it cannot be written out. */
export function checkInternalDate(d: Date | undefined): Date {
  const date = d ?? new Date();
  if (!(date instanceof Date) || Number.isNaN(date.getTime())) throw new StoreError('INVALID', 'invalid internal date');
  if (date.getTime() < MIN_INTERNAL_DATE || date.getTime() > MAX_INTERNAL_DATE) throw new StoreError('INVALID', 'internal date outside the years 1 to 9999');
  return date;
}
