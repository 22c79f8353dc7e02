/**
 * RCPT TO:<Postmaster> without a domain (RFC 5321 2.3.5, 4.1.1.3, 4.5.1; LMTP follows it, RFC 2033): every
 * server must accept it, for the postmaster of the host. It stands for postmaster@D, D being the server's
 * hostname or its nearest parent that is a local domain (mx.example.org -> example.org), else the first local
 * domain; it then resolves as any postmaster@D does (resolve.ts: user, alias, catch-all, else an administrator).
 */
import type { Directory } from '../store/directory.js';
import { POSTMASTER, postmasterAdmin, resolveRecipient, type Resolution } from './resolve.js';

/** Whether an envelope recipient is the bare "postmaster" (any case) of RFC 5321 4.1.1.3. */
export function isBarePostmaster(address: string): boolean {
  return address.trim().toLowerCase() === POSTMASTER;
}

/** The local domain a bare "postmaster" belongs to (see above); null when the directory has no domain. */
export async function postmasterDomain(directory: Directory, hostname: string): Promise<string | null> {
  const labels = hostname.toLowerCase().replace(/\.$/, '').split('.');
  for (let i = 0; i < labels.length; i++) {
    const candidate = labels.slice(i).join('.');
    if (candidate && (await directory.hasDomain(candidate))) return candidate;
  }
  return (await directory.listDomains())[0] ?? null;
}

/**
 * Resolves an envelope recipient like resolveRecipient, the bare "postmaster" included (as postmaster of
 * `hostname`, see postmasterDomain). A server without local domains still gives it to an administrator.
 */
export async function resolveWithPostmaster(directory: Directory, address: string, hostname: string): Promise<Resolution> {
  if (!isBarePostmaster(address)) return resolveRecipient(directory, address);
  const domain = await postmasterDomain(directory, hostname);
  if (domain !== null) return resolveRecipient(directory, `${POSTMASTER}@${domain}`);
  const recipient = `${POSTMASTER}@${hostname.toLowerCase()}`;
  const admin = await postmasterAdmin(directory, null);
  return admin ? { kind: 'local', user: admin, recipient, tag: null, via: 'postmaster' } : { kind: 'unknown', address: recipient };
}

/** Whether an unknown recipient is a postmaster address, which deserves a reply saying what is missing. */
export function isPostmasterAddress(address: string): boolean {
  const at = address.lastIndexOf('@');
  const local = (at === -1 ? address : address.slice(0, at)).toLowerCase();
  return local === POSTMASTER || local.startsWith(`${POSTMASTER}+`);
}
