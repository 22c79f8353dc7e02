/**
 * Holds V8 heap flags for the life of the process (the mechanism; server/heap.ts chooses the values).
 *
 * V8's flags are process-wide, and Node sets them again from the command line whenever a worker thread
 * starts (once inside `new Worker()`, once more on the new thread before its 'online' event), which undoes
 * flags set at run time. So the flags are set again after every garbage collection (~10 us each), and code
 * that creates a worker thread hands it to heldAcrossWorker(), before a burst of allocation could grow the
 * heap under V8's defaults (a grown young generation is not given back).
 */
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
import { PerformanceObserver } from 'node:perf_hooks';
import type { Worker } from 'node:worker_threads';

/** An old-generation growth percent (0 = V8's heuristics), a young-generation cap in bytes. */
export interface HeapSettings {
  growingPercent?: number;
  youngCap?: number;
  /**
   * The new space may grow back to youngCap after V8 shrinks it (when allocation slows), in steps that
   * never pass the cap. Only where V8's own limit (--max-semi-space-size) bounds what a burst of collections
   * between two checks can grow: without it the new space stops growing for good at the cap.
   */
  regrow?: boolean;
}

/** The settings held in this process (process-wide, as V8's flags are); null when none. */
let held: HeapSettings | null = null;
/** The new space has reached the held cap: it grows no more (a shrink by V8 stands). */
let capped = false;

function newSpaceBytes(): number {
  return getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.space_size ?? 0;
}

/**
 * Sets the held flags again: the growth percent, and the semi-space growth factor: V8's 2 until the new space
 * first reaches the cap, 1 from then on. Letting it grow again after V8 shrinks it (when allocation slows)
 * would overshoot: the next burst doubles it several times before the check after a collection runs. A no-op
 * when nothing is held.
 */
export function reapplyHeapSettings(): void {
  if (!held) return;
  const flags: string[] = [];
  if (held.growingPercent !== undefined) flags.push(`--heap-growing-percent=${held.growingPercent}`);
  if (held.youngCap !== undefined) {
    const size = newSpaceBytes();
    if (held.regrow) flags.push(`--semi-space-growth-factor=${growthFactor(size, held.youngCap)}`);
    else {
      if (size >= held.youngCap) capped = true;
      flags.push(`--semi-space-growth-factor=${capped ? 1 : 2}`);
    }
  }
  if (flags.length) setFlagsFromString(flags.join(' '));
}

/**
 * The semi-space growth factor for a new space of `size` bytes held at `cap`: a whole factor up to 4 that
 * lands on the cap when one does, else 2 while doubling stays within it, else 1. A cap that is not a power
 * of two is reached that way (1 MB, 2 MB, 4 MB, then x3: 12 MB).
 */
export function growthFactor(size: number, cap: number): number {
  if (size <= 0 || size >= cap) return 1;
  if (cap % size === 0 && cap / size <= 4) return cap / size;
  return size * 2 <= cap ? 2 : 1;
}

/** Call right after `new Worker()`: sets the held flags again now and when the thread is online. */
export function heldAcrossWorker(worker: Worker): void {
  reapplyHeapSettings();
  worker.once('online', reapplyHeapSettings);
}

/**
 * Holds `settings` from now on (replacing earlier ones). Returns a function that stops holding them (the
 * flags keep their last values).
 */
export function keepHeapSettings(settings: HeapSettings): () => void {
  const mine = { ...settings };
  held = mine;
  capped = false;
  reapplyHeapSettings();
  const observer = new PerformanceObserver(() => {
    if (held === mine) reapplyHeapSettings();
  });
  observer.observe({ entryTypes: ['gc'] });
  return () => {
    observer.disconnect();
    if (held === mine) held = null;
  };
}
