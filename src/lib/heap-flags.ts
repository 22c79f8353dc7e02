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
    if (newSpaceBytes() >= held.youngCap) capped = true;
    flags.push(`--semi-space-growth-factor=${capped ? 1 : 2}`);
  }
  if (flags.length) setFlagsFromString(flags.join(' '));
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
