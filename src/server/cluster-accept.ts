/**
 * Connections of `serve --workers N` go to the worker with the fewest open connections.
 *
 * Node's cluster module (round robin) hands a queued connection to whichever worker acknowledges its last
 * one first, so a burst of connections (ten LMTP senders or twenty IMAP clients starting together) often
 * split 8/2 or 7/3: the busy worker set the pace while the other's core idled, for as long as the sessions
 * lasted. Here the primary listens itself, for the listeners of the mail protocols (IMAP, POP3, LMTP, SMTP,
 * submission, ManageSieve: every service that binds through lib/service.ts listenOn), and passes each
 * accepted socket, not yet read from, to the worker with the fewest connections it was given that have not
 * closed, taking turns among equals. TLS (implicit or STARTTLS) stays in the worker: the worker's server
 * gets the raw socket as if it had accepted it. HTTP keeps Node's own sharing (short requests, no bursts
 * of long sessions).
 *
 * Messages (their own "ma:" prefix, apart from cluster-messages.ts's "mr:"):
 *   worker -> primary  ma:listen id name host port   listen for `name` (answered by ma:bound with the id)
 *                      ma:unlisten name              this worker's server for `name` closed: send no more
 *                      ma:ended n                    n of the connections passed to this worker closed
 *   primary -> worker  ma:bound id host port error code  the listener's address, or why it could not bind
 *                      ma:conn name + the socket     a connection for the worker's server of `name`
 * The first worker that asks for a name binds it (port 0: one free port for every worker); the others and
 * restarted workers join it. A bind error (EADDRINUSE) fails the worker's listen as a direct bind would.
 */
import cluster, { type Worker } from 'node:cluster';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { Logger } from '../lib/logger.js';
import { setListenHook, type ListenSpec } from '../lib/service.js';
import { isOurs } from './cluster-messages.js';

type ToPrimary = { t: 'ma:listen'; id: number; name: string; host: string; port: number } | { t: 'ma:unlisten'; name: string } | { t: 'ma:ended'; n: number };
type ToWorker = { t: 'ma:bound'; id: number; host: string; port: number; family: string; error: string | null; code?: string } | { t: 'ma:conn'; name: string };

interface Listener {
  server: Server;
  bound: Promise<AddressInfo>;
  /** Workers (by cluster id) whose server for this name takes connections. */
  takers: Set<number>;
}

/**
 * Picks the taker with the fewest open connections; among equals the one after `last` in id order, so
 * that ties take turns. Returns null when there is none.
 */
export function pickWorker(takers: Iterable<number>, open: ReadonlyMap<number, number>, last: number): number | null {
  let best: number | null = null;
  let bestLoad = Infinity;
  let bestAfter = false;
  for (const id of takers) {
    const load = open.get(id) ?? 0;
    const after = id > last;
    // Fewer connections win; at equal load, an id after the last choice beats one before it, then the lower id.
    if (load < bestLoad || (load === bestLoad && ((after && !bestAfter) || (after === bestAfter && best !== null && id < best)))) {
      best = id;
      bestLoad = load;
      bestAfter = after;
    }
  }
  return best;
}

