/**
 * LIST (RFC 9051 6.3.9 with LIST-EXTENDED RFC 5258, LIST-STATUS RFC 5819, SPECIAL-USE RFC 6154,
 * CHILDREN RFC 3348) and LSUB (RFC 3501 6.3.9). Patterns match with * and %; names are listed INBOX
 * first, then in code-point order, with \NonExistent/\Noselect placeholders for missing superiors.
 */
import type { Mailbox } from '../../store/types.js';
import { WireWriter } from '../../imap/wire/encode.js';
import { Args, ParseError, astringOf, listMailboxOf } from '../../imap/grammar/args.js';
import type { Token } from '../../imap/wire/tokenizer.js';
import { parseStatusItem } from './status.js';
import { ImapError, ok } from '../errors.js';
import { AUTH, currentUser, defineCommand, type CommandContext } from '../session.js';
import { sendStatus } from './status.js';
import { listRootLine, writeList } from '../responses.js';
import { MAX_LIST_PATTERNS, patternMatcher } from '../list-pattern.js';
import { isNamespaceRoot, visibleMailboxes } from '../namespaces.js';
import { sendMyRights } from './acl.js';

// ---- grammar ----

export type ListSelection = 'SUBSCRIBED' | 'REMOTE' | 'RECURSIVEMATCH' | 'SPECIAL-USE';
export type ListReturn = 'SUBSCRIBED' | 'CHILDREN' | 'SPECIAL-USE' | 'STATUS' | 'MYRIGHTS';

export interface ListArgs {
  selection: ListSelection[];
  reference: string;
  patterns: string[];
  returns: ListReturn[];
  statusItems: string[];
  /** True when any LIST-EXTENDED syntax was used (RFC 5258: affects \NonExistent and CHILDINFO). */
  extended: boolean;
}

function listMailbox(t: Token): string {
  if (t.t === 'list') throw new ParseError('Invalid mailbox pattern');
  return listMailboxOf(t, 'mailbox pattern');
}

export function parseList(args: Args): ListArgs {
  const selection: ListSelection[] = [];
  let extended = false;
  const first = args.peek();
  if (first?.t === 'list') {
    extended = true;
    args.next('selection options');
    for (const t of first.v) {
      if (t.t !== 'atom') throw new ParseError('Invalid LIST selection option');
      const o = t.v.toUpperCase();
      if (o !== 'SUBSCRIBED' && o !== 'REMOTE' && o !== 'RECURSIVEMATCH' && o !== 'SPECIAL-USE') throw new ParseError(`Unknown LIST selection option ${o}`);
      selection.push(o);
    }
    if (selection.includes('RECURSIVEMATCH') && !selection.some((s) => s === 'SUBSCRIBED' || s === 'SPECIAL-USE')) {
      throw new ParseError('RECURSIVEMATCH needs another selection option');
    }
  }
  const reference = astringOf(args.next('reference name'), 'reference name');
  const patterns: string[] = [];
  const p = args.next('mailbox pattern');
  if (p.t === 'list') {
    extended = true;
    if (!p.v.length) throw new ParseError('Empty pattern list');
    if (p.v.length > MAX_LIST_PATTERNS) throw new ParseError(`Too many mailbox patterns (at most ${MAX_LIST_PATTERNS})`);
    for (const t of p.v) patterns.push(listMailbox(t));
  } else patterns.push(listMailbox(p));
  const returns: ListReturn[] = [];
  const statusItems: string[] = [];
  if (!args.done) {
    if (args.atom('RETURN').toUpperCase() !== 'RETURN') throw new ParseError('Expected RETURN');
    extended = true;
    const r = new Args(args.list('return options'));
    while (!r.done) {
      const o = r.atom('return option').toUpperCase();
      if (o === 'STATUS') {
        const items = r.list('status items');
        if (!items.length) throw new ParseError('Empty status item list'); // RFC 5819: one or more
        for (const t of items) {
          if (t.t !== 'atom') throw new ParseError('Invalid status item');
          statusItems.push(parseStatusItem(t.v));
        }
      } else if (o !== 'SUBSCRIBED' && o !== 'CHILDREN' && o !== 'SPECIAL-USE' && o !== 'MYRIGHTS') throw new ParseError(`Unknown LIST return option ${o}`);
      if (!returns.includes(o)) returns.push(o);
    }
  }
  args.end();
  return { selection, reference, patterns, returns, statusItems, extended };
}

