/**
 * A loopback TCP proxy for client tests: forwards to a real server and can cut a connection after a number
 * of bytes from the server (a connection dropped mid-RETR or mid-FETCH). Counts the connections it took,
 * so a test can tell a single attempt from a retry storm.
 */
import { createServer, connect, type Server, type Socket, type AddressInfo } from 'node:net';

export interface CutProxy {
  port: number;
  /** Connections accepted so far. */
  connections: number;
  /** Cuts the next connection once this many bytes came from the server (null: forward everything). */
  cutNextAfter: number | null;
  /** Bytes the server sent through the proxy so far, over all connections (what a sync cost on the wire). */
  bytesFromServer: number;
  /** Bytes the clients sent through the proxy so far (the commands a sync needed). */
  bytesFromClient: number;
  close(): Promise<void>;
}

export async function startCutProxy(target: number): Promise<CutProxy> {
  const sockets = new Set<Socket>();
  const proxy: CutProxy = { port: 0, connections: 0, cutNextAfter: null, bytesFromServer: 0, bytesFromClient: 0, close: async () => undefined };
  const server: Server = createServer((down) => {
    proxy.connections++;
    const limit = proxy.cutNextAfter;
    proxy.cutNextAfter = null;
    const up = connect(target, '127.0.0.1');
    sockets.add(down);
    sockets.add(up);
    const kill = (): void => {
      down.destroy();
      up.destroy();
    };
    down.on('error', kill);
    up.on('error', kill);
    down.on('close', kill);
    up.on('close', kill);
    down.on('data', (d: Buffer) => {
      proxy.bytesFromClient += d.length;
      up.write(d);
    });
    let sent = 0;
    up.on('data', (d: Buffer) => {
      proxy.bytesFromServer += limit !== null ? Math.min(d.length, limit - sent) : d.length;
      if (limit !== null && sent + d.length >= limit) {
        down.write(d.subarray(0, limit - sent), kill);
        sent = limit;
        up.pause();
        return;
      }
      sent += d.length;
      if (!down.write(d)) {
        up.pause();
        down.once('drain', () => up.resume());
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  proxy.port = (server.address() as AddressInfo).port;
  proxy.close = () =>
    new Promise<void>((r) => {
      for (const s of sockets) s.destroy();
      server.close(() => r());
    });
  return proxy;
}
