/**
 * CREATE (RFC 9051 6.3.4, with RFC 6154 CREATE-SPECIAL-USE): creates the mailbox and its missing superiors,
 * answering OK [MAILBOXID] (RFC 8474); NO [ALREADYEXISTS], [CANNOT], [USEATTR] or [LIMIT] (more than
 * MAX_MAILBOXES_PER_USER mailboxes) otherwise.
 */
import { isStoreError, type SpecialUse } from '../../store/types.js';
import type { MailStore } from '../../store/mail.js';
import { SPECIAL_USE_VALUES } from '../../store/message-prep.js';
import { Args, ParseError, parseFlag } from '../../imap/grammar/args.js';
import { no, ok } from '../errors.js';
import { AUTH, currentUser, defineCommand } from '../session.js';
import { MAX_MAILBOXES_PER_USER } from '../list-pattern.js';
import { normalizeMailboxName } from '../../store/names.js';
import { creationPlace } from '../namespaces.js';

export interface CreateArgs {
  mailbox: string;
  /** RFC 6154 CREATE-SPECIAL-USE: USE (\Sent ...). */
  specialUse: string[];
}

export function parseCreate(args: Args): CreateArgs {
  const mailbox = args.astring('mailbox name');
  const specialUse: string[] = [];
  if (!args.done) {
    const params = new Args(args.list('create parameters'));
    while (!params.done) {
      const name = params.atom('create parameter').toUpperCase();
      if (name !== 'USE') throw new ParseError(`Unknown CREATE parameter ${name}`);
      for (const t of params.list('special-use list')) specialUse.push(parseFlag(t));
    }
  }
  args.end();
  return { mailbox, specialUse };
}

/**
 * Throws NO [LIMIT] (RFC 5530) when creating the missing superiors of `name`, and `name` itself when
 * `withSelf`, would give the user more than MAX_MAILBOXES_PER_USER mailboxes. Nothing missing, nothing to
 * refuse: an existing name still gets its own answer (ALREADYEXISTS).
 */
export async function checkMailboxLimit(store: MailStore, userId: number, name: string, withSelf: boolean): Promise<void> {
  const existing = await store.listMailboxes(userId);
  const have = new Set(existing.map((m) => m.name));
  const levels = name.split('/');
  let missing = 0;
  for (let i = 1; i <= levels.length; i++) {
    const n = levels.slice(0, i).join('/');
    if ((i < levels.length || withSelf) && n !== 'INBOX' && !have.has(n)) missing++;
  }
  if (missing > 0 && existing.length + missing > MAX_MAILBOXES_PER_USER) throw no('Too many mailboxes', 'LIMIT');
}

/**
 * Creates the missing superior names of `name` (RFC 9051 6.3.4: the server SHOULD create them). A name the
 * store would refuse (too long, too deep, an empty level) throws StoreError INVALID before anything is created,
 * so a refused CREATE or RENAME leaves no superiors behind.
 */
export async function createParents(store: MailStore, userId: number, name: string, origin?: string): Promise<void> {
  normalizeMailboxName(name);
  const levels = name.split('/');
  for (let i = 1; i < levels.length; i++) {
    const parent = levels.slice(0, i).join('/');
    if (!parent || parent === 'INBOX') continue;
    try {
      if (!(await store.getMailbox(userId, parent))) await store.createMailbox(userId, parent, { origin });
    } catch (e) {
      if (!isStoreError(e, 'EXISTS')) throw e;
    }
  }
}

export const create = defineCommand({
  states: AUTH,
  seq: 'none',
  parse: parseCreate,
  async run(ctx, args) {
    const user = currentUser(ctx);
    let name = ctx.session.decodeMailbox(args.mailbox);
    if (name.endsWith('/')) name = name.replace(/\/+$/, '');
    if (!name) throw no('Invalid mailbox name', 'CANNOT');
    if (name === 'INBOX') throw no('Mailbox already exists', 'ALREADYEXISTS');
    let specialUse: SpecialUse | null = null;
    if (args.specialUse.length) {
      if (args.specialUse.length > 1) throw no('Only one special-use attribute per mailbox', 'USEATTR');
      const want = args.specialUse[0]!.toLowerCase();
      const found = SPECIAL_USE_VALUES.find((s) => s.toLowerCase() === want);
      if (!found) throw no('Unsupported special-use attribute', 'USEATTR');
      specialUse = found;
    }
    const store = ctx.service.store;
    // Another owner's namespace: created in the owner's store, under a parent granting "k" (namespaces.ts).
    const place = await creationPlace(ctx, name);
    if (place.own) await checkMailboxLimit(store, user.id, name, true);
    // The origin keeps this session's NOTIFY from being told of its own changes (notify.ts).
    const origin = ctx.session.id;
    if (place.own) await createParents(store, user.id, name, origin);
    else if (await store.getMailbox(place.ownerId, place.name)) throw no('Mailbox already exists', 'ALREADYEXISTS');
    const mb = await store.createMailbox(place.ownerId, place.name, { specialUse, origin });
    // RFC 8474 section 4.1: the new mailbox's MAILBOXID in the tagged OK.
    return ok('Create completed', `MAILBOXID (${mb.mailboxObjectId})`);
  },
});
