/**
 * Checks on constant arguments made at compile time, as Pigeonhole does: comparators, relational operators,
 * address-test header names, envelope parts, redirect addresses, regular expressions, variable and field
 * names, include names. A string that contains variable references is checked at run time instead.
 */
import type { CommandNode, TestNode } from './ast.js';
import { patternForMessage, toJsRegex } from './regex.js';
import { isValidVariableName } from './strings.js';
import { COMPARATORS, type Node, type Validator, type Value } from './validate.js';
import { validRedirectAddress } from './address.js';
import { DATE_PARTS } from './date.js';

/** RFC 5293 section 3 fields and Pigeonhole's protected ones: edits are refused at run time. */
export const PROTECTED_FIELDS = new Set(['received', 'auto-submitted']);
/** RFC 5230 4.1 / RFC 6131: replies to one sender at most once a day (Pigeonhole sieve_vacation_min_period). */
export const VACATION_MIN_SECONDS = 86400;

export const RELATIONS = ['gt', 'ge', 'lt', 'le', 'eq', 'ne'];

/** Header fields the address test accepts (RFC 5228 5.1: fields that carry addresses). */
export const ADDRESS_HEADERS = new Set([
  'from', 'sender', 'reply-to', 'to', 'cc', 'bcc', 'resent-from', 'resent-sender', 'resent-reply-to', 'resent-to',
  'resent-cc', 'resent-bcc', 'return-path', 'disposition-notification-to', 'delivered-to', 'approved',
  'original-from', 'original-sender', 'original-recipient', 'x-original-to', 'x-sender', 'x-envelope-from',
  'x-envelope-to', 'errors-to', 'mail-followup-to', 'mail-reply-to', 'envelope-to', 'x-beenthere', 'list-post',
]);

const FIELD_NAME = /^[\x21-\x39\x3b-\x7e]+$/;

const strings = (v: Value | null | undefined): string[] => (!v ? [] : v.kind === 'list' ? v.values : v.kind === 'string' ? [v.value] : []);

export function checkConstants(val: Validator, node: Node, src: CommandNode | TestNode): boolean {
  const vars = val.has('variables');
  const dynamic = (s: string): boolean => vars && s.includes('${');
  let ok = true;
  const fail = (msg: string): void => {
    val.error(src.pos, msg);
    ok = false;
  };
  const cmp = node.tags.get('comparator');
  if (cmp && cmp.kind === 'string') {
    const need = COMPARATORS[cmp.value.toLowerCase()];
    if (need === undefined || (need !== null && !val.has(need))) fail(`unknown comparator '${cmp.value}'`);
  }
  for (const mt of ['count', 'value']) {
    const r = node.tags.get(mt);
    if (r && r.kind === 'string' && !RELATIONS.includes(r.value.toLowerCase())) {
      fail(`the :${mt} match-type requires a constant string argument being one of "gt", "ge", "lt", "le", "eq" or "ne", but "${r.value}" was found`);
    }
  }
  const keyArg = (): Value | null => node.args[node.args.length - 1] ?? null;
  if (node.tags.has('regex')) {
    const keys = node.name === 'deleteheader' ? node.args[1] : keyArg();
    for (const k of strings(keys)) {
      if (dynamic(k)) continue;
      const err = toJsRegex(k, false).error;
      if (err) fail(`invalid regular expression '${patternForMessage(k)}' for regex match: ${err}`);
    }
  }
  switch (node.name) {
    case 'address':
      for (const h of strings(node.args[0])) {
        if (!dynamic(h) && !ADDRESS_HEADERS.has(h.toLowerCase())) fail(`specified header '${h}' is not allowed for the address test`);
      }
      break;
    case 'header':
    case 'exists':
      for (const h of strings(node.args[0])) {
        if (!dynamic(h) && !FIELD_NAME.test(h)) fail(`specified header field name '${h}' is invalid`);
      }
      break;
    case 'envelope':
      for (const p of strings(node.args[0])) {
        if (!dynamic(p) && !['from', 'to', 'auth'].includes(p.toLowerCase())) fail(`specified envelope part '${p}' is not supported by the envelope test`);
      }
      break;
    case 'redirect':
      for (const a of strings(node.args[0])) {
        if (!dynamic(a)) {
          const err = validRedirectAddress(a);
          if (err) fail(`specified redirect address '${a}' is invalid: ${err}`);
        }
      }
      break;
    case 'set':
      for (const n of strings(node.args[0])) {
        const ns = n.includes('.') ? n.slice(0, n.indexOf('.')) : null;
        if (ns !== null && /^[A-Za-z_][A-Za-z0-9_]*$/.test(ns) && !(ns.toLowerCase() === 'global' && val.has('include'))) {
          fail(`referring to variable in unknown namespace '${ns}'`);
        } else if (!isValidVariableName(n, val.has('include'))) fail(`invalid variable name '${n}'`);
      }
      break;
    case 'global':
      for (const n of strings(node.args[0])) if (!isValidVariableName(n)) fail(`invalid variable name '${n}'`);
      break;
    case 'setflag':
    case 'addflag':
    case 'removeflag':
    case 'hasflag':
      if (node.args[0]) for (const n of strings(node.args[0])) if (!isValidVariableName(n, true)) fail(`invalid variable name '${n}'`);
      break;
    case 'addheader':
    case 'deleteheader':
      for (const n of strings(node.args[0])) {
        if (!dynamic(n) && !FIELD_NAME.test(n)) fail(`${node.name} command: specified field name \`${n}' is invalid`);
        else if (PROTECTED_FIELDS.has(n.toLowerCase())) {
          val.warn(src.pos, `${node.name} command: ${node.name === 'addheader' ? 'adding' : 'deleting'} specified header field \`${n}' is forbidden; modification will be denied`);
        }
      }
      break;
    case 'date':
    case 'currentdate': {
      const part = node.args[node.name === 'date' ? 1 : 0];
      for (const p of strings(part)) if (!dynamic(p) && !DATE_PARTS.includes(p.toLowerCase())) val.warn(src.pos, `specified date part \`${p}' is not known`);
      break;
    }
    case 'include':
      for (const n of strings(node.args[0])) {
        // RFC 6609 3.2: the name is a constant; Pigeonhole refuses variables in it.
        if (dynamic(n)) fail('the include command requires a constant string for its value argument');
        else if (n === '' || n.includes('/') || /[\x00-\x1f]/.test(n)) fail(`include: invalid script name '${n}'`);
      }
      break;
    case 'vacation': {
      const days = node.tags.get('days');
      const secs = node.tags.get('seconds');
      if (days && days.kind === 'number' && days.value < 1) val.warn(src.pos, `specified :days value '${days.value}' is under the minimum`);
      if (secs && secs.kind === 'number' && secs.value < VACATION_MIN_SECONDS) val.warn(src.pos, `specified :seconds value '${secs.value}' is under the minimum`);
      const from = node.tags.get('from');
      const err = from && from.kind === 'string' && !dynamic(from.value) ? validRedirectAddress(from.value, true) : null;
      if (from && err) fail(`specified :from address '${from.kind === 'string' ? from.value : ''}' is invalid for vacation action: ${err}`);
      break;
    }
    default:
  }
  return ok;
}
