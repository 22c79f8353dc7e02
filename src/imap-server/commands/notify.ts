/**
 * NOTIFY (RFC 5465): NOTIFY NONE, NOTIFY SET [STATUS] with event groups.
 *
 * Grammar (RFC 5465 section 8):
 *   NOTIFY SP ("NONE" / "SET" [SP "STATUS"] 1*(SP "(" filter SP ("NONE" / "(" event *(SP event) ")") ")"))
 *   filter = "selected" / "selected-delayed" / "inboxes" / "personal" / "subscribed" /
 *            ("subtree" / "mailboxes") SP (mailbox / "(" mailbox *(SP mailbox) ")")
 *   event  = "MessageNew" [SP "(" fetch-att *(SP fetch-att) ")"] / "MessageExpunge" / "FlagChange" /
 *            "MailboxName" / "SubscriptionChange" / other atoms
 * Malformed commands are BAD; events this server does not offer (AnnotationChange, MailboxMetadataChange,
 * ServerMetadataChange, unknown ones) are NO [BADEVENT (offered events)], and the previous setting stays.
 * As Dovecot does, MessageNew, MessageExpunge and FlagChange are accepted alone, and MessageNew's
 * fetch attributes are accepted but not sent (the selected mailbox reports new messages with EXISTS).
 *
 * What the client gets for mailboxes other than the selected one (the first group whose filter matches a
 * mailbox applies; mailboxes are matched when NOTIFY SET runs): with STATUS, one "* STATUS" per matched
 * mailbox right away; afterwards a "* STATUS" whenever a matched mailbox changes (MESSAGES for
 * MessageNew/MessageExpunge, UIDNEXT and UIDVALIDITY for MessageNew, UIDVALIDITY and HIGHESTMODSEQ for
 * FlagChange), sent at the end of the next command or at once during IDLE (flushNotify).
 * MailboxName and SubscriptionChange: "* LIST" responses when another session of this service creates,
 * deletes or renames a mailbox of the user, or changes a subscription (announceMailboxEvent); such changes
 * also add, drop or rename watched mailboxes.
 * Every message event comes from the store's change bus (MailStore.subscribe), so changes made by any
 * process or protocol are reported; so are deletes (and renames, where the store wakes the mailbox for
 * them) of watched mailboxes made elsewhere: with MailboxName every mailbox of the user is watched, and a
 * wake-up whose mailbox is gone or renamed gives the "* LIST" (checkWatched). Creates and subscription
 * changes made outside this service are not reported: the store bus carries no event for them.
 * The selected mailbox keeps reporting EXISTS, EXPUNGE and FETCH FLAGS as without NOTIFY.
 */
import type { Token } from '../../imap/wire/tokenizer.js';
import { Args, ParseError, astringOf } from '../../imap/grammar/args.js';
import { WireWriter } from '../../imap/wire/encode.js';
import type { Mailbox } from '../../store/types.js';
import type { MailStore } from '../../store/mail.js';
import { no, ok, type Completion } from '../errors.js';
import { writeStatus } from '../responses.js';
import { AUTH, currentUser, defineCommand, type CommandContext, type ServiceContext, type Session } from '../session.js';
import { locate, visibleMailboxes } from '../namespaces.js';

/** A change to the user's mailbox list or subscriptions, made by a command of this service. */
export interface MailboxEvent {
  kind: 'create' | 'delete' | 'rename' | 'subscribe' | 'unsubscribe';
  name: string;
  /** The name before a rename. */
  oldName?: string;
}

/** Events this server offers (the BADEVENT list). */
export const NOTIFY_EVENTS = ['MessageNew', 'MessageExpunge', 'FlagChange', 'MailboxName', 'SubscriptionChange'] as const;
const KNOWN_FILTERS = ['selected', 'selected-delayed', 'inboxes', 'personal', 'subscribed', 'subtree', 'mailboxes'] as const;
type FilterKind = (typeof KNOWN_FILTERS)[number];

export interface NotifyGroup {
  filter: FilterKind;
  /** Mailbox names as sent (subtree / mailboxes). */
  names: string[];
  events: Set<string>;
}

export type NotifyArgs = { kind: 'none' } | { kind: 'set'; status: boolean; groups: NotifyGroup[]; unsupported: string[] };

function eventName(t: Token): string {
  if (t.t !== 'atom') throw new ParseError('Expected an event name');
  const known = NOTIFY_EVENTS.find((e) => e.toLowerCase() === t.v.toLowerCase());
  return known ?? t.v;
}