export interface LsubArgs {
  reference: string;
  pattern: string;
}

export function parseLsub(args: Args): LsubArgs {
  const reference = astringOf(args.next('reference name'), 'reference name');
  const pattern = listMailbox(args.next('mailbox pattern'));
  args.end();
  return { reference, pattern };
}

// ---- handler ----

// Pattern matching and the LIST bounds live in ../list-pattern.ts (compiled once, linear in the name).
export { patternMatcher };

interface Entry {
  name: string;
  mailbox: Mailbox | null;
  subscribed: boolean;
  hasChildren: boolean;
  childSubscribed: boolean;
}

function buildEntries(mailboxes: Mailbox[], subscriptions: string[]): Map<string, Entry> {
  const entries = new Map<string, Entry>();
  const subs = new Set(subscriptions);
  const get = (name: string): Entry => {
    let e = entries.get(name);
    if (!e) {
      e = { name, mailbox: null, subscribed: subs.has(name), hasChildren: false, childSubscribed: false };
      entries.set(name, e);
    }
    return e;
  };
  const addWithParents = (name: string, mb: Mailbox | null, sub: boolean): void => {
    const e = get(name);
    if (mb) e.mailbox = mb;
    // Superiors from the nearest up. One already marked got marked by a walk that marked all of its own
    // superiors, so the walk stops there: a tree of N names of length L costs O(N x L), not O(N x L x depth).
    for (let end = name.lastIndexOf('/'); end > 0; end = name.lastIndexOf('/', end - 1)) {
      const parent = get(name.slice(0, end));
      if ((!mb || parent.hasChildren) && (!sub || parent.childSubscribed)) break;
      if (mb) parent.hasChildren = true;
      if (sub) parent.childSubscribed = true;
    }
  };
  for (const mb of mailboxes) addWithParents(mb.name, mb, subs.has(mb.name));
  for (const s of subscriptions) addWithParents(s, null, true);
  return entries;
}

/** A reference or pattern decoded like a mailbox name; null when it cannot name any mailbox (bad modified UTF-7). */
function decodePattern(ctx: CommandContext, raw: string): string | null {
  try {
    return ctx.session.decodeMailbox(raw);
  } catch (e) {
    if (e instanceof ImapError) return null;
    throw e;
  }
}

function writeListLine(ctx: CommandContext, cmd: 'LIST' | 'LSUB', name: string, attrs: string[], extra?: string): void {
  const w = new WireWriter(ctx.session.utf8);
  writeList(w, cmd, attrs, ctx.session.encodeMailbox(name), extra);
  ctx.session.send(w.toBuffer());
}

