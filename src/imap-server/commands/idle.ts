/**
 * IDLE (RFC 2177 / RFC 9051 6.3.13): updates (expunges included, with the search contexts' ADDTO and
 * REMOVEFROM, search-context.ts) pushed as the store wakes the view, a keepalive every 2 minutes, until the
 * client sends DONE (anything else: BAD). A deleted selected mailbox ends the connection with the
 * mailbox-deleted BYE.
 */
import { parseNone } from '../../imap/grammar/commands.js';
import { bad, ok } from '../errors.js';
import { AUTH, defineCommand } from '../session.js';
import { continuationLine, mailboxDeletedBye, okLine } from '../responses.js';
import { flushWithContexts } from '../search-context.js';
import { flushNotify, setNotifyWake } from './notify.js';

/** Untagged keepalive while idling, so NAT boxes keep the connection (Dovecot: every 2 minutes). */
const KEEPALIVE_MS = 2 * 60 * 1000;

export const idle = defineCommand({
  states: AUTH,
  seq: 'none',
  parse: parseNone,
  async run(ctx) {
    const s = ctx.session;
    const st = s.state;
    let chain: Promise<void> = Promise.resolve();
    const update = (start = false): void => {
      if (st.kind !== 'selected') return;
      chain = chain
        .then(async () => {
          // At the start the refresh after the previous command has just read the change log: only a wake-up
          // since then calls for another read. A commit it has not heard of yet wakes the view when it is
          // announced (this process, a linked worker, or the cross-process poll), and is reported then.
          if (!start || st.view.dirty) await st.view.refresh();
          await flushWithContexts(st.view, s, true);
          if (st.view.gone) {
            s.send(mailboxDeletedBye());
            s.end();
          }
        })
        .catch((e: unknown) => s.logger.warn({ err: e instanceof Error ? e.message : String(e) }, 'IDLE update failed'));
    };
    if (st.kind === 'selected') st.view.onWake = update;
    // NOTIFY: other watched mailboxes' STATUS as they change.
    const notifyUpdate = (): void => {
      chain = chain.then(() => flushNotify(s, ctx.service.store)).catch((e: unknown) => s.logger.warn({ err: e instanceof Error ? e.message : String(e) }, 'IDLE notify failed'));
    };
    setNotifyWake(s, notifyUpdate);
    s.send(Buffer.from(continuationLine('idling')));
    update(true);
    const keepalive = setInterval(() => s.send(Buffer.from(okLine(null, 'Still here'))), KEEPALIVE_MS);
    keepalive.unref();
    let line: Buffer;
    try {
      line = await s.readLine();
    } finally {
      clearInterval(keepalive);
      if (st.kind === 'selected') st.view.onWake = null;
      setNotifyWake(s, null);
      await chain;
    }
    if (line.toString('latin1').trim().toUpperCase() !== 'DONE') throw bad('Expected DONE');
    return ok('IDLE terminated');
  },
});
