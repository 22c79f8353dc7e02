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
 * mailbox applies): with STATUS, one "* STATUS" per matched mailbox right away; afterwards a "* STATUS"
 * whenever a matched mailbox changes (MESSAGES for MessageNew/MessageExpunge, UIDNEXT and UIDVALIDITY for
 * MessageNew, UIDVALIDITY and HIGHESTMODSEQ for FlagChange). Message events come from the store's change bus
 * (MailStore.subscribe), so changes made by any process or protocol are reported.
 * MailboxName and SubscriptionChange (RFC 5465 5.4, 5.5): a "* LIST" when a mailbox of the user is
 * created ("()"), deleted ("(\NonExistent)") or renamed ("()" with OLDNAME), or a subscription is added
 * ("(\Subscribed)") or removed ("()"), by anyone: another session of any worker, JMAP or the web pages,
 * the CLI, another process on the data directory, another PostgreSQL node. They come from the store's
 * mailbox list events (MailStore.subscribeMailboxList), the one path for all of them, so a change is
 * reported once wherever it was made. A rename is reported when its old or its new name is in the
 * filter (a client watching "Work" learns that "Work/a" left it). The session that made a change is not
 * told of it (its command's reply says it; the event's origin is the session id), as before NOTIFY.
 * The same events keep the watched mailboxes in step: a mailbox created, renamed or subscribed into a
 * filter with message events is watched from then on, and one deleted, renamed or unsubscribed out of all
 * of them is no longer (mailboxes of other owners stay as matched at NOTIFY SET).
 * Notifications wait for the end of the next command, or go out at once during IDLE (flushNotify). When
 * more than MAX_PENDING_LISTS LIST responses wait, they are dropped and the client gets
 * "* OK [NOTIFICATIONOVERFLOW]" (RFC 5465 5.8): NOTIFY is then off, as after NOTIFY NONE.
 * The selected mailbox keeps reporting EXISTS, EXPUNGE and FETCH FLAGS as without NOTIFY.
 */
import type { Token } from '../../imap/wire/tokenizer.js';
import { Args, ParseError, astringOf } from '../../imap/grammar/args.js';
import { WireWriter } from '../../imap/wire/encode.js';
import type { Mailbox, MailboxListEvent } from '../../store/types.js';
import type { MailStore } from '../../store/mail.js';
import { no, ok, type Completion } from '../errors.js';
import { writeStatus } from '../responses.js';
import { AUTH, currentUser, defineCommand, type CommandContext, type Session } from '../session.js';
import { locate, visibleMailboxes } from '../namespaces.js';

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

/**
 * LIST notifications held for a session that sends no command (up to ~2 KB each): past this many the
 * session overflows (RFC 5465 5.8) rather than letting another session's changes grow its memory.
 */
export const MAX_PENDING_LISTS = 1000;

interface Watched {
  mb: Mailbox;
  wireName: string;
  items: string[];
  /** The last STATUS item text reported (or the baseline at NOTIFY SET). */
  last: string;
  dirty: boolean;
  unsubscribe: () => void;
}

interface NotifyState {
  userId: number;
  groups: NotifyGroup[];
  watched: Map<number, Watched>;
  /** The user's subscriptions, kept in step by the list events (for the "subscribed" filter). */
  subscribed: Set<string>;
  /** LIST responses waiting for flushNotify, in event order. */
  pending: Buffer[];
  /** NOTIFICATIONOVERFLOW is pending: the setting ends once it is sent. */
  overflowed: boolean;
  /** Serializes the re-matching of watched mailboxes after list events (rewatch). */
  chain: Promise<void>;
  offList: () => void;
  /** Called when something is pending (IDLE hooks in here). */
  onWake: (() => void) | null;
}

const STATES = new WeakMap<Session, NotifyState>();

function stopNotify(session: Session): void {
  const st = STATES.get(session);
  if (!st) return;
  unwatchAll(st);
  STATES.delete(session);
}

