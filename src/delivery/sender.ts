/**
 * Sender ownership on submission (RFC 6409 section 6.1 lets the MSA refuse a sender the user may not use):
 * the envelope MAIL FROM and the header From (every address of it) and Sender (when present) must be
 * addresses of the authenticated user, as addressOwner() in resolve.ts decides: the user's own address, a
 * plus-variant of it that is not itself a user, an alias pointing to the user that is not itself a user.
 * notOwnedInHeader() gives the refusal text for the first header address that fails, or null.
 */
import type { Directory } from '../store/directory.js';
import { parseAddressList } from '../mime/address.js';
import { headerValue } from './message-check.js';
import { addressOwner, AliasTable } from './resolve.js';

/** The user a submission session authenticated as. */
export interface SenderUser {
  id: number;
  address: string;
}

/** True when `address` is one of `user`'s sender addresses. */
export async function ownsAddress(directory: Directory, user: SenderUser, address: string, aliases?: AliasTable): Promise<boolean> {
  return (await addressOwner(directory, address, aliases))?.id === user.id;
}

/** The MAIL FROM refusal text (553 5.7.1). */
export function envelopeNotOwned(address: string, user: SenderUser): string {
  return `Sender address <${address}> not owned by user ${user.address}`;
}

/**
 * Checks the header From and Sender fields of `raw` against `user`; returns the refusal text (for 550 5.7.1)
 * naming the field and the address, or null when every address is the user's. A message without From passes
 * (there is nothing to forge); a From or Sender field without any address is refused.
 */
export async function notOwnedInHeader(directory: Directory, user: SenderUser, raw: Buffer): Promise<string | null> {
  let aliases: AliasTable | undefined;
  for (const field of ['From', 'Sender'] as const) {
    const value = headerValue(raw, field);
    if (value === null) continue;
    const addresses = (parseAddressList(value) ?? []).filter((a) => a.mailbox !== null && a.host !== null).map((a) => `${a.mailbox}@${a.host}`);
    if (!addresses.length) return `${field}: header has no address`;
    aliases ??= await AliasTable.load(directory);
    for (const address of addresses) {
      if (!(await ownsAddress(directory, user, address, aliases))) return `${field}: header address <${address}> not owned by user ${user.address}`;
    }
  }
  return null;
}
