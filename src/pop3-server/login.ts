/**
 * What every login mechanism (USER/PASS, APOP, AUTH) shares: the cleartext rule, failure replies, and
 * entering TRANSACTION state (LOGIN-DELAY, the maildrop lock, retention purge, the snapshot).
 */
import { isLoopback } from '../lib/service.js';
import type { User } from '../store/types.js';
import type { AuthResult } from '../auth/authenticator.js';
import { Maildrop } from './maildrop.js';
import { err, ok, type Reply } from './reply.js';
import type { CommandContext } from './session.js';

const DAY_MS = 24 * 60 * 60 * 1000;

/** Cleartext passwords (USER/PASS, AUTH PLAIN/LOGIN) only over TLS or loopback unless configured otherwise. */
export function cleartextAllowed(ctx: CommandContext): boolean {
  return ctx.secure || isLoopback(ctx.remoteAddress) || ctx.shared.allowPlaintextAuthOffLoopback;
}

export function cleartextRefused(ctx: CommandContext): Reply {
  const hint = ctx.shared.secureContext ? '; use STLS first' : '; connect over TLS';
  return err(`Plaintext authentication disallowed on non-secure connections${hint}`, 'AUTH');
}

/** The reply for a failed verification (the Authenticator has already applied its delay). */
export function failedLogin(ctx: CommandContext, result: Exclude<AuthResult, { ok: true }>, address: string): Reply {
  ctx.log.info({ user: address, reason: result.reason }, 'pop3 login failed');
  if (result.reason === 'throttled') return err('Too many failed logins; try again later', 'SYS/TEMP', { counts: 'auth-failure' });
  if (result.reason === 'temporary') return err('Temporary authentication failure; try again later', 'SYS/TEMP');
  return err('Authentication failed', 'AUTH', { counts: 'auth-failure' });
}

/**
 * Enters TRANSACTION state for an authenticated user (RFC 1939 section 4): enforces LOGIN-DELAY, takes the
 * exclusive maildrop lock ([IN-USE] when another session holds it), purges expired retrieved messages,
 * and snapshots INBOX. Store failures propagate (the dispatcher answers -ERR [SYS/TEMP]); the lock is
 * released on any failure after it was taken.
 */
export async function openMaildrop(ctx: CommandContext, user: User): Promise<Reply> {
  const { shared } = ctx;
  const now = Date.now();
  const delay = shared.loginDelaySeconds;
  const last = shared.lastLogin.get(user.id);
  if (delay !== null && delay > 0 && last !== undefined && now - last < delay * 1000) {
    ctx.log.info({ user: user.address }, 'pop3 login too soon');
    return err(`Minimum time between logins is ${delay} seconds`, 'LOGIN-DELAY');
  }
  const release = await shared.store.maildrop.lock(user.id);
  if (!release) {
    ctx.log.info({ user: user.address }, 'pop3 maildrop in use');
    return err('Mailbox is locked by another POP3 session', 'IN-USE');
  }
  let maildrop: Maildrop;
  try {
    const inbox = await shared.store.mail.getMailbox(user.id, 'INBOX');
    if (!inbox) {
      await release();
      return err('The user has no INBOX', 'SYS/PERM');
    }
    if (shared.retentionDays !== null) {
      const purged = await shared.store.maildrop.purgeRetrieved(inbox.id, new Date(now - shared.retentionDays * DAY_MS));
      if (purged > 0) ctx.log.info({ user: user.address, purged }, 'pop3 retention purge');
    }
    maildrop = new Maildrop(inbox.id, await shared.store.mail.listMessages(inbox.id));
  } catch (e) {
    await release().catch(() => undefined);
    throw e;
  }
  shared.lastLogin.set(user.id, now);
  ctx.state = { kind: 'transaction', user, maildrop, release: onceOnly(release) };
  const { count, octets } = maildrop.stat();
  ctx.log.info({ user: user.address, messages: count }, 'pop3 login');
  return ok(`Logged in; maildrop has ${count} message${count === 1 ? '' : 's'} (${octets} octets)`);
}

function onceOnly(fn: () => Promise<void>): () => Promise<void> {
  let p: Promise<void> | null = null;
  return () => (p ??= fn());
}