function unwatchAll(st: NotifyState): void {
  st.offList();
  for (const w of st.watched.values()) w.unsubscribe();
  st.watched.clear();
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

/** The STATUS items of the first group matching `name` (none: not watched for message events). */
function itemsOf(st: NotifyState, name: string): string[] {
  const g = st.groups.find((x) => matches(x, name, st.subscribed));
  return g ? itemsFor(g.events) : [];
}

/** Sends the pending notifications: LIST responses in event order, then STATUS of changed watched mailboxes. */
export async function flushNotify(session: Session, store: MailStore): Promise<void> {
  const st = STATES.get(session);
  if (!st) return;
  if (st.pending.length) {
    const lines = st.pending;
    st.pending = [];
    session.send(Buffer.concat(lines));
  }
  if (st.overflowed) return stopNotify(session);
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

/** The "* LIST" of a mailbox list event, when one of the session's groups asks for it (null otherwise). */
function listLine(s: Session, st: NotifyState, ev: MailboxListEvent): Buffer | null {
  if (ev.kind === 'special-use') return null; // no NOTIFY event covers a mailbox's special use
  const event = ev.kind === 'subscribe' || ev.kind === 'unsubscribe' ? 'SubscriptionChange' : 'MailboxName';
  const wanted = (name: string): boolean => st.groups.some((g) => g.events.has(event) && matches(g, name, st.subscribed));
  if (!wanted(ev.name) && !(ev.oldName !== undefined && wanted(ev.oldName))) return null;
  const attrs = ev.kind === 'delete' ? '(\\NonExistent)' : ev.kind === 'subscribe' ? '(\\Subscribed)' : '()';
  const w = new WireWriter(s.utf8);
  w.text(`* LIST ${attrs} "/" `).string(s.encodeMailbox(ev.name));
  if (ev.oldName !== undefined) w.text(' ("OLDNAME" (').string(s.encodeMailbox(ev.oldName)).text('))');
  w.text('\r\n');
  return w.toBuffer();
}

/** Keeps the subscription set in step with an event (a rename moves the subscriptions under the old name). */
function followSubscriptions(st: NotifyState, ev: MailboxListEvent): void {
  if (ev.kind === 'subscribe') st.subscribed.add(ev.name);
  else if (ev.kind === 'unsubscribe') st.subscribed.delete(ev.name);
  else if (ev.kind === 'rename' && ev.oldName !== undefined) {
    const old = ev.oldName;
    for (const n of [...st.subscribed]) {
      if (n !== old && !n.startsWith(old + '/')) continue;
      st.subscribed.delete(n);
      st.subscribed.add(ev.name + n.slice(old.length));
    }
  }
}

/**
 * A change to the user's mailbox list or subscriptions, from wherever it was made: queues the "* LIST"
 * (unless the session made the change itself), then re-matches the watched mailboxes.
 */
function heard(s: Session, st: NotifyState, store: MailStore, ev: MailboxListEvent): void {
  if (STATES.get(s) !== st || st.overflowed) return;
  if (s.state.kind === 'logout') return stopNotify(s);
  // An unsubscribed name is matched while it still is subscribed; a subscribed one once it is.
  if (ev.kind === 'subscribe') followSubscriptions(st, ev);
  const line = ev.origin === s.id ? null : listLine(s, st, ev);
  if (ev.kind !== 'subscribe') followSubscriptions(st, ev);
  if (line) {
    if (st.pending.length >= MAX_PENDING_LISTS) {
      unwatchAll(st);
      st.overflowed = true;
      st.pending = [Buffer.from('* OK [NOTIFICATIONOVERFLOW] Too many notifications; NOTIFY is off\r\n')];
      st.onWake?.();
      return;
    }
    st.pending.push(line);
    st.onWake?.();
  }
  if (st.groups.some((g) => itemsFor(g.events).length > 0)) {
    st.chain = st.chain.then(() => rewatch(s, st, store)).catch(() => undefined);
  }
}

/**
 * Re-matches the user's own mailboxes against the groups: watches those that now match a group with
 * message events (baseline: their STATUS now), drops those that no longer do or are gone, follows renames.
 */
async function rewatch(s: Session, st: NotifyState, store: MailStore): Promise<void> {
  const mine = await store.listMailboxes(st.userId);
  if (STATES.get(s) !== st) return;
  const byId = new Map(mine.map((m) => [m.id, m]));
  for (const [id, w] of st.watched) {
    if (w.mb.userId !== st.userId) continue;
    const now = byId.get(id);
    const items = now ? itemsOf(st, now.name) : [];
    if (!now || !items.length) {
      w.unsubscribe();
      st.watched.delete(id);
      continue;
    }
    if (now.name !== w.mb.name) w.wireName = s.encodeMailbox(now.name);
    w.mb = now;
    w.items = items;
  }
  for (const mb of mine) {
    const items = itemsOf(st, mb.name);
    if (!items.length || st.watched.has(mb.id)) continue;
    let parts: string[];
    try {
      parts = await statusText(store, mb, items);
    } catch {
      continue; // deleted meanwhile
    }
    if (STATES.get(s) !== st) return;
    if (!st.watched.has(mb.id)) watch(s, st, store, mb, items, parts);
  }
}

/** Starts watching a mailbox's changes for the session; `parts` is the STATUS baseline. */
function watch(s: Session, st: NotifyState, store: MailStore, mb: Mailbox, items: string[], parts: readonly string[]): Watched {
  const w: Watched = { mb, wireName: s.encodeMailbox(mb.name), items, last: parts.join(' '), dirty: false, unsubscribe: () => undefined };
  w.unsubscribe = store.subscribe(mb.id, () => {
    if (s.state.kind === 'logout') return stopNotify(s);
    w.dirty = true;
    st.onWake?.();
  });
  st.watched.set(mb.id, w);
  return w;
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
  const st: NotifyState = {
    userId: user.id,
    groups,
    watched: new Map(),
    subscribed: new Set(),
    pending: [],
    overflowed: false,
    chain: Promise.resolve(),
    offList: () => undefined,
    onWake: null,
  };
  STATES.set(s, st);
  // Listening first: a change made while the mailboxes are read below is heard (and re-matched) too.
  st.offList = store.subscribeMailboxList(user.id, (ev) => heard(s, st, store, ev));
  if (groups.some((g) => g.filter === 'subscribed')) for (const n of await store.listSubscriptions(user.id)) st.subscribed.add(n);
  // The user's own mailboxes and the others' the user may see (namespaces.ts), under the client's names.
  const boxes = (await visibleMailboxes(ctx)).mailboxes;
  const selected = s.state.kind === 'selected' ? s.state.view.mailbox.id : null;
  const out = new WireWriter(s.utf8);
  for (const mb of boxes) {
    const items = itemsOf(st, mb.name);
    if (!items.length || st.watched.has(mb.id)) continue;
    const parts = await statusText(store, mb, items);
    if (STATES.get(s) !== st) break;
    const w = watch(s, st, store, mb, items, parts);
    if (args.status && mb.id !== selected) writeStatus(out, w.wireName, parts);
  }
  if (out.length) s.send(out.toBuffer());
  return ok('NOTIFY completed');
}

export const notify = defineCommand({ states: AUTH, seq: 'none', parse: parseNotify, run: runNotify });
