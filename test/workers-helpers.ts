/**
 * Shared by the `serve --workers N` tests: the built CLI serving a data directory with N workers (IMAP, POP3,
 * LMTP and HTTP on free ports, read from the primary's "listening" lines), the workers' process ids from its
 * "worker ready" lines, and IMAP connections known to be served by distinct workers (the ID response names
 * the worker).
 */
import type { ChildProcess } from 'node:child_process';
import { startCli } from './helpers/cli.js';
import { RawClient } from './imap-helpers.js';

const PORTS = ['imap', 'pop3', 'lmtp', 'http'];
const OFF = ['imaps', 'pop3s', 'smtp', 'submission', 'submissions', 'https', 'managesieve'];

export interface Served {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
  ports: Record<string, number>;
  /** The live process id of each worker slot, from the latest "worker ready" line. */
  workerPids(): Map<number, number>;
  /** SIGTERM to the primary; resolves with its exit code. */
  stop(): Promise<number | null>;
}

export async function serveWorkers(dir: string, workers: number, extra: string[] = [], env?: NodeJS.ProcessEnv): Promise<Served> {
  const args = ['serve', '--data', dir, '--workers', String(workers), ...PORTS.flatMap((l) => [`--${l}-port`, '0']), ...OFF.flatMap((l) => [`--${l}-port`, 'off']), ...extra];
  const s = await startCli(args, /mailroom ready/, env);
  const ports: Record<string, number> = {};
  for (const m of s.output().matchAll(/listener=(\w+) address=127\.0\.0\.1:(\d+)/g)) ports[m[1]!] ??= Number(m[2]);
  return {
    ...s,
    ports,
    workerPids() {
      const out = new Map<number, number>();
      for (const m of s.output().matchAll(/worker ready .*?worker=(\d+) pid=(\d+)/g)) out.set(Number(m[1]), Number(m[2]));
      return out;
    },
    async stop() {
      s.child.kill('SIGTERM');
      return s.exited;
    },
  };
}

/** The worker serving an IMAP connection, from its ID response ('' when the server names none). */
export async function workerOf(c: RawClient): Promise<string> {
  const r = await c.cmd('ID NIL');
  return /"x-mailroom-worker" "(\d+)"/.exec(r)?.[1] ?? '';
}

/**
 * Logged-in IMAP connections on `n` distinct workers (connecting again until they are found; the cluster
 * hands connections to workers in turn, so a few tries suffice). Extra connections are closed.
 */
export async function imapOnWorkers(port: number, n: number, user: string, password: string): Promise<RawClient[]> {
  const found = new Map<string, RawClient>();
  for (let i = 0; i < 20 * n && found.size < n; i++) {
    const c = await RawClient.connect(port);
    const w = await workerOf(c);
    if (w === '' || found.has(w)) {
      c.close();
      continue;
    }
    await c.login(user, password);
    found.set(w, c);
  }
  if (found.size < n) throw new Error(`only ${found.size} distinct workers answered`);
  return [...found.values()];
}

/** Waits until `re` matches the server's output (returns the match). */
export async function outputMatches(s: Served, re: RegExp, timeoutMs = 20_000): Promise<RegExpExecArray> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const m = re.exec(s.output());
    if (m) return m;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${re}; output:\n${s.output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
