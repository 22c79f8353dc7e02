/**
 * The one-time work of `serve --workers N` before any worker starts: create the data directory, open the
 * store once (its schema), create the first user on an empty store, make the self-signed certificate if one
 * is needed. The primary runs it in a short-lived child process (the same command line, PREPARE_ENV set in
 * its environment) instead of doing it itself: the store's modules, SQLite and argon2 would otherwise stay
 * in the primary's memory for its whole life, and it never uses them again.
 */
import { fork } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { hostname as osHostname } from 'node:os';
import type { Logger } from '../lib/logger.js';
import { ensureSelfSigned } from '../server/tls.js';
import { CliError, describeError } from './common.js';
import type { ServeConfig } from './serve.js';
import { ensureFirstUser } from './serve-setup.js';

/** Set in the environment of the preparing child. */
export const PREPARE_ENV = 'MAILROOM_SERVE_PREPARE';

/** What the preparation did: the first user's password (null: the store had users), the certificate made. */
export interface Prepared {
  password: string | null;
  certFile: string | null;
}

/** The child's one message to the primary: what it did, or why it failed. */
type PrepareReport = { t: 'mr:prepared'; prepared: Prepared } | { t: 'mr:prepareFailed'; message: string; exitCode: number };

function isReport(m: unknown): m is PrepareReport {
  const t = (m as { t?: unknown } | null)?.t;
  return t === 'mr:prepared' || t === 'mr:prepareFailed';
}

/** The work itself (in the child). */
async function prepare(cfg: ServeConfig, logger: Logger, dataDir: string): Promise<Prepared> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const { openServerStore } = await import('../server/store.js');
  const store = await openServerStore(cfg.store ? { url: cfg.store } : { dataDir });
  let password: string | null;
  try {
    password = await ensureFirstUser(store, cfg);
  } finally {
    await store.close();
  }
  let certFile: string | null = null;
  if (!cfg.tlsCert && Object.values(cfg.ports).some((p) => p !== 'off')) {
    const s = await ensureSelfSigned(dataDir, cfg.hostname ?? osHostname());
    certFile = s.certFile;
    if (s.created) logger.warn({ file: s.certFile }, 'no --tls-cert given: generated a self-signed certificate');
  }
  return { password, certFile };
}

/** In the preparing child: prepares, reports to the primary and lets the process end. */
export async function runPrepareChild(cfg: ServeConfig, logger: Logger, dataDir: string): Promise<void> {
  // Ctrl-C reaches the whole process group: the primary stops once this short work is done.
  process.on('SIGINT', () => undefined);
  let report: PrepareReport;
  try {
    report = { t: 'mr:prepared', prepared: await prepare(cfg, logger, dataDir) };
  } catch (e) {
    const code = (e as { exitCode?: unknown }).exitCode;
    report = { t: 'mr:prepareFailed', message: describeError(e), exitCode: typeof code === 'number' && code > 0 ? code : 1 };
  }
  await new Promise<void>((resolve) => {
    if (!process.send) return resolve();
    process.send(report, () => resolve());
  });
  if (process.connected) process.disconnect();
}

/** In the primary: runs the preparation in a child process (same node flags and command line). */
export function prepareInChild(): Promise<Prepared> {
  return new Promise<Prepared>((resolve, reject) => {
    const child = fork(process.argv[1]!, process.argv.slice(2), { execArgv: process.execArgv, env: { ...process.env, [PREPARE_ENV]: '1' } });
    let report: PrepareReport | null = null;
    child.on('message', (m: unknown) => {
      if (isReport(m)) report = m;
    });
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      const r = report as PrepareReport | null;
      if (r?.t === 'mr:prepared') resolve(r.prepared);
      else if (r?.t === 'mr:prepareFailed') reject(new CliError(r.message, r.exitCode));
      else reject(new Error(`the process preparing the store exited with ${signal ?? `code ${code}`}`));
    });
  });
}
