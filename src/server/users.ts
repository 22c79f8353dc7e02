/**
 * Creating a user with a password (the CLI, the web admin, the first user of `serve`), apart from
 * server/mailroom.ts so that its callers do not load the protocol servers.
 */
import type { Directory } from '../store/directory.js';
import type { User } from '../store/types.js';
import { hashPassword } from '../auth/hash.js';
import { addressKey } from '../lib/ascii.js';

const ADDRESS_RE = /^[^\s@"()<>,;:\\[\]]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*$/;

/** True for a plain address local@domain we accept as a user name. */
export function isValidAddress(address: string): boolean {
  return address.length <= 254 && ADDRESS_RE.test(address);
}

/** Validates, hashes and creates the user; adds the domain when it does not exist yet. */
export async function createUserWithDomain(directory: Directory, address: string, password: string): Promise<User> {
  const a = addressKey(address);
  if (!isValidAddress(a)) throw new Error(`invalid address: ${address}`);
  if (password.length === 0) throw new Error('empty password');
  const domain = a.slice(a.lastIndexOf('@') + 1);
  if (!(await directory.hasDomain(domain))) await directory.addDomain(domain);
  return directory.createUser(a, await hashPassword(password));
}
