/** Writes `head`, then `chunk` again and again until `total` bytes went out, respecting backpressure (a hostile server's endless response). */
import type { Socket } from 'node:net';

export function flood(sock: Socket, head: string | Buffer, chunk: Buffer, total: number): void {
  let sent = 0;
  sock.write(head);
  const pump = (): void => {
    while (sent < total && !sock.destroyed) {
      sent += chunk.length;
      if (!sock.write(chunk)) return void sock.once('drain', pump);
    }
  };
  pump();
}

/** Writes one byte every 40 ms until the socket closes or `stop()` (a server never idle long enough to time out). */
export function trickle(sock: Socket): () => void {
  const timer = setInterval(() => (sock.destroyed ? clearInterval(timer) : sock.write('x')), 40);
  return () => clearInterval(timer);
}

/**
 * The error a run that should be given up ends with; fails the test when it finishes or is still running
 * after a generous `ms` (a run that never ends is the failure being tested).
 */
export async function givenUpWith(run: Promise<unknown>, ms = 60_000): Promise<unknown> {
  const never = new Promise<'still running'>((resolve) => setTimeout(() => resolve('still running'), ms).unref());
  const outcome = await Promise.race([run.then(() => 'finished', (err: unknown) => err), never]);
  if (outcome === 'finished' || outcome === 'still running') throw new Error(`the run was not given up: ${outcome}`);
  return outcome;
}
