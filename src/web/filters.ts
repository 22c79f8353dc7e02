/**
 * The rule editor's model and the Sieve script it writes (RFC 5228 with fileinto, imap4flags and copy).
 *
 * The script carries the rules it was made from as one machine-readable comment line
 * ("# mailroom-filters-v1 {json}"), so the editor reads back exactly what it wrote; the rest of the script is
 * regenerated from that line on every save. A script whose text no longer matches what its comment line
 * generates was edited by hand (raw mode): the editor reports it, and saving rules replaces it.
 *
 * Forwarding is a redirect at the top of the script: with a copy kept it is `redirect :copy` and the rules
 * still file the message; without, the message is redirected and nothing else runs. The vacation setting is
 * applied by the Sieve delivery stage after the script, so it coexists with both.
 */
import { isValidAddress } from '../server/mailroom.js';

export const MARKER = '# mailroom-filters-v1 ';
/** Bounds of one rule set (the script stays far below the Sieve size limit). */
export const MAX_RULES = 100;
export const MAX_CONDITIONS = 20;
export const MAX_VALUE = 500;

export type Field = 'from' | 'to' | 'subject' | 'header' | 'size';
export type Op = 'contains' | 'not-contains' | 'is' | 'matches' | 'over' | 'under';

export interface Condition {
  field: Field;
  /** The header field name, for field 'header'. */
  header?: string;
  op: Op;
  /** Text to match, or a size such as 100K for 'over'/'under'. */
  value: string;
}

export type Action = { type: 'move'; folder: string } | { type: 'read' } | { type: 'flag' } | { type: 'forward'; to: string } | { type: 'discard' } | { type: 'stop' };

export interface Rule {
  name: string;
  /** All conditions must hold, or any one. */
  match: 'all' | 'any';
  conditions: Condition[];
  actions: Action[];
}

export interface Forwarding {
  enabled: boolean;
  to: string;
  keepCopy: boolean;
}

export interface FilterSet {
  rules: Rule[];
  forwarding: Forwarding;
}

export const NO_FORWARDING: Forwarding = { enabled: false, to: '', keepCopy: true };

const TEXT_OPS: readonly Op[] = ['contains', 'not-contains', 'is', 'matches'];
const SIZE_OPS: readonly Op[] = ['over', 'under'];
const FIELDS: readonly Field[] = ['from', 'to', 'subject', 'header', 'size'];
/** RFC 5322 2.2 field names: printable US-ASCII except colon. */
const HEADER_NAME = /^[\x21-\x39\x3b-\x7e]{1,100}$/;
/** RFC 5228 5.9 numbers with a K, M or G quantifier. */
const SIZE = /^[0-9]{1,9}[KMG]?$/i;

function obj(v: unknown): Record<string, unknown> | null {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
}

/** A string a Sieve quoted string can hold on one line: bounded, no control characters but tab. */
function text(v: unknown, what: string, max = MAX_VALUE): string {
  if (typeof v !== 'string' || v.length > max || /[\x00-\x08\x0a-\x1f\x7f]/.test(v)) throw new FilterError(`${what}: a single line of at most ${max} characters`);
  return v;
}

export class FilterError extends Error {}

function condition(v: unknown): Condition {
  const c = obj(v);
  if (!c) throw new FilterError('a condition must be an object');
  const field = c.field as Field;
  if (!FIELDS.includes(field)) throw new FilterError(`unknown condition field ${String(c.field).slice(0, 40)}`);
  const op = c.op as Op;
  if (!(field === 'size' ? SIZE_OPS : TEXT_OPS).includes(op)) throw new FilterError(`${field} cannot be compared with ${String(c.op).slice(0, 40)}`);
  const value = text(c.value, `${field} value`);
  if (field === 'size' && !SIZE.test(value)) throw new FilterError('size: a number with an optional K, M or G');
  if (field !== 'size' && value === '') throw new FilterError(`${field}: a value is required`);
  if (field !== 'header') return { field, op, value };
  const header = text(c.header, 'header name', 100);
  if (!HEADER_NAME.test(header)) throw new FilterError('header: not a header field name');
  return { field, header, op, value };
}

function action(v: unknown): Action {
  const a = obj(v);
  switch (a?.type) {
    case 'move': {
      const folder = text(a.folder, 'folder', 300);
      if (!folder.trim()) throw new FilterError('move: a folder is required');
      return { type: 'move', folder };
    }
    case 'forward': {
      const to = text(a.to, 'forward address', 320).trim();
      if (!isValidAddress(to)) throw new FilterError('forward: not an email address');
      return { type: 'forward', to };
    }
    case 'read':
    case 'flag':
    case 'discard':
    case 'stop':
      return { type: a.type };
    default:
      throw new FilterError('unknown action');
  }
}

function rule(v: unknown): Rule {
  const r = obj(v);
  if (!r) throw new FilterError('a rule must be an object');
  const name = text(r.name ?? '', 'rule name', 100);
  if (r.match !== 'all' && r.match !== 'any') throw new FilterError('match: all or any');
  if (!Array.isArray(r.conditions) || r.conditions.length === 0 || r.conditions.length > MAX_CONDITIONS) throw new FilterError(`a rule needs 1 to ${MAX_CONDITIONS} conditions`);
  if (!Array.isArray(r.actions) || r.actions.length === 0 || r.actions.length > 10) throw new FilterError('a rule needs 1 to 10 actions');
  return { name, match: r.match, conditions: r.conditions.map(condition), actions: r.actions.map(action) };
}

