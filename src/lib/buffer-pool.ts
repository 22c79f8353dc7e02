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
  readonly #free: Buffer[] = [];
  /** Backing stores this pool created, and those of them sitting in #free (a second give is ignored). */
  readonly #owned = new WeakSet<ArrayBufferLike>();
  readonly #idle = new WeakSet<ArrayBufferLike>();

  constructor(size: number, maxFree: number) {
    this.size = size;
    this.#maxFree = maxFree;
  }

  /** A buffer of `size` bytes with unspecified content, owned by the caller until give(). */
  take(): Buffer {
    const b = this.#free.pop();
    if (b) {
      this.#idle.delete(b.buffer);
      return b;
    }
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
    if (!this.#owned.has(ab) || this.#idle.has(ab) || this.#free.length >= this.#maxFree) return;
    this.#idle.add(ab);
    this.#free.push(Buffer.from(ab, 0, this.size));
  }

  /** True when `view` lies in a buffer of this pool. */
  owns(view: Buffer): boolean {
    return this.#owned.has(view.buffer);
  }
}
