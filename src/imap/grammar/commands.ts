/**
 * Typed argument parsers for the commands other than FETCH and SEARCH (RFC 9051 section 6 and the
 * extensions the server implements). Mailbox names are returned as sent (still modified UTF-7 for rev1
 * clients); the server decodes them according to what the session enabled.
 */
import type { Token } from '../wire/tokenizer.js';
import { Args, ParseError, astringOf, parseDateTime, parseFlag, parseFlagList, parseNumber, parseModseq } from './args.js';
import { parseSequenceSet, type SequenceSet } from './sequence.js';

export interface NoArgs {}

export function parseNone(args: Args): NoArgs {
  args.end();
  return {};
}

export interface LoginArgs {
  user: string;
  password: string;
}

export function parseLogin(args: Args): LoginArgs {
  const user = args.astring('user name');
  const password = args.astring('password');
  args.end();
  return { user, password };
}

export interface AuthenticateArgs {
  mechanism: string;
  /** SASL-IR initial response (RFC 4959): base64 text, "=" for empty; null when absent. */
  initial: string | null;
}

export function parseAuthenticate(args: Args): AuthenticateArgs {
  const mechanism = args.atom('SASL mechanism').toUpperCase();
  let initial: string | null = null;
  if (!args.done) initial = args.atom('initial response');
  args.end();
  return { mechanism, initial };
}

export interface MailboxArg {
  mailbox: string;
}

export function parseMailbox(args: Args): MailboxArg {
  const mailbox = args.astring('mailbox name');
  args.end();
  return { mailbox };
}

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

export interface RenameArgs {
  from: string;
  to: string;
}

export function parseRename(args: Args): RenameArgs {
  const from = args.astring('mailbox name');
  const to = args.astring('new mailbox name');
  args.end();
  return { from, to };
}

export interface QresyncParams {
  uidValidity: number;
  modseq: number;
  knownUids: SequenceSet | null;
  seqMatch: { seqs: SequenceSet; uids: SequenceSet } | null;
}

export interface SelectArgs {
  mailbox: string;
  condstore: boolean;
  qresync: QresyncParams | null;
}

export function parseSelect(args: Args): SelectArgs {
  const mailbox = args.astring('mailbox name');
  let condstore = false;
  let qresync: QresyncParams | null = null;
  if (!args.done) {
    const p = new Args(args.list('select parameters'));
    while (!p.done) {
      const name = p.atom('select parameter').toUpperCase();
      if (name === 'CONDSTORE') condstore = true;
      else if (name === 'QRESYNC') {
        const q = new Args(p.list('QRESYNC parameters'));
        const uidValidity = q.number('UIDVALIDITY');
        const modseq = parseModseq(q.atom('mod-sequence'));
        let knownUids: SequenceSet | null = null;
        let seqMatch: QresyncParams['seqMatch'] = null;
        if (!q.done && q.peek()?.t === 'atom') knownUids = parseSequenceSet(q.atom('known UIDs'));
        if (!q.done) {
          const m = new Args(q.list('sequence match data'));
          seqMatch = { seqs: parseSequenceSet(m.atom('known sequence set')), uids: parseSequenceSet(m.atom('known UID set')) };
          m.end();
        }
        q.end();
        if (uidValidity === 0) throw new ParseError('Invalid UIDVALIDITY');
        qresync = { uidValidity, modseq, knownUids, seqMatch };
      } else throw new ParseError(`Unknown SELECT parameter ${name}`);
    }
  }
  args.end();
  return { mailbox, condstore, qresync };
}

export type ListSelection = 'SUBSCRIBED' | 'REMOTE' | 'RECURSIVEMATCH' | 'SPECIAL-USE';
export type ListReturn = 'SUBSCRIBED' | 'CHILDREN' | 'SPECIAL-USE' | 'STATUS';

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
  return astringOf(t, 'mailbox pattern');
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
        for (const t of r.list('status items')) {
          if (t.t !== 'atom') throw new ParseError('Invalid status item');
          statusItems.push(parseStatusItem(t.v));
        }
      } else if (o !== 'SUBSCRIBED' && o !== 'CHILDREN' && o !== 'SPECIAL-USE') throw new ParseError(`Unknown LIST return option ${o}`);
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

export const STATUS_ITEMS = ['MESSAGES', 'RECENT', 'UIDNEXT', 'UIDVALIDITY', 'UNSEEN', 'DELETED', 'SIZE', 'HIGHESTMODSEQ', 'APPENDLIMIT', 'MAILBOXID'] as const;

function parseStatusItem(s: string): string {
  const up = s.toUpperCase();
  if (!(STATUS_ITEMS as readonly string[]).includes(up)) throw new ParseError(`Unknown status item ${s.slice(0, 40)}`);
  return up;
}

export interface StatusArgs {
  mailbox: string;
  items: string[];
}

