/**
 * A loopback TCP server for scripted protocol tests: each connection gets `session(write)`, which returns
 * the handler of every CRLF-terminated line the peer sends (latin1, without the CRLF). close() destroys
 * the open connections and stops listening.
 */
import { createServer, type Socket, type AddressInfo } from 'node:net';

export type LineWriter = (s: string | Buffer) => void;

export interface LineServer {
  port: number;
  close(): Promise<void>;
}

export async function startLineServer(session: (write: LineWriter, sock: Socket) => (line: string) => void): Promise<LineServer> {
  const sockets = new Set<Socket>();
  const server = createServer((sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => undefined);
    const onLine = session((s) => void sock.write(s), sock);
    let buf = '';
    sock.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      let i: number;
      while ((i = buf.indexOf('\r\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 2);
        onLine(line);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}
