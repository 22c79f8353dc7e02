/**
 * The ACL commands (RFC 4314 section 3): SETACL, DELETEACL, GETACL, LISTRIGHTS and MYRIGHTS, answered as
 * Dovecot answers them. SETACL, DELETEACL, GETACL and LISTRIGHTS take the "a" right (NO [NOPERM], or
 * NO [NONEXISTENT] without "l"); MYRIGHTS any right. Rights are written in Dovecot's order with the
 * obsolete "c" and "d" added when implied (RFC 4314 2.1.1); SETACL accepts "c" (k and x) and "d" (e and
 * t), "+rights" adds and "-rights" removes; an unknown letter is BAD. Identifiers are "anyone",
 * "authenticated" or a user address, which need not exist (Dovecot does not check either). The owner
 * always holds every right: the owner's own entry cannot be changed, and public folders have no owner.
 * Negative rights ("-identifier") are not supported (NO).
 */
import { Args } from '../../imap/grammar/args.js';
import { WireWriter } from '../../imap/wire/encode.js';
import { canonicalRights, normalizeIdentifier, PUBLIC_OWNER, RIGHT_ORDER, wireRights, type AclStore } from '../../store/acl.js';
import { bad, no, ok } from '../errors.js';
import { AUTH, defineCommand, type CommandContext } from '../session.js';
import { findMailbox, resolveMailbox, type Target } from '../namespaces.js';

// ---- grammar ----

export interface AclArgs {
  mailbox: string;
  identifier: string;
  rights: string;
}

function parser(fields: ReadonlyArray<keyof AclArgs>): (args: Args) => AclArgs {
  return (args) => {
    const out: AclArgs = { mailbox: '', identifier: '', rights: '' };
    for (const f of fields) out[f] = args.astring(f === 'mailbox' ? 'mailbox name' : f);
    args.end();
    return out;
  };
}

// ---- handler ----

function acl(ctx: CommandContext): AclStore {
  const a = ctx.service.acl;
  if (!a) throw no('ACLs are disabled');
  return a;
}

/** The mailbox when the user holds "a" on it (Dovecot's acl_mailbox_open_as_admin). */
async function adminTarget(ctx: CommandContext, raw: string): Promise<{ t: Target; name: string }> {
  acl(ctx);
  const name = ctx.session.decodeMailbox(raw);
  return { t: await resolveMailbox(ctx, name, 'a'), name };
}

/** The identifier as stored, or an ImapError: BAD when empty, NO for negative rights or the owner's entry. */
function checkedIdentifier(t: Target, raw: string): string {
  if (!raw) throw bad('Invalid arguments.');
  if (raw.startsWith('-')) throw no('Negative rights are not supported');
  const id = normalizeIdentifier(raw);
  if (id === null) throw bad('Invalid identifier');
  const owner = t.ownerAddress;
  if (id === 'owner' || id === owner.toLowerCase()) {
    throw no(owner === PUBLIC_OWNER ? 'Public namespaces have no owner' : "The owner's rights cannot be changed");
  }
  return id;
}

/** "* KIND mailbox" of an untagged ACL response, to be completed by the caller. */
function untagged(ctx: CommandContext, kind: 'ACL' | 'LISTRIGHTS' | 'MYRIGHTS', name: string): WireWriter {
  return new WireWriter(ctx.session.utf8).text(`* ${kind} `).astring(ctx.session.encodeMailbox(name));
}

/** "* MYRIGHTS name rights" (also LIST-MYRIGHTS, RFC 8440). */
export function sendMyRights(ctx: CommandContext, name: string, rights: string): void {
  ctx.session.send(untagged(ctx, 'MYRIGHTS', name).text(' ').astring(wireRights(rights) || '""').text('\r\n').toBuffer());
}

export const setacl = defineCommand({
  states: AUTH,
  seq: 'none',
  parse: parser(['mailbox', 'identifier', 'rights']),
  async run(ctx, args) {
    const mode = args.rights.startsWith('+') ? 'add' : args.rights.startsWith('-') ? 'remove' : 'replace';
    const letters = mode === 'replace' ? args.rights : args.rights.slice(1);
    const given = canonicalRights(letters);
    if (given === null) {
      const badLetter = [...letters].find((ch) => canonicalRights(ch) === null) ?? '';
      throw bad(`Invalid ACL right: ${badLetter}`);
    }
    if (!args.identifier) throw bad('Invalid arguments.');
    const { t } = await adminTarget(ctx, args.mailbox);
    const id = checkedIdentifier(t, args.identifier);
    const store = acl(ctx);
    const current = (await store.list(t.mailbox.id)).find((e) => e.identifier === id)?.rights ?? '';
    const next = mode === 'replace' ? given : mode === 'add' ? current + given : [...current].filter((r) => !given.includes(r)).join('');
    await store.set(t.mailbox.id, id, next);
    return ok('Setacl complete.');
  },
});

export const deleteacl = defineCommand({
  states: AUTH,
  seq: 'none',
  parse: parser(['mailbox', 'identifier']),
  async run(ctx, args) {
    if (!args.identifier) throw bad('Invalid arguments.');
    const { t } = await adminTarget(ctx, args.mailbox);
    const id = checkedIdentifier(t, args.identifier);
    await acl(ctx).remove(t.mailbox.id, id);
    return ok('Deleteacl complete.');
  },
});

export const getacl = defineCommand({
  states: AUTH,
  seq: 'none',
  parse: parser(['mailbox']),
  async run(ctx, args) {
    const { t, name } = await adminTarget(ctx, args.mailbox);
    const entries = await acl(ctx).list(t.mailbox.id);
    const w = untagged(ctx, 'ACL', name);
    // The owner first, with every right (Dovecot writes the owner's default rights under the user name).
    const owner = t.ownerAddress;
    if (owner !== PUBLIC_OWNER) w.text(' ').astring(owner).text(' ').astring(wireRights(RIGHT_ORDER));
    for (const e of entries) w.text(' ').astring(e.identifier).text(' ').astring(wireRights(e.rights));
    w.text('\r\n');
    ctx.session.send(w.toBuffer());
    return ok('Getacl completed.');
  },
});

export const listrights = defineCommand({
  states: AUTH,
  seq: 'none',
  parse: parser(['mailbox', 'identifier']),
  async run(ctx, args) {
    const { name } = await adminTarget(ctx, args.mailbox);
    // Nothing is granted always; every right can be granted on its own (Dovecot's answer).
    ctx.session.send(untagged(ctx, 'LISTRIGHTS', name).text(' ').astring(args.identifier).text(' "" l r w s t p i e k x a c d\r\n').toBuffer());
    return ok('Listrights completed.');
  },
});

export const myrights = defineCommand({
  states: AUTH,
  seq: 'none',
  parse: parser(['mailbox']),
  async run(ctx, args) {
    const name = ctx.session.decodeMailbox(args.mailbox);
    const t = await findMailbox(ctx, name);
    // "p" alone does not reveal that a mailbox exists (Dovecot).
    if (!t || !t.rights || t.rights === 'p') throw no('Mailbox does not exist', 'NONEXISTENT');
    sendMyRights(ctx, name, t.rights);
    return ok('Myrights completed.');
  },
});