export function parseStatus(args: Args): StatusArgs {
  const mailbox = args.astring('mailbox name');
  const list = args.list('status items');
  if (!list.length) throw new ParseError('Empty status item list');
  const items: string[] = [];
  for (const t of list) {
    if (t.t !== 'atom') throw new ParseError('Invalid status item');
    const it = parseStatusItem(t.v);
    if (!items.includes(it)) items.push(it);
  }
  args.end();
  return { mailbox, items };
}

export interface AppendArgs {
  mailbox: string;
  flags: string[];
  date: Date | null;
  message: Buffer;
  binary: boolean;
}

export function parseAppend(args: Args): AppendArgs {
  const mailbox = args.astring('mailbox name');
  let flags: string[] = [];
  let date: Date | null = null;
  let t = args.next('message literal');
  if (t.t === 'list') {
    flags = t.v.map(parseFlag);
    t = args.next('message literal');
  }
  if (t.t === 'string' && !t.literal) {
    date = parseDateTime(t.v.toString('latin1'));
    t = args.next('message literal');
  }
  let binary = false;
  let message: Buffer;
  if (t.t === 'atom' && t.v.toUpperCase() === 'UTF8') {
    // RFC 6855 section 4: APPEND ... UTF8 (literal8)
    const inner = args.list('UTF8 literal');
    if (inner.length !== 1 || inner[0]!.t !== 'string' || !inner[0]!.literal) throw new ParseError('UTF8 needs a literal');
    message = inner[0]!.v;
    binary = inner[0]!.binary;
  } else {
    if (t.t !== 'string' || !t.literal) throw new ParseError('Message must be sent as a literal');
    message = t.v;
    binary = t.binary;
  }
  args.end();
  return { mailbox, flags, date, message, binary };
}

export type StoreOp = 'set' | 'add' | 'remove';

export interface StoreArgs {
  set: SequenceSet;
  unchangedSince: number | null;
  op: StoreOp;
  silent: boolean;
  flags: string[];
}

export function parseStore(args: Args): StoreArgs {
  const set = parseSequenceSet(args.atom('sequence set'));
  let unchangedSince: number | null = null;
  if (args.peek()?.t === 'list') {
    const m = new Args(args.list('store modifiers'));
    while (!m.done) {
      const name = m.atom('store modifier').toUpperCase();
      if (name !== 'UNCHANGEDSINCE') throw new ParseError(`Unknown STORE modifier ${name}`);
      unchangedSince = parseModseq(m.atom('mod-sequence'));
    }
  }
  const item = args.atom('store data item').toUpperCase();
  const m = /^([+-]?)FLAGS(\.SILENT)?$/.exec(item);
  if (!m) throw new ParseError(`Invalid STORE data item ${item.slice(0, 40)}`);
  const op: StoreOp = m[1] === '+' ? 'add' : m[1] === '-' ? 'remove' : 'set';
  const flags: string[] = [];
  while (!args.done) flags.push(...parseFlagList(args.next('flags')));
  return { set, unchangedSince, op, silent: !!m[2], flags };
}

export interface CopyArgs {
  set: SequenceSet;
  mailbox: string;
}

export function parseCopy(args: Args): CopyArgs {
  const set = parseSequenceSet(args.atom('sequence set'));
  const mailbox = args.astring('mailbox name');
  args.end();
  return { set, mailbox };
}

export interface UidSetArg {
  set: SequenceSet;
}

export function parseUidSet(args: Args): UidSetArg {
  const set = parseSequenceSet(args.atom('UID set'));
  args.end();
  return { set };
}

export interface EnableArgs {
  capabilities: string[];
}

export function parseEnable(args: Args): EnableArgs {
  const capabilities: string[] = [];
  while (!args.done) capabilities.push(args.atom('capability').toUpperCase());
  if (!capabilities.length) throw new ParseError('Missing capability');
  return { capabilities };
}

export interface IdArgs {
  /** null for NIL. */
  params: Array<[string, string | null]> | null;
}

/** Bounds from RFC 2971 section 3.3: at most 30 pairs, 30-octet names, 1024-octet values. */
export function parseId(args: Args): IdArgs {
  const t = args.next('ID parameters');
  args.end();
  if (t.t === 'atom' && t.v.toUpperCase() === 'NIL') return { params: null };
  if (t.t !== 'list') throw new ParseError('ID takes a list or NIL');
  if (t.v.length % 2 !== 0) throw new ParseError('ID list must have name/value pairs');
  if (t.v.length > 60) throw new ParseError('Too many ID parameters');
  const params: Array<[string, string | null]> = [];
  for (let i = 0; i < t.v.length; i += 2) {
    const k = t.v[i]!;
    const v = t.v[i + 1]!;
    if (k.t !== 'string') throw new ParseError('ID field names must be strings');
    const value = v.t === 'atom' && v.v.toUpperCase() === 'NIL' ? null : astringOf(v, 'ID value');
    params.push([k.v.toString('utf8').slice(0, 30), value === null ? null : value.slice(0, 1024)]);
  }
  return { params };
}

export interface CompressArgs {
  mechanism: string;
}

export function parseCompress(args: Args): CompressArgs {
  const mechanism = args.atom('compression mechanism').toUpperCase();
  args.end();
  return { mechanism };
}
