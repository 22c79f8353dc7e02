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
