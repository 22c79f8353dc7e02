/**
 * Commands with effects: keep, discard, redirect, fileinto, reject/ereject, vacation, the imap4flags
 * commands, set (RFC 5229 modifiers), addheader/deleteheader (RFC 5293) and error (RFC 5463).
 */
import { validRedirectAddress } from './address.js';
import type { Frame, RunState } from './context.js';
import { addFlags, flagList, removeFlags } from './flags.js';
import { matchAny } from './match.js';
import { decodedValue } from './message.js';
import { SieveRuntimeError } from './result.js';
import { charLength, quoteRegex, quoteWildcard } from './strings.js';
import { matchSpec } from './tests.js';
import { PROTECTED_FIELDS, VACATION_MIN_SECONDS } from './validate-args.js';
import type { Node } from './validate.js';

const VACATION_DEFAULT_DAYS = 7;

function flagsFor(frame: Frame, run: RunState, n: Node): string[] {
  const tag = n.tags.get('flags');
  if (tag) return flagList(frame.list(tag));
  return frame.has('imap4flags') ? flagList([run.flags]) : [];
}

export function execAction(frame: Frame, run: RunState, n: Node): void {
  const r = run.result;
  switch (n.name) {
    case 'keep':
      r.store('INBOX', flagsFor(frame, run, n), { create: false, copy: false, viaKeep: true });
      return;
    case 'discard':
      r.discard();
      return;
    case 'redirect': {
      const address = frame.str(n.args[0]).trim();
      const err = validRedirectAddress(address);
      if (err) throw new SieveRuntimeError(`specified redirect address '${address}' is invalid: ${err}`);
      r.redirect(address, n.tags.has('copy'));
      return;
    }
    case 'fileinto': {
      const mailbox = frame.str(n.args[0]);
      if (mailbox === '') throw new SieveRuntimeError(`specified mailbox name '${mailbox}' is invalid`);
      const opts: { create: boolean; copy: boolean; mailboxId?: string; viaKeep: boolean } = {
        create: n.tags.has('create'),
        copy: n.tags.has('copy'),
        viaKeep: false,
      };
      const id = n.tags.get('mailboxid');
      if (id) opts.mailboxId = frame.str(id);
      r.store(mailbox, flagsFor(frame, run, n), opts);
      return;
    }
    case 'reject':
    case 'ereject':
      r.reject(frame.str(n.args[0]), n.name === 'ereject');
      return;
    case 'vacation':
      vacation(frame, run, n);
      return;
    case 'setflag':
    case 'addflag':
    case 'removeflag': {
      const items = frame.list(n.args[1]);
      const vars = n.args[0] ? frame.list(n.args[0]) : null;
      const apply = (cur: string): string =>
        n.name === 'setflag' ? flagList(items).join(' ') : n.name === 'addflag' ? addFlags(cur, items) : removeFlags(cur, items);
      if (vars) for (const v of vars) frame.set(v, apply(frame.get(v) ?? ''));
      else run.flags = apply(run.flags);
      return;
    }
    case 'set':
      frame.set(frame.str(n.args[0]), modify(n, frame.str(n.args[1])));
      return;
    case 'addheader':
      addHeader(frame, run, n);
      return;
    case 'deleteheader':
      deleteHeader(frame, run, n);
      return;
    case 'error':
      throw new SieveRuntimeError(frame.str(n.args[0]));
    default:
      throw new SieveRuntimeError(`unsupported command '${n.name}'`);
  }
}

/** RFC 5229 4.1: modifiers apply from the highest precedence (case) down to :length. */
function modify(n: Node, value: string): string {
  let v = value;
  if (n.tags.has('lower')) v = v.toLowerCase();
  if (n.tags.has('upper')) v = v.toUpperCase();
  if (n.tags.has('lowerfirst') && v) v = v[0]!.toLowerCase() + v.slice(1);
  if (n.tags.has('upperfirst') && v) v = v[0]!.toUpperCase() + v.slice(1);
  if (n.tags.has('quotewildcard')) v = quoteWildcard(v);
  if (n.tags.has('quoteregex')) v = quoteRegex(v);
  if (n.tags.has('length')) v = String(charLength(v));
  return v;
}

function vacation(frame: Frame, run: RunState, n: Node): void {
  const reason = frame.str(n.args[0]);
  const days = n.tags.get('days');
  const secs = n.tags.get('seconds');
  let seconds = VACATION_DEFAULT_DAYS * 86400;
  if (days && days.kind === 'number') seconds = days.value * 86400;
  if (secs && secs.kind === 'number') seconds = secs.value;
  seconds = Math.max(VACATION_MIN_SECONDS, seconds);
  const subject = n.tags.get('subject');
  const from = n.tags.get('from');
  const handle = n.tags.get('handle');
  const mime = n.tags.has('mime');
  const action: Parameters<RunState['result']['vacation']>[0] = {
    type: 'vacation',
    reason,
    addresses: frame.list(n.tags.get('addresses')),
    mime,
    seconds,
  };
  if (subject) action.subject = frame.str(subject);
  if (from) {
    action.from = frame.str(from);
    if (validRedirectAddress(action.from, true)) throw new SieveRuntimeError(`specified :from address '${action.from}' is invalid for vacation action`);
  }
  // Pigeonhole's default handle: the reason, subject, from and :mime concatenated.
  action.handle = handle
    ? frame.str(handle)
    : `${reason}${action.subject ?? '<default-subject>'}${action.from ?? '<default-from>'}${mime ? '<MIME>' : '<NO-MIME>'}`;
  run.result.vacation(action);
}

function addHeader(frame: Frame, run: RunState, n: Node): void {
  const name = frame.str(n.args[0]);
  if (!/^[\x21-\x39\x3b-\x7e]+$/.test(name)) throw new SieveRuntimeError(`addheader action: specified field name '${name}' is invalid`);
  if (PROTECTED_FIELDS.has(name.toLowerCase())) {
    run.warnings.push(`addheader action: adding specified header field '${name}' is forbidden; modification denied`);
    return;
  }
  run.msg.add(name, frame.str(n.args[1]), n.tags.has('last'));
}

function deleteHeader(frame: Frame, run: RunState, n: Node): void {
  const name = frame.str(n.args[0]);
  if (PROTECTED_FIELDS.has(name.toLowerCase())) {
    run.warnings.push(`deleteheader action: deleting specified header field '${name}' is forbidden; modification denied`);
    return;
  }
  let fields = run.msg.raw(name);
  const idx = n.tags.get('index');
  if (idx && idx.kind === 'number') {
    const i = n.tags.has('last') ? fields.length - idx.value : idx.value - 1;
    const f = i >= 0 ? fields[i] : undefined;
    fields = f ? [f] : [];
  }
  const patterns = n.args[1] ? frame.list(n.args[1]) : null;
  const spec = matchSpec(n);
  for (const f of fields) {
    if (patterns) {
      const m = matchAny(spec, [decodedValue(f.raw)], patterns, (k) => run.step(k));
      if (!m.matched) continue;
    }
    run.msg.remove(f);
  }
}
