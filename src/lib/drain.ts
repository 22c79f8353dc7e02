/**
 * Waiting for a stream's 'drain' with a deadline: what a server does when a client stops reading its
 * responses. Resolves on 'drain'; rejects with `gone()` when the stream closes first, or, after `timeoutMs`,
 * destroys the stream (after `onTimeout`, e.g. a log line) and rejects the same way.
 */
import type { Duplex } from 'node:stream';

export function drainWithin(s: Duplex, timeoutMs: number, gone: () => Error, onTimeout?: () => void): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const done = (e?: Error): void => {
      clearTimeout(timer);
      s.off('drain', onDrain);
      s.off('close', onClose);
      if (e) reject(e);
      else resolve();
    };
    const onDrain = (): void => done();
    const onClose = (): void => done(gone());
    const timer = setTimeout(() => {
      onTimeout?.();
      s.destroy();
      done(gone());
    }, timeoutMs);
    timer.unref();
    s.on('drain', onDrain);
    s.on('close', onClose);
  });
}
