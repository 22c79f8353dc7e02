/**
 * One whole `mailroom serve` server (every listener, the store): alone, or as a worker of the primary of
 * `serve --workers N` (serve-primary.ts, server/cluster-worker.ts). Imported by serve.ts only when it runs.
 */
import type { Logger } from '../lib/logger.js';
import { withRecentLog } from '../lib/metrics.js';
import { createMailroom } from '../server/mailroom.js';
import { WorkerLink } from '../server/cluster-worker.js';
import { WORKER_SLOT_ENV } from '../server/cluster-messages.js';
import { withTestLimits } from './test-limits.js';
import { mailroomOptions, type ServeConfig } from './serve.js';
import { clientSettings, ensureFirstUser, firstUserText } from './serve-setup.js';

export async function runServer(cfg: ServeConfig, baseLogger: Logger, dataDir: string): Promise<void> {
  const rootLogger = withRecentLog(baseLogger);
  const host = cfg.host ?? '127.0.0.1';
  // A worker of `serve --workers N`: the primary did the one-time work and reports the listeners.
  const link = WorkerLink.isWorker ? new WorkerLink() : null;
  const logger = link ? rootLogger.child({ worker: Number(process.env[WORKER_SLOT_ENV]) }) : rootLogger;
  // Signal handlers go in first, so a SIGINT/SIGTERM during start-up also ends in a clean stop.
  let signalled: string | null = null;
  let wake: () => void = () => undefined;
  const onSignal = (signal: string): void => {
    if (signalled) return;
    signalled = signal;
    wake();
  };
  const onInt = (): void => onSignal('SIGINT');
  const onTerm = (): void => onSignal('SIGTERM');
  // The primary is gone (its IPC channel closed): stop as on SIGTERM.
  const onGone = (): void => onSignal('primary exited');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  if (link) process.on('disconnect', onGone);
  const m = createMailroom(withTestLimits({ ...mailroomOptions(cfg, dataDir, logger), ...(link ? { cluster: link } : {}) }));
  const onHup = (): void => {
    if (!cfg.tlsCert) return logger.info({}, 'SIGHUP: no --tls-cert/--tls-key given, nothing to reload');
    m.reloadTls().then(
      (stuck) => {
        if (stuck.length) logger.warn({ listeners: stuck }, 'these listeners keep the old certificate until restart');
        logger.info({ cert: cfg.tlsCert }, 'TLS certificate reloaded');
      },
      (e: unknown) => logger.error({ err: e }, 'TLS certificate reload failed; the old one stays in use'),
    );
  };
  process.on('SIGHUP', onHup);
  try {
    if (link) await link.hello();
    await m.start();
    if (link) link.ready(m.listeners);
    else {
      if (m.certificateCreated) logger.warn({ file: m.selfSignedCertFile }, 'no --tls-cert given: generated a self-signed certificate');
      for (const l of m.listeners) logger.info({ listener: l.name, address: `${l.host}:${l.port}`, tls: l.tls }, `listening`);
      const password = await ensureFirstUser(m.store, cfg);
      if (password) process.stdout.write(firstUserText(cfg, password, clientSettings(m, host)));
      logger.info({ data: cfg.store ? undefined : dataDir, listeners: m.listeners.length }, 'mailroom ready');
    }
    if (!signalled) await new Promise<void>((r) => (wake = r));
    logger.info({ signal: signalled }, 'stopping');
  } finally {
    await m.stop().catch((e: unknown) => logger.error({ err: e }, 'error while stopping'));
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
    process.off('SIGHUP', onHup);
    if (link) {
      process.off('disconnect', onGone);
      link.close();
      if (process.connected) process.disconnect();
    }
  }
  logger.info({}, 'stopped');
}