/** The primary's side: listeners by name, and the open connections passed to each worker. */
export class Acceptor {
  readonly #log: Logger;
  readonly #listeners = new Map<string, Listener>();
  readonly #open = new Map<number, number>();
  #last = 0;
  #closed = false;
  readonly #onFork = (w: Worker): void => {
    w.on('message', (m: unknown) => {
      if (isOurs<ToPrimary>(m, 'ma:')) this.#handle(w, m);
    });
  };
  readonly #onExit = (w: Worker): void => this.#drop(w.id);

  constructor(log: Logger) {
    this.#log = log;
    cluster.on('fork', this.#onFork);
    cluster.on('exit', this.#onExit);
  }

  /** Open connections passed to each worker (by cluster id), for tests and logs. */
  get open(): ReadonlyMap<number, number> {
    return this.#open;
  }

  /** Stops accepting (the server is stopping); the workers drain the connections they have. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    cluster.off('fork', this.#onFork);
    cluster.off('exit', this.#onExit);
    await Promise.all([...this.#listeners.values()].map((l) => new Promise<void>((r) => l.server.close(() => r()))));
  }

  #handle(w: Worker, m: ToPrimary): void {
    switch (m.t) {
      case 'ma:listen':
        void this.#listen(w, m);
        return;
      case 'ma:unlisten':
        this.#listeners.get(m.name)?.takers.delete(w.id);
        return;
      case 'ma:ended':
        this.#open.set(w.id, Math.max(0, (this.#open.get(w.id) ?? 0) - m.n));
        return;
    }
  }

  async #listen(w: Worker, m: Extract<ToPrimary, { t: 'ma:listen' }>): Promise<void> {
    let l = this.#listeners.get(m.name);
    if (!l) {
      const server = createServer({ pauseOnConnect: true, allowHalfOpen: true }, (s) => this.#route(m.name, s));
      server.on('error', (e) => this.#log.error({ listener: m.name, err: e.message }, 'listener error'));
      const bound = new Promise<AddressInfo>((resolve, reject) => {
        server.once('error', reject);
        server.listen(m.port, m.host, () => {
          server.off('error', reject);
          resolve(server.address() as AddressInfo);
        });
      });
      l = { server, bound, takers: new Set() };
      this.#listeners.set(m.name, l);
      // A failed bind is forgotten, so that a later start may try again.
      bound.catch(() => {
        if (this.#listeners.get(m.name) === l) this.#listeners.delete(m.name);
      });
    }
    let reply: ToWorker;
    try {
      const a = await l.bound;
      if (!this.#closed && !w.isDead()) {
        l.takers.add(w.id);
        if (!this.#open.has(w.id)) this.#open.set(w.id, 0);
      }
      reply = { t: 'ma:bound', id: m.id, host: a.address, port: a.port, family: a.family, error: null };
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      reply = { t: 'ma:bound', id: m.id, host: m.host, port: m.port, family: '', error: e instanceof Error ? e.message : String(e), ...(code ? { code } : {}) };
    }
    send(w, reply);
  }

  #route(name: string, socket: Socket): void {
    const l = this.#listeners.get(name);
    const id = l ? pickWorker(l.takers, this.#open, this.#last) : null;
    const w = id === null ? undefined : cluster.workers?.[id];
    if (id === null || !w || !w.isConnected()) {
      socket.destroy();
      return;
    }
    this.#last = id;
    this.#open.set(id, (this.#open.get(id) ?? 0) + 1);
    try {
      w.send({ t: 'ma:conn', name } satisfies ToWorker, socket, (err) => {
        if (!err) return;
        // Not delivered (the worker is going away): the client is disconnected, as a crash would.
        this.#open.set(id, Math.max(0, (this.#open.get(id) ?? 0) - 1));
        socket.destroy();
      });
    } catch {
      this.#open.set(id, Math.max(0, (this.#open.get(id) ?? 0) - 1));
      socket.destroy();
    }
  }

  #drop(id: number): void {
    this.#open.delete(id);
    for (const l of this.#listeners.values()) l.takers.delete(id);
  }
}

function send(w: Worker, m: ToWorker): void {
  try {
    if (w.isConnected()) w.send(m);
  } catch {
    // The worker is going away.
  }
}

/**
 * The worker's side: installs the listen hook of lib/service.ts, so that a service's listen of a named
 * listener asks the primary instead of binding, and feeds the sockets the primary passes to that server.
 */
export class AcceptLink {
  readonly #servers = new Map<string, Server>();
  readonly #pending = new Map<number, (m: Extract<ToWorker, { t: 'ma:bound' }>) => void>();
  #nextId = 1;
  #ended = 0;
  #flush: NodeJS.Immediate | null = null;
  readonly #onMessage = (m: unknown, handle: unknown): void => {
    if (!isOurs<ToWorker>(m, 'ma:')) return;
    if (m.t === 'ma:bound') {
      const p = this.#pending.get(m.id);
      this.#pending.delete(m.id);
      p?.(m);
    } else this.#take(m.name, handle as Socket | undefined);
  };

  constructor() {
    process.on('message', this.#onMessage);
    setListenHook((server, spec) => this.#listen(server, spec));
  }

  close(): void {
    process.off('message', this.#onMessage);
    setListenHook(null);
    for (const p of this.#pending.values()) p({ t: 'ma:bound', id: 0, host: '', port: 0, family: '', error: 'worker is stopping' });
    this.#pending.clear();
  }

  #listen(server: Server, spec: ListenSpec & { name: string }): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      const id = this.#nextId++;
      this.#pending.set(id, (m) => {
        if (m.error !== null) {
          // The bind error as a direct listen would have raised it (the CLI words EADDRINUSE and EACCES).
          reject(Object.assign(new Error(m.error), { ...(m.code ? { code: m.code } : {}), syscall: 'listen', address: spec.host, port: spec.port }));
          return;
        }
        this.#servers.set(spec.name, server);
        server.once('close', () => {
          if (this.#servers.get(spec.name) !== server) return;
          this.#servers.delete(spec.name);
          this.#send({ t: 'ma:unlisten', name: spec.name });
        });
        resolve({ address: m.host, port: m.port, family: m.family });
      });
      this.#send({ t: 'ma:listen', id, name: spec.name, host: spec.host, port: spec.port });
    });
  }

  #take(name: string, socket: Socket | undefined): void {
    if (!socket) return;
    const server = this.#servers.get(name);
    socket.once('close', () => this.#closed());
    if (!server) {
      socket.destroy();
      return;
    }
    // What a listening net.Server does for a socket it accepts: its allowHalfOpen (POP3 answers a QUIT whose
    // client has already shut down its side), and no Nagle delay (the services ask for it anyway).
    socket.allowHalfOpen = (server as Server & { allowHalfOpen?: boolean }).allowHalfOpen === true;
    socket.setNoDelay(true);
    server.emit('connection', socket);
  }

  /** Closed connections are reported together, once per turn of the event loop. */
  #closed(): void {
    this.#ended++;
    this.#flush ??= setImmediate(() => {
      this.#flush = null;
      const n = this.#ended;
      this.#ended = 0;
      if (n > 0) this.#send({ t: 'ma:ended', n });
    });
  }

  #send(m: ToPrimary): void {
    try {
      if (process.connected) process.send?.(m);
    } catch {
      // The primary is gone; this worker is stopping.
    }
  }
}
