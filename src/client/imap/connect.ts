/**
 * Opening an authenticated IMAP connection (imapflow) with the account's security settings: implicit TLS,
 * STARTTLS or plain (loopback or when asked), the account's extra CA, QRESYNC unless disabled; failures
 * come back as classified ClientErrors (AUTH, TLS, UNREACHABLE, TEMPORARY, ...).
 */
import { ImapFlow } from 'imapflow';
import { ClientError, classifyError } from '../errors.js';
import { DEFAULT_STALL } from '../stall.js';
import type { ImapContext } from './syncer.js';
import { RefusalRecorder, attachRecorder } from './refusal.js';
import { WireGuard, attachGuard } from './guard.js';

/** The longest response line without literals (a UID SEARCH of two million messages fits). */
export const MAX_LINE_BYTES = 16 * 1024 * 1024;
/** The longest literal: 16 times the partial FETCH window, for servers whose RFC822.SIZE runs short. */
export const MAX_LITERAL_BYTES = 16 * 1024 * 1024;
/** The longest whole response (one FETCH with its literals). */
export const MAX_RESPONSE_BYTES = 32 * 1024 * 1024;

/** Opens an authenticated imapflow connection with our security settings and error classification. */
export async function openImap(ctx: Pick<ImapContext, 'account' | 'password' | 'ca' | 'disable' | 'stall'>, extra: { autoIdle?: boolean } = {}): Promise<ImapFlow> {
  const a = ctx.account;
  const refusals = new RefusalRecorder();
  const where = `${a.host}:${a.port}`;
  const client = new ImapFlow({
    host: a.host,
    port: a.port,
    secure: a.security === 'tls',
    doSTARTTLS: a.security === 'starttls' ? true : a.security === 'plain' ? false : undefined,
    auth: { user: a.user, pass: ctx.password },
    logger: refusals.logger,
    qresync: !ctx.disable?.qresync,
    disableAutoIdle: !extra.autoIdle,
    disableCompression: true,
    connectionTimeout: 30_000,
    // Bounds on what a server can make us hold (imapflow's defaults are 1 GiB): bodies over 1 MB come in
    // 1 MB partial FETCH windows, so a longer literal or line is a broken or hostile server.
    maxLineLength: MAX_LINE_BYTES,
    maxLiteralSize: MAX_LITERAL_BYTES,
    maxResponseSize: MAX_RESPONSE_BYTES,
    greetingTimeout: 15_000,
    tls: { ...(ctx.ca ? { ca: [ctx.ca] } : {}), ...(isIp(a.host) ? {} : { servername: a.host }) },
    clientInfo: { name: 'mailroom', version: '0.1.0' },
  });
  attachRecorder(client, refusals);
  client.on('error', (e: unknown) => {
    // Surfaced through the failing command; kept for a clearer report than "Connection not available".
    refusals.fault ??= e;
  });
  // The guard watches a connected socket; until then (TLS, greeting, LOGIN, ENABLE) the whole opening has
  // one progress window, so a server trickling its greeting or login answer is given up too.
  // The account's own rule (account add/set --progress-*) first, then the engine's, then the default.
  const rule = a.progress ?? ctx.stall ?? DEFAULT_STALL;
  const opening = setTimeout(() => {
    refusals.fault = new ClientError('NETWORK', `account ${a.name}: ${where} did not finish the connection and login within ${Math.round(rule.windowMs / 1000)} s: connection closed`);
    client.close();
  }, rule.windowMs);
  try {
    await client.connect();
  } catch (e) {
    client.close();
    throw classifyError(refusals.fault instanceof ClientError ? refusals.fault : e, where);
  } finally {
    clearTimeout(opening);
  }
  const guard = new WireGuard(client, `account ${a.name}: ${where}`);
  guard.start(rule);
  attachGuard(client, guard);
  return client;
}

function isIp(host: string): boolean {
  return /^[\d.]+$/.test(host) || host.includes(':');
}