/** Checks untrusted input (the API body, a script's comment line); throws FilterError with a reason. */
export function parseFilterSet(v: unknown): FilterSet {
  const b = obj(v);
  if (!b) throw new FilterError('rules and forwarding are required');
  if (!Array.isArray(b.rules) || b.rules.length > MAX_RULES) throw new FilterError(`rules: a list of at most ${MAX_RULES}`);
  const rules = b.rules.map(rule);
  const f = b.forwarding === undefined ? NO_FORWARDING : obj(b.forwarding);
  if (!f || typeof f.enabled !== 'boolean' || typeof f.keepCopy !== 'boolean') throw new FilterError('forwarding: enabled, to and keepCopy are required');
  const to = f.enabled ? text(f.to, 'forwarding address', 320).trim() : typeof f.to === 'string' ? f.to.slice(0, 320) : '';
  if (f.enabled && !isValidAddress(to)) throw new FilterError('forwarding: not an email address');
  return { rules, forwarding: { enabled: f.enabled, to, keepCopy: f.keepCopy } };
}

/** A Sieve quoted string (RFC 5228 2.4.2: backslash escapes backslash and double quote). */
function q(s: string): string {
  return `"${s.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

function test(c: Condition): string {
  if (c.field === 'size') return `size :${c.op} ${c.value.toUpperCase()}`;
  const negate = c.op === 'not-contains';
  const match = negate ? 'contains' : c.op;
  const t =
    c.field === 'from' ? `address :${match} "from" ${q(c.value)}`
    : c.field === 'to' ? `address :${match} ["to", "cc"] ${q(c.value)}`
    : `header :${match} ${q(c.field === 'subject' ? 'subject' : c.header!)} ${q(c.value)}`;
  return negate ? `not ${t}` : t;
}

function body(r: Rule): string[] {
  const has = (t: Action['type']) => r.actions.some((a) => a.type === t);
  const flags = [...(has('read') ? ['\\\\Seen'] : []), ...(has('flag') ? ['\\\\Flagged'] : [])];
  const flagList = `[${flags.map((f) => `"${f}"`).join(', ')}]`;
  const out: string[] = [];
  for (const a of r.actions) if (a.type === 'forward') out.push(`redirect :copy ${q(a.to)};`);
  const move = r.actions.find((a): a is Extract<Action, { type: 'move' }> => a.type === 'move');
  if (has('discard')) out.push('discard;');
  else if (move) out.push(`fileinto${flags.length ? ` :flags ${flagList}` : ''} ${q(move.folder)};`);
  else if (flags.length) out.push(`addflag ${flagList};`);
  if (has('stop')) out.push('stop;');
  return out;
}

/** The whole script for a rule set; deterministic, so a script can be compared with its comment line. */
export function generateSieve(set: FilterSet): string {
  const lines = ['# Written by the mailroom filter editor (Settings, Filters); the next line is what it reads back.', MARKER + JSON.stringify(set)];
  const needs = new Set<string>();
  const all = set.rules.flatMap((r) => r.actions);
  if (all.some((a) => a.type === 'move')) needs.add('fileinto');
  if (all.some((a) => a.type === 'read' || a.type === 'flag')) needs.add('imap4flags');
  if (all.some((a) => a.type === 'forward') || (set.forwarding.enabled && set.forwarding.keepCopy)) needs.add('copy');
  if (needs.size) lines.push(`require [${[...needs].sort().map(q).join(', ')}];`);
  if (set.forwarding.enabled) {
    lines.push('', '# Forwarding');
    if (set.forwarding.keepCopy) lines.push(`redirect :copy ${q(set.forwarding.to)};`);
    else lines.push(`redirect ${q(set.forwarding.to)};`, 'stop;');
  }
  for (const [i, r] of set.rules.entries()) {
    const tests = r.conditions.map(test);
    const cond = tests.length === 1 ? tests[0]! : `${r.match === 'all' ? 'allof' : 'anyof'} (${tests.join(', ')})`;
    lines.push('', `# Rule ${i + 1}${r.name ? `: ${r.name}` : ''}`, `if ${cond} {`, ...body(r).map((l) => `  ${l}`), '}');
  }
  return lines.join('\n') + '\n';
}

export interface ReadBack {
  set: FilterSet;
  /** The script has a comment line of ours. */
  managed: boolean;
  /** The script differs from what its comment line generates (edited in raw mode). */
  handEdited: boolean;
}

/** The rules a script was written from; an empty set when it has none (or an unreadable line). */
export function readFilterSet(script: string): ReadBack {
  const empty: FilterSet = { rules: [], forwarding: NO_FORWARDING };
  const line = script.split(/\r?\n/).find((l) => l.startsWith(MARKER));
  if (line === undefined) return { set: empty, managed: false, handEdited: script.trim() !== '' };
  let set: FilterSet;
  try {
    set = parseFilterSet(JSON.parse(line.slice(MARKER.length)));
  } catch {
    return { set: empty, managed: false, handEdited: true };
  }
  return { set, managed: true, handEdited: generateSieve(set) !== script.replace(/\r\n/g, '\n') };
}
