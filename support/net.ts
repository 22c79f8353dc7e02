/** Loopback port helpers shared by the test and benchmark launchers. */
import { createServer, connect, type AddressInfo, type Server } from 'node:net';

/** A port that was free on 127.0.0.1 a moment ago (for programs that cannot bind port 0 themselves). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * n distinct ports that were free on 127.0.0.1 a moment ago. Every listener stays open until all n are
 * bound, so the kernel cannot hand the same port out twice (separate freePort() calls can).
 */
export async function freePorts<N extends number>(n: N): Promise<Ports<N>> {
  const servers = await Promise.all(
    Array.from({ length: n }, () => new Promise<Server>((resolve, reject) => {
      const srv = createServer();
      srv.once('error', reject);
      srv.listen(0, '127.0.0.1', () => resolve(srv));
    })),
  );
  const ports = servers.map((srv) => (srv.address() as AddressInfo).port);
  await Promise.all(servers.map((srv) => new Promise<void>((resolve) => srv.close(() => resolve()))));
  return ports as Ports<N>;
}

/** n numbers as a tuple type, so destructured ports are numbers. */
type Ports<N extends number, T extends number[] = []> = T['length'] extends N ? T : Ports<N, [...T, number]>;

/** True when something accepts connections on 127.0.0.1:port. */
export function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}