function parseGroup(t: Token, unsupported: string[]): NotifyGroup {
  if (t.t !== 'list') throw new ParseError('Expected an event group');
  const g = new Args(t.v);
  const f = g.atom('filter').toLowerCase();
  const filter = KNOWN_FILTERS.find((k) => k === f);
  if (!filter) throw new ParseError(`Unknown NOTIFY filter ${f.slice(0, 40)}`);
  const names: string[] = [];
  if (filter === 'subtree' || filter === 'mailboxes') {
    const m = g.next('mailbox');
    if (m.t === 'list') {
      if (!m.v.length) throw new ParseError('Empty mailbox list');
      for (const x of m.v) names.push(astringOf(x, 'mailbox name'));
    } else names.push(astringOf(m, 'mailbox name'));
  }
  const events = new Set<string>();
  const ev = g.next('events');
  if (ev.t === 'atom' && ev.v.toUpperCase() === 'NONE') {
    // No events for these mailboxes.
  } else if (ev.t === 'list' && ev.v.length) {
    const list = ev.v;
    for (let i = 0; i < list.length; i++) {
      const name = eventName(list[i]!);
      if (name === 'MessageNew' && list[i + 1]?.t === 'list') i++; // fetch attributes: accepted, not sent
      if (!(NOTIFY_EVENTS as readonly string[]).includes(name)) unsupported.push(name);
      events.add(name);
    }
  } else throw new ParseError('Expected an event list or NONE');
  g.end();
  return { filter, names, events };
}

export function parseNotify(args: Args): NotifyArgs {
  const what = args.atom('NONE or SET').toUpperCase();
  if (what === 'NONE') {
    args.end();
    return { kind: 'none' };
  }
  if (what !== 'SET') throw new ParseError('Expected NONE or SET');
  let status = false;
  if (args.peekAtom() === 'STATUS') {
    args.next('STATUS');
    status = true;
  }
  const groups: NotifyGroup[] = [];
  const unsupported: string[] = [];
  while (!args.done) groups.push(parseGroup(args.next('event group'), unsupported));
  if (!groups.length) throw new ParseError('Missing event groups');
  return { kind: 'set', status, groups, unsupported };
}

// ---- per-session state ----

interface Watched {
  mb: Mailbox;
  wireName: string;
  items: string[];
  /** The last STATUS item text reported (or the baseline at NOTIFY SET). */
  last: string;
  dirty: boolean;
  /** A check for a delete or rename is scheduled (checkWatched). */
  checking: boolean;
  unsubscribe: () => void;
}

interface NotifyState {
  svc: ServiceContext;
  userId: number;
  groups: NotifyGroup[];
  watched: Map<number, Watched>;
  /** Called when something is pending (IDLE hooks in here). */
  onWake: (() => void) | null;
}

const STATES = new WeakMap<Session, NotifyState>();

/** Sessions with a NOTIFY setting, per service instance and user (for announceMailboxEvent). */
const LISTENERS = new WeakMap<ServiceContext, Map<number, Set<Session>>>();

function stopNotify(session: Session): void {
  const st = STATES.get(session);
  if (!st) return;
  for (const w of st.watched.values()) w.unsubscribe();
  STATES.delete(session);
  const users = LISTENERS.get(st.svc);
  const set = users?.get(st.userId);
  set?.delete(session);
  if (set && set.size === 0) users?.delete(st.userId);
}

/** Ends the session's NOTIFY setting (NOTIFY NONE, logout, connection closed). */
export function endNotify(session: Session): void {
  stopNotify(session);
}

/** Sets the hook called when notifications are pending (IDLE); null to clear. */
export function setNotifyWake(session: Session, fn: (() => void) | null): void {
  const st = STATES.get(session);
  if (st) st.onWake = fn;
}

function itemsFor(events: ReadonlySet<string>): string[] {
  const items: string[] = [];
  if (events.has('MessageNew') || events.has('MessageExpunge')) items.push('MESSAGES');
  if (events.has('MessageNew')) items.push('UIDNEXT', 'UIDVALIDITY');
  if (events.has('FlagChange')) {
    if (!items.includes('UIDVALIDITY')) items.push('UIDVALIDITY');
    items.push('HIGHESTMODSEQ');
  }
  return items;
}

async function statusText(store: MailStore, mb: Mailbox, items: readonly string[]): Promise<string[]> {
  const st = await store.status(mb.id);
  return items.map((it) => {
    switch (it) {
      case 'MESSAGES':
        return `MESSAGES ${st.messages}`;
      case 'UIDNEXT':
        return `UIDNEXT ${st.uidNext}`;
      case 'UIDVALIDITY':
        return `UIDVALIDITY ${st.uidValidity}`;
      default:
        return `HIGHESTMODSEQ ${st.highestModseq}`;
    }
  });
}

