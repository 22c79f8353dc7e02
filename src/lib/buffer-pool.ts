/**
 * Reusable fixed-size buffers for bytes that go from a file straight to a socket (POP3 RETR and TOP).
 *
 * A fresh Buffer per message read makes V8 account hundreds of megabytes of short-lived external memory
 * during a bulk download, and every few megabytes of it trigger a full mark-compact of the whole heap;
 * reading into recycled buffers keeps that memory flat. A buffer goes back to the pool only once the socket
 * has taken its bytes (the write callback), so a view of it is never overwritten while still queued.
 */
export class BufferPool {
  readonly size: number;
  readonly #maxFree: number;
  /** Idle buffers, whole (a few: a linear search of them is cheaper than a hash look-up). */
  readonly #free: Buffer[] = [];
  /** Backing stores this pool created (those beyond maxFree idle ones are left to the garbage collector). */
  readonly #owned = new WeakSet<ArrayBufferLike>();

  constructor(size: number, maxFree: number) {
    this.size = size;
    this.#maxFree = maxFree;
  }

  /** A buffer of `size` bytes with unspecified content, owned by the caller until give(). */
  take(): Buffer {
    const b = this.#free.pop();
    if (b) return b;
    const fresh = Buffer.allocUnsafeSlow(this.size);
    this.#owned.add(fresh.buffer);
    return fresh;
  }

  /**
   * Returns the pool buffer `view` is part of, once nothing reads `view` any more. Views of other memory,
   * and buffers already returned, are ignored; beyond maxFree idle buffers the garbage collector takes them.
   */
  give(view: Buffer): void {
    const ab = view.buffer;
    const free = this.#free;
    if (free.length >= this.#maxFree || !this.#mine(ab)) return;
    for (let i = 0; i < free.length; i++) if (free[i]!.buffer === ab) return;
    free.push(view.byteOffset === 0 && view.length === this.size ? view : Buffer.from(ab, 0, this.size));
  }

  /** True when `view` lies in a buffer of this pool. */
  owns(view: Buffer): boolean {
    return this.#mine(view.buffer);
  }

  /**
   * Whether the pool made this backing store. Most views asked about are other memory (a message the store
   * held in memory, a status line): their size tells them apart without a look-up in the WeakSet.
   */
  #mine(ab: ArrayBufferLike): boolean {
    return ab.byteLength === this.size && this.#owned.has(ab);
  }
}
