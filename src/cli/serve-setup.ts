/**
 * What `serve` prints and does once on a new store, for both the single server (serve-server.ts) and the
 * primary of `serve --workers N` (serve-primary.ts): the first user and the mail client settings.
 * Light on purpose: the primary imports it, and the user-creation code loads only when a user is created.
 */
import { isInternalOwner } from '../store/acl.js';
import type { Store } from '../store/handle.js';
import type { ListenerName } from '../server/listeners.js';
import type { ServeConfig } from './serve.js';

export function clientSettings(m: { ports: Partial<Record<ListenerName, number>>; selfSignedCertFile: string | null }, host: string): string {
  const p = m.ports;
  const shown = host === '0.0.0.0' || host === '::' ? 'localhost' : host;
  const lines = ['Mail client settings:'];
  if (p.imap !== undefined) lines.push(`  IMAP        ${shown} port ${p.imap}  (STARTTLS)`);
  if (p.imaps !== undefined) lines.push(`  IMAP        ${shown} port ${p.imaps}  (SSL/TLS)`);
  if (p.pop3 !== undefined) lines.push(`  POP3        ${shown} port ${p.pop3}  (STARTTLS)`);
  if (p.pop3s !== undefined) lines.push(`  POP3        ${shown} port ${p.pop3s}  (SSL/TLS)`);
  if (p.submission !== undefined) lines.push(`  SMTP (send) ${shown} port ${p.submission}  (STARTTLS, password auth)`);
  if (p.submissions !== undefined) lines.push(`  SMTP (send) ${shown} port ${p.submissions}  (SSL/TLS, password auth)`);
  if (p.managesieve !== undefined) lines.push(`  ManageSieve ${shown} port ${p.managesieve}  (STARTTLS)`);
  if (p.https !== undefined) lines.push(`  JMAP        https://${shown}:${p.https}/.well-known/jmap`);
  else if (p.http !== undefined) lines.push(`  JMAP        http://${shown}:${p.http}/.well-known/jmap`);
  lines.push('  user name   the full address; cleartext login is allowed on loopback or after TLS');
  if (m.selfSignedCertFile) lines.push(`  certificate self-signed: ${m.selfSignedCertFile} (accept it in the client or pass --tls-cert/--tls-key)`);
  return lines.join('\n') + '\n';
}

/** Creates the first user on a store without users; returns the generated password, or null. */
export async function ensureFirstUser(store: Store, cfg: ServeConfig): Promise<string | null> {
  const users = (await store.directory.listUsers()).filter((u) => !isInternalOwner(u.address));
  if (users.length > 0) return null;
  const [{ generatePassword }, { createUserWithDomain }] = await Promise.all([import('./password.js'), import('../server/users.js')]);
  const password = generatePassword();
  await createUserWithDomain(store.directory, cfg.firstUser, password);
  await store.directory.setAdmin(cfg.firstUser, true);
  return password;
}

export function firstUserText(cfg: ServeConfig, password: string, settings: string): string {
  return (
    `\nCreated the first user (shown once; change it with \`mailroom user passwd ${cfg.firstUser}\`):\n` +
    `  address   ${cfg.firstUser}\n  password  ${password}\n\n` +
    settings +
    '\n'
  );
}