/** Whether `name` is among the group's mailboxes; the group's names are decoded (see runNotify). */
function matches(g: NotifyGroup, name: string, subscribed: ReadonlySet<string>): boolean {
  switch (g.filter) {
    case 'personal':
      // RFC 5465 6: the personal namespace only; other owners' mailbox are named with mailboxes/subtree.
      return locate(name).ns === 'personal';
    case 'inboxes':
      return name === 'INBOX';
    case 'subscribed':
      return subscribed.has(name);
    case 'mailboxes':
      return g.names.includes(name);
    case 'subtree':
      return g.names.some((d) => name === d || name.startsWith(d + '/'));
    default:
      return false; // selected / selected-delayed: the view reports the selected mailbox
  }
}

/** Sends the pending STATUS notifications (changed watched mailboxes other than the selected one). */
export async function flushNotify(session: Session, store: MailStore): Promise<void> {
  const st = STATES.get(session);
  if (!st) return;
  const selected = session.state.kind === 'selected' ? session.state.view.mailbox.id : null;
  for (const w of st.watched.values()) {
    if (!w.dirty || w.mb.id === selected) continue;
    w.dirty = false;
    let parts: string[];
    try {
      parts = await statusText(store, w.mb, w.items);
    } catch {
      continue; // deleted meanwhile
    }
    const text = parts.join(' ');
    if (text === w.last) continue;
    w.last = text;
    const out = new WireWriter(session.utf8);
    writeStatus(out, w.wireName, parts);
    session.send(out.toBuffer());
  }
}

/**
 * Tells the user's other NOTIFY sessions of this service that `name` was created, deleted ('\NonExistent'), renamed
 * (from `oldName`) or (un)subscribed, as "* LIST" responses (RFC 5465 5.4, 5.5).
 */
export function announceMailboxEvent(ctx: CommandContext, ev: MailboxEvent): void {
  const from = ctx.session;
  const set = LISTENERS.get(ctx.service)?.get(currentUser(ctx).id);
  if (!set) return;
  for (const s of set) {
    const st = STATES.get(s);
    if (st) followMailboxEvent(s, st, ctx.service.store, ev);
    if (s !== from && st) sendListEvent(s, st, ev);
  }
}

/** The "* LIST" of a mailbox event, when one of the session's groups asks for its kind of event. */
function sendListEvent(s: Session, st: NotifyState, ev: MailboxEvent): void {
  const event = ev.kind === 'subscribe' || ev.kind === 'unsubscribe' ? 'SubscriptionChange' : 'MailboxName';
  if (!st.groups.some((g) => g.events.has(event) && (g.filter === 'personal' || matches(g, ev.name, new Set())))) return;
  const attrs = ev.kind === 'delete' ? '(\\NonExistent)' : ev.kind === 'subscribe' ? '(\\Subscribed)' : '()';
  const w = new WireWriter(s.utf8);
  w.text(`* LIST ${attrs} "/" `).string(s.encodeMailbox(ev.name));
  if (ev.kind === 'rename' && ev.oldName !== undefined) w.text(' ("OLDNAME" (').string(s.encodeMailbox(ev.oldName)).text('))');
  w.text('\r\n');
  s.send(w.toBuffer());
}

/**
 * A watched mailbox woke up (a store bus event, from this process or another): when it was deleted or
 * renamed and the session has not heard of it through announceMailboxEvent (a change made elsewhere: another
 * process, JMAP), the watch follows and the session gets the "* LIST". Run a turn later, so a change made
 * through this service has been announced first and is not reported twice.
 */
function checkWatched(s: Session, st: NotifyState, store: MailStore, w: Watched): void {
  if (w.checking) return;
  w.checking = true;
  setImmediate(() => {
    void (async () => {
      w.checking = false;
      if (STATES.get(s) !== st || st.watched.get(w.mb.id) !== w) return;
      const now = await store.getMailboxById(w.mb.id);
      if (STATES.get(s) !== st || st.watched.get(w.mb.id) !== w) return;
      if (now === null || now.userId !== w.mb.userId) {
        w.unsubscribe();
        st.watched.delete(w.mb.id);
        sendListEvent(s, st, { kind: 'delete', name: w.mb.name });
      } else if (now.name !== w.mb.name) {
        const oldName = w.mb.name;
        w.mb = { ...w.mb, name: now.name };
        w.wireName = s.encodeMailbox(now.name);
        sendListEvent(s, st, { kind: 'rename', name: now.name, oldName });
      } else return;
      st.onWake?.();
    })().catch(() => undefined);
  });
}

