/**
 * The primary of `serve --workers N` (server/cluster.ts): has the store prepared once (schema, first user,
 * self-signed certificate: serve-prepare.ts, in a short-lived child process), then runs the workers until a
 * signal.
 *
 * It serves no connection, so it loads no protocol server and no store: neither this module nor
 * server/cluster.ts imports IMAP, POP3, delivery, JMAP, the store or the mail-authentication code.
 */
import type { Logger } from '../lib/logger.js';
import type { ListenerName } from '../server/listeners.js';
import { runPrimary } from '../server/cluster.js';
import type { ServeConfig } from './serve.js';
import { prepareInChild, type Prepared } from './serve-prepare.js';
import { clientSettings, firstUserText } from './serve-setup.js';

export async function servePrimary(cfg: ServeConfig, logger: Logger): Promise<void> {
  let prepared: Prepared = { password: null, certFile: null };
  await runPrimary({
    workers: cfg.workers,
    logger,
    prepare: async () => {
      prepared = await prepareInChild();
    },
    ready: (listeners) => {
      if (!prepared.password) return;
      const ports: Partial<Record<ListenerName, number>> = {};
      for (const l of listeners) ports[l.name as ListenerName] = l.port;
      process.stdout.write(firstUserText(cfg, prepared.password, clientSettings({ ports, selfSignedCertFile: prepared.certFile }, cfg.host ?? '127.0.0.1')));
    },
  });
}
