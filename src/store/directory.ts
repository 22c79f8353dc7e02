/**
 * The directory: who exists. Users (with their credentials), the domains this server receives mail for,
 * and aliases. Later: roles and quotas. Protocol-neutral; failures are StoreError values.
 * Addresses and domains are lowercased by the store.
 */
import type { Alias, User } from './types.js';

/** Whether the user holds the administrator role (web admin, admin API, quota of other users). */
export function isAdmin(user: Pick<User, 'admin'> | null | undefined): boolean {
  return user?.admin === true;
}

export interface Directory {
  /** Creates the user with INBOX, Sent, Drafts, Trash, Junk, Archive (special-use set). Throws EXISTS. */
  createUser(address: string, passwordHash: string): Promise<User>;
  getUser(address: string): Promise<User | null>;
  getUserById(id: number): Promise<User | null>;
  listUsers(): Promise<User[]>;
  /** Throws NOT_FOUND. */
  setPasswordHash(address: string, passwordHash: string): Promise<void>;
  /** Deletes the user and all their mail. Throws NOT_FOUND. */
  deleteUser(address: string): Promise<void>;
  /** Grants or takes the administrator role. Throws NOT_FOUND. */
  setAdmin(address: string, admin: boolean): Promise<void>;

  /** Adding an existing domain is a no-op. */
  addDomain(domain: string): Promise<void>;
  listDomains(): Promise<string[]>;
  hasDomain(domain: string): Promise<boolean>;

  /** `from` may be "@domain" for a catch-all; adding an existing `from` replaces its target. */
  addAlias(from: string, to: string): Promise<void>;
  /** Throws NOT_FOUND. */
  removeAlias(from: string): Promise<void>;
  listAliases(): Promise<Alias[]>;
}