/** Starts watching a mailbox's changes for the session; `parts` is the STATUS baseline. */
function watch(s: Session, st: NotifyState, store: MailStore, mb: Mailbox, items: string[], parts: readonly string[]): Watched {
  const w: Watched = { mb, wireName: s.encodeMailbox(mb.name), items, last: parts.join(' '), dirty: false, checking: false, unsubscribe: () => undefined };
  w.unsubscribe = store.subscribe(mb.id, () => {
    if (s.state.kind === 'logout') return stopNotify(s);
    if (st.groups.some((g) => g.events.has('MailboxName'))) checkWatched(s, st, store, w);
    if (!w.items.length) return;
    w.dirty = true;
    st.onWake?.();
  });
  st.watched.set(mb.id, w);
  return w;
}

/** Keeps a session's watched mailboxes in step with a create, delete or rename (of this service). */
function followMailboxEvent(s: Session, st: NotifyState, store: MailStore, ev: MailboxEvent): void {
  if (ev.kind === 'delete') {
    for (const [id, w] of st.watched) {
      if (w.mb.name !== ev.name) continue;
      w.unsubscribe();
      st.watched.delete(id);
    }
  } else if (ev.kind === 'rename' && ev.oldName !== undefined) {
    const old = ev.oldName;
    for (const w of st.watched.values()) {
      if (w.mb.name !== old && !w.mb.name.startsWith(old + '/')) continue;
      const name = ev.name + w.mb.name.slice(old.length);
      w.mb = { ...w.mb, name };
      w.wireName = s.encodeMailbox(name);
    }
  } else if (ev.kind === 'create') {
    const g = st.groups.find((x) => matches(x, ev.name, new Set()));
    const items = g ? itemsFor(g.events) : [];
    if (!items.length && !st.groups.some((x) => x.events.has('MailboxName'))) return;
    void (async () => {
      const mb = await store.getMailbox(st.userId, ev.name);
      if (!mb || st.watched.has(mb.id) || STATES.get(s) !== st) return;
      watch(s, st, store, mb, items, items.length ? await statusText(store, mb, items) : []);
    })().catch(() => undefined);
  }
}

async function runNotify(ctx: CommandContext, args: NotifyArgs): Promise<Completion> {
  const s = ctx.session;
  if (args.kind === 'none') {
    stopNotify(s);
    return ok('NOTIFY completed');
  }
  if (args.unsupported.length) throw no('Unsupported NOTIFY event', `BADEVENT (${NOTIFY_EVENTS.join(' ')})`);
  // Mailbox names decoded once (a malformed one is NO before anything changes).
  const groups = args.groups.map((g) => ({ ...g, names: g.names.map((n) => s.decodeMailbox(n)) }));
  stopNotify(s);
  const user = currentUser(ctx);
  const store = ctx.service.store;
  const st: NotifyState = { svc: ctx.service, userId: user.id, groups, watched: new Map(), onWake: null };
  STATES.set(s, st);
  let users = LISTENERS.get(ctx.service);
  if (!users) LISTENERS.set(ctx.service, (users = new Map()));
  let set = users.get(user.id);
  if (!set) users.set(user.id, (set = new Set()));
  set.add(s);
  // The user's own mailboxes and the others' the user may see (namespaces.ts), under the client's names.
  const boxes = (await visibleMailboxes(ctx)).mailboxes;
  const subscribed = new Set(groups.some((g) => g.filter === 'subscribed') ? await store.listSubscriptions(user.id) : []);
  const selected = s.state.kind === 'selected' ? s.state.view.mailbox.id : null;
  const out = new WireWriter(s.utf8);
  const names = groups.some((g) => g.events.has('MailboxName'));
  for (const mb of boxes) {
    const g = groups.find((x) => matches(x, mb.name, subscribed));
    const items = g ? itemsFor(g.events) : [];
    // Mailboxes are also watched for MailboxName alone: their deletes and renames arrive on the store bus.
    if (!items.length && !(names && mb.userId === user.id)) continue;
    const parts = items.length ? await statusText(store, mb, items) : [];
    const w = watch(s, st, store, mb, items, parts);
    if (args.status && items.length && mb.id !== selected) writeStatus(out, w.wireName, parts);
  }
  if (out.length) s.send(out.toBuffer());
  return ok('NOTIFY completed');
}

export const notify = defineCommand({ states: AUTH, seq: 'none', parse: parseNotify, run: runNotify });
