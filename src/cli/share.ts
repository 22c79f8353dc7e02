/**
 * Sharing mailboxes from the command line (the same store.acl entries IMAP SETACL writes, RFC 4314):
 *
 *   mailroom share OWNER MAILBOX GRANTEE RIGHTS   grant (RIGHTS "+lr" adds, "-w" removes, "" or "none" revokes)
 *   mailroom share list OWNER [MAILBOX]           the entries of OWNER's mailboxes, one per line
 *   mailroom share remove OWNER MAILBOX GRANTEE   revoke
 *   mailroom public create NAME [--rights R]      a public folder (seen by every user under "Public/NAME");
 *                                                  --rights grants "anyone" (default lr)
 *   mailroom public list                          the public folders with their entries
 *
 * OWNER is a user's address, or "public" for the public folders. GRANTEE is a user's address, "anyone" or
 * "authenticated" (both mean every logged-in user); it need not exist yet, as IMAP SETACL allows.
 */
import type { Command } from 'commander';
import { withStore, CliError, type StoreFlags } from './common.js';
import type { Store } from '../store/handle.js';
import type { Mailbox } from '../store/types.js';
import { canonicalRights, normalizeIdentifier, PUBLIC_OWNER, wireRights } from '../store/acl.js';

function out(line: string): void {
  process.stdout.write(line + '\n');
}

/** The owner's user id: an existing user, or the public owner for "public". */
async function ownerId(store: Store, owner: string): Promise<number> {
  const o = owner.trim().toLowerCase();
  if (o === 'public') return store.acl.publicOwner();
  const u = await store.directory.getUser(o);
  if (!u || u.address === PUBLIC_OWNER) throw new CliError(`no such user: ${owner}`);
  return u.id;
}

async function mailboxOf(store: Store, owner: string, name: string): Promise<Mailbox> {
  const mb = await store.mail.getMailbox(await ownerId(store, owner), name);
  if (!mb) throw new CliError(`no such mailbox: ${name} of ${owner}`);
  return mb;
}

function grantee(input: string, ownerAddress: string): string {
  const id = normalizeIdentifier(input);
  if (id === null || id.startsWith('-')) throw new CliError(`invalid grantee: ${input} (a user address, "anyone" or "authenticated")`);
  if (id === ownerAddress.toLowerCase() || id === 'owner') throw new CliError('the owner always has every right');
  if (id !== 'anyone' && id !== 'authenticated' && !/^[^@\s]+@[^@\s]+$/.test(id)) throw new CliError(`invalid grantee: ${input} (a user address, "anyone" or "authenticated")`);
  return id;
}

/** The rights after applying RIGHTS ("+x" adds, "-x" removes, else replaces) to `current`. */
function nextRights(current: string, rights: string): string {
  const text = rights.trim() === 'none' ? '' : rights.trim();
  const mode = text.startsWith('+') ? 'add' : text.startsWith('-') ? 'remove' : 'replace';
  const given = canonicalRights(mode === 'replace' ? text : text.slice(1));
  if (given === null) throw new CliError(`invalid rights: ${rights} (letters of lrswipkxtea, c and d as in RFC 4314)`);
  if (mode === 'replace') return given;
  if (mode === 'add') return canonicalRights(current + given)!;
  return [...current].filter((r) => !given.includes(r)).join('');
}

async function printEntries(store: Store, mailboxes: readonly Mailbox[]): Promise<void> {
  for (const mb of mailboxes) {
    for (const e of await store.acl.list(mb.id)) out(`${mb.name}\t${e.identifier}\t${wireRights(e.rights)}`);
  }
}

export function registerShareCommands(program: Command): void {
  const share = program
    .command('share')
    .description('share a mailbox: OWNER MAILBOX GRANTEE RIGHTS (RFC 4314 rights, e.g. lr, lrswi; "none" revokes)')
    .argument('[owner]')
    .argument('[mailbox]')
    .argument('[grantee]')
    .argument('[rights]')
    .action(async (owner: string | undefined, mailbox: string | undefined, who: string | undefined, rights: string | undefined, _o: unknown, cmd: Command) => {
      if (owner === undefined || mailbox === undefined || who === undefined || rights === undefined) {
        throw new CliError('usage: mailroom share OWNER MAILBOX GRANTEE RIGHTS | share list OWNER [MAILBOX] | share remove OWNER MAILBOX GRANTEE');
      }
      const flags = cmd.optsWithGlobals<StoreFlags>();
      const line = await withStore(flags, async (store) => {
        const mb = await mailboxOf(store, owner, mailbox);
        const id = grantee(who, owner);
        const current = (await store.acl.list(mb.id)).find((e) => e.identifier === id)?.rights ?? '';
        const next = nextRights(current, rights);
        await store.acl.set(mb.id, id, next);
        return next ? `${mb.name} of ${owner}: ${id} has ${wireRights(next)}` : `${mb.name} of ${owner}: ${id} has no rights`;
      });
      out(line);
    });

  share
    .command('list <owner> [mailbox]')
    .description("list the access entries of OWNER's mailboxes (MAILBOX, GRANTEE, RIGHTS per line)")
    .action(async (owner: string, mailbox: string | undefined, _o: unknown, cmd: Command) => {
      await withStore(cmd.optsWithGlobals<StoreFlags>(), async (store) => {
        const boxes = mailbox !== undefined ? [await mailboxOf(store, owner, mailbox)] : await store.mail.listMailboxes(await ownerId(store, owner));
        await printEntries(store, boxes);
      });
    });

  share
    .command('remove <owner> <mailbox> <grantee>')
    .description("take every right on OWNER's MAILBOX from GRANTEE")
    .action(async (owner: string, mailbox: string, who: string, _o: unknown, cmd: Command) => {
      const removed = await withStore(cmd.optsWithGlobals<StoreFlags>(), async (store) => {
        const mb = await mailboxOf(store, owner, mailbox);
        return store.acl.remove(mb.id, grantee(who, owner));
      });
      if (!removed) throw new CliError(`${who} had no rights on ${mailbox} of ${owner}`);
      out(`removed ${who.toLowerCase()} from ${mailbox} of ${owner}`);
    });

  const pub = program.command('public').description('manage public folders (IMAP "Public/NAME")');
  pub
    .command('create <name>')
    .description('create the public folder NAME; --rights is what every user gets (default lr)')
    .option('--rights <rights>', 'rights of "anyone" (RFC 4314 letters)', 'lr')
    .action(async (name: string, _o: unknown, cmd: Command) => {
      const flags = cmd.optsWithGlobals<StoreFlags & { rights: string }>();
      const rights = nextRights('', flags.rights);
      await withStore(flags, async (store) => {
        const id = await store.acl.publicOwner();
        if (await store.mail.getMailbox(id, name)) throw new CliError(`public folder ${name} already exists`);
        const mb = await store.mail.createMailbox(id, name);
        if (rights) await store.acl.set(mb.id, 'anyone', rights);
      });
      out(`created public folder ${name}${rights ? ` (anyone: ${wireRights(rights)})` : ''}`);
    });
  pub
    .command('list')
    .description('list the public folders with their access entries')
    .action(async (_o: unknown, cmd: Command) => {
      await withStore(cmd.optsWithGlobals<StoreFlags>(), async (store) => {
        const boxes = await store.mail.listMailboxes(await store.acl.publicOwner());
        for (const mb of boxes) out(mb.name);
        await printEntries(store, boxes);
      });
    });
}