export const list = defineCommand({
  states: AUTH,
  seq: 'none',
  parse: parseList,
  async run(ctx, args) {
    const user = currentUser(ctx);
    const s = ctx.session;
    const ref = decodePattern(ctx, args.reference);
    const patterns = args.patterns.map((p) => decodePattern(ctx, p)).filter((p): p is string => p !== null);
    // A reference or pattern that is no valid name matches nothing (Dovecot answers OK with no entries).
    if (ref === null || !patterns.length) return ok('LIST completed');
    if (patterns.length === 1 && patterns[0] === '' && !args.extended) {
      // RFC 9051 6.3.9: the hierarchy delimiter and root name.
      s.send(Buffer.from(listRootLine('LIST')));
      return ok('LIST completed');
    }
    const store = ctx.service.store;
    // Personal mailboxes and those of other owners the user may look up (namespaces.ts), with the rights.
    const [{ mailboxes, rights }, subscriptions] = await Promise.all([visibleMailboxes(ctx), store.listSubscriptions(user.id)]);
    const entries = buildEntries(mailboxes, subscriptions);
    const wantRights = args.returns.includes('MYRIGHTS');
    const matchers = patterns.filter((p) => p !== '').map((p) => patternMatcher(ref + p));
    const selSubscribed = args.selection.includes('SUBSCRIBED');
    const selSpecial = args.selection.includes('SPECIAL-USE');
    const recursive = args.selection.includes('RECURSIVEMATCH');
    const retSubscribed = selSubscribed || args.returns.includes('SUBSCRIBED');
    const retSpecial = true; // special-use attributes are always reported (RFC 6154 allows it; Dovecot does too)
    const wantStatus = args.returns.includes('STATUS');
    const extended = args.extended || s.rev2;
    const names = [...entries.keys()].sort((a, b) => (a === 'INBOX' ? -1 : b === 'INBOX' ? 1 : a < b ? -1 : a > b ? 1 : 0));
    for (const name of names) {
      const e = entries.get(name)!;
      if (!matchers.some((m) => m(name))) continue;
      let childInfo = false;
      if (selSubscribed) {
        if (!e.subscribed) {
          // RFC 5258 3.5 (RECURSIVEMATCH): a parent that is not subscribed itself is listed, with CHILDINFO,
          // only for a subscribed descendant the patterns do not match (one they match is listed itself).
          if (recursive && e.childSubscribed && subscriptions.some((d) => d.startsWith(name + '/') && !matchers.some((m) => m(d)))) childInfo = true;
          else continue;
        }
      } else if (!e.mailbox) {
        // A name with no mailbox: listed only as a placeholder for its children (\Noselect / \NonExistent).
        if (!e.hasChildren) continue;
      }
      if (selSpecial && !e.mailbox?.specialUse) {
        if (!(recursive && childInfo)) continue;
      }
      const attrs: string[] = [];
      if (!e.mailbox) attrs.push(extended && !isNamespaceRoot(name) ? '\\NonExistent' : '\\Noselect');
      attrs.push(e.hasChildren ? '\\HasChildren' : '\\HasNoChildren');
      if (retSubscribed && e.subscribed) attrs.push('\\Subscribed');
      if (retSpecial && e.mailbox?.specialUse) attrs.push(e.mailbox.specialUse);
      writeListLine(ctx, 'LIST', name, attrs, childInfo ? '("CHILDINFO" ("SUBSCRIBED"))' : undefined);
      // RFC 8440: LIST-MYRIGHTS sends the MYRIGHTS response after the mailbox's LIST response.
      if (wantRights && e.mailbox) sendMyRights(ctx, name, rights.get(name) ?? '');
      if (wantStatus && e.mailbox) {
        try {
          await sendStatus(ctx, e.mailbox, args.statusItems);
        } catch {
          // A mailbox deleted meanwhile has no STATUS (RFC 5819 section 2).
        }
      }
    }
    return ok('LIST completed');
  },
});

export const lsub = defineCommand({
  states: AUTH,
  seq: 'none',
  parse: parseLsub,
  async run(ctx, args) {
    const user = currentUser(ctx);
    const s = ctx.session;
    const ref = decodePattern(ctx, args.reference);
    const pattern = decodePattern(ctx, args.pattern);
    if (ref === null || pattern === null) return ok('LSUB completed');
    if (pattern === '') {
      s.send(Buffer.from(listRootLine('LSUB')));
      return ok('LSUB completed');
    }
    const store = ctx.service.store;
    const [{ mailboxes }, subscriptions] = await Promise.all([visibleMailboxes(ctx), store.listSubscriptions(user.id)]);
    const existing = new Set(mailboxes.map((m) => m.name));
    const match = patternMatcher(ref + pattern);
    const sent = new Set<string>();
    for (const name of [...subscriptions].sort()) {
      if (match(name)) {
        if (!sent.has(name)) writeListLine(ctx, 'LSUB', name, existing.has(name) ? [] : ['\\Noselect']);
        sent.add(name);
        continue;
      }
      // "%" hides deeper levels: report the matching superior as \Noselect (RFC 3501 6.3.9).
      const levels = name.split('/');
      for (let i = levels.length - 1; i >= 1; i--) {
        const parent = levels.slice(0, i).join('/');
        if (match(parent) && !sent.has(parent)) {
          writeListLine(ctx, 'LSUB', parent, ['\\Noselect']);
          sent.add(parent);
          break;
        }
      }
    }
    return ok('LSUB completed');
  },
});
