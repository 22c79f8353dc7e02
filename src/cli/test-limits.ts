/**
 * For tests of a real `serve` only (one machine has no remote addresses): MAILROOM_TEST_LIMITS holds JSON
 * that makes the per-address connection limits count loopback connections like any address, so connections
 * from 127.0.0.x reach the refusals, and that sets the login throttle's options, so its limits are reached
 * without waiting seconds per failure:
 *   {"countLoopback": true, "auth": {"failureDelayMs": 0, "maxDelayMs": 0, "maxFailuresPerUser": 4}}
 * Nothing else is read from it; unset (as in every real deployment) it changes nothing. A malformed value
 * stops the server at start.
 */
import type { AuthenticatorOptions } from '../auth/authenticator.js';
import type { MailroomOptions } from '../server/mailroom.js';
import { CliError } from './common.js';

export const TEST_LIMITS_ENV = 'MAILROOM_TEST_LIMITS';

const AUTH_KEYS = ['failureDelayMs', 'maxDelayMs', 'windowMs', 'maxFailures', 'maxFailuresPerUser'] as const;

/** `opts` with the settings of MAILROOM_TEST_LIMITS added (the same object when it is unset). */
export function withTestLimits(opts: MailroomOptions, env: NodeJS.ProcessEnv = process.env): MailroomOptions {
  const text = env[TEST_LIMITS_ENV];
  if (text === undefined || text === '') return opts;
  let v: { countLoopback?: unknown; auth?: Record<string, unknown> };
  try {
    v = JSON.parse(text) as typeof v;
  } catch {
    throw new CliError(`${TEST_LIMITS_ENV} is not JSON`);
  }
  const auth: AuthenticatorOptions = { ...opts.auth };
  for (const k of AUTH_KEYS) {
    const n = v.auth?.[k];
    if (n === undefined) continue;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) throw new CliError(`${TEST_LIMITS_ENV}: auth.${k} must be a whole number`);
    auth[k] = n;
  }
  const out: MailroomOptions = { ...opts, auth };
  if (v.countLoopback === true) {
    out.imap = { ...opts.imap, countLoopback: true };
    out.pop3 = { ...opts.pop3, countLoopback: true };
    out.delivery = { ...opts.delivery, countLoopback: true };
  }
  return out;
}
