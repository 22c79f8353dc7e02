/**
 * Evaluation of tests: RFC 5228 core (address, allof, anyof, exists, false, header, not, size, true) and the
 * extension tests (envelope, body, date/currentdate, string, hasflag, mailboxexists, mailboxidexists,
 * environment, ihave, duplicate, spamtest, virustest). Match variables are set by successful :matches and
 * :regex comparisons when the script uses "variables".
 */
import { addressesOf, addressPart, envelopeAddress, type AddressPart, type ParsedAddress } from './address.js';
import { bodyValues } from './body.js';
import type { Frame, RunState } from './context.js';
import { datePart, localOffset, parseDateTime, parseZone, type ZonedDate } from './date.js';
import { SIEVE_EXTENSIONS } from './extensions.js';
import { flagList } from './flags.js';
import { matchAny, MatchError, type MatchSpec, type MatchType } from './match.js';
import { SieveRuntimeError } from './result.js';
import type { Node } from './validate.js';

const MATCH_TYPES: MatchType[] = ['is', 'contains', 'matches', 'regex', 'count', 'value'];
const ADDRESS_PARTS: AddressPart[] = ['all', 'localpart', 'domain', 'user', 'detail'];

/** RFC 7352 leaves the default period to the implementation; Pigeonhole's sieve_duplicate_default_period. */
const DUPLICATE_DEFAULT_SECONDS = 14 * 86400;

export function matchSpec(n: Node, defaultComparator = 'i;ascii-casemap'): MatchSpec {
  const c = n.tags.get('comparator');
  const comparator = c && c.kind === 'string' ? c.value.toLowerCase() : defaultComparator;
  const type = MATCH_TYPES.find((t) => n.tags.has(t)) ?? 'is';
  const r = n.tags.get(type);
  const relation = r && r.kind === 'string' ? r.value.toLowerCase() : 'eq';
  return { comparator, type, relation };
}

function test(frame: Frame, run: RunState, n: Node, values: string[], keys: string[]): boolean {
  let out;
  try {
    out = matchAny(matchSpec(n), values, keys, (k) => run.step(k));
  } catch (e) {
    if (e instanceof MatchError) throw new SieveRuntimeError(e.message);
    throw e;
  }
  if (out.matched && out.captures && frame.has('variables')) run.matchVars = out.captures;
  return out.matched;
}

/** RFC 5260 :index / :last selection among the occurrences of one field. */
function pickIndex<T>(n: Node, items: readonly T[]): readonly T[] {
  const idx = n.tags.get('index');
  if (!idx || idx.kind !== 'number') return items;
  const i = n.tags.has('last') ? items.length - idx.value : idx.value - 1;
  const item = i >= 0 ? items[i] : undefined;
  return item === undefined ? [] : [item];
}

function partOf(n: Node): AddressPart {
  return ADDRESS_PARTS.find((p) => n.tags.has(p)) ?? 'all';
}

function addressValues(n: Node, addrs: ParsedAddress[]): string[] {
  const part = partOf(n);
  const out: string[] = [];
  for (const a of addrs) {
    const v = addressPart(a, part);
    if (v !== null) out.push(v);
  }
  return out;
}

export async function evalTest(frame: Frame, run: RunState, n: Node): Promise<boolean> {
  run.step();
  const msg = run.msg;
  switch (n.name) {
    case 'true':
      return true;
    case 'false':
      return false;
    case 'not':
      return !(await evalTest(frame, run, n.tests[0]!));
    case 'allof':
      for (const t of n.tests) if (!(await evalTest(frame, run, t))) return false;
      return true;
    case 'anyof':
      for (const t of n.tests) if (await evalTest(frame, run, t)) return true;
      return false;
    case 'exists':
      return frame.list(n.args[0]).every((h) => msg.raw(h).length > 0);
    case 'size': {
      const limit = n.args[0]?.kind === 'number' ? n.args[0].value : 0;
      return n.tags.has('over') ? msg.size > limit : msg.size < limit;
    }
    case 'header': {
      const values = frame.list(n.args[0]).flatMap((h) => pickIndex(n, msg.values(h)));
      return test(frame, run, n, values, frame.list(n.args[1]));
    }
    case 'address': {
      const addrs = frame.list(n.args[0]).flatMap((h) => pickIndex(n, msg.rawValues(h)).flatMap(addressesOf));
      return test(frame, run, n, addressValues(n, addrs), frame.list(n.args[1]));
    }
    case 'envelope': {
      const addrs: ParsedAddress[] = [];
      const values: string[] = [];
      for (const p of frame.list(n.args[0])) {
        const path = p.toLowerCase() === 'from' ? run.env.envelope.from : p.toLowerCase() === 'to' ? run.env.envelope.to : run.env.envelope.auth;
        if (path === undefined || path === null) continue;
        const a = envelopeAddress(path);
        // RFC 5228 5.4: the null reverse-path matches "" whatever the address part.
        if (a === null) values.push('');
        else addrs.push(a);
      }
      return test(frame, run, n, [...values, ...addressValues(n, addrs)], frame.list(n.args[1]));
    }
    case 'body':
      return test(frame, run, n, bodyValues(frame, run, n), frame.list(n.args[0]));
    case 'date':
    case 'currentdate': {
      const part = frame.str(n.name === 'date' ? n.args[1] : n.args[0]);
      const keys = frame.list(n.name === 'date' ? n.args[2] : n.args[1]);
      let dates: ZonedDate[];
      if (n.name === 'date') {
        dates = pickIndex(n, msg.values(frame.str(n.args[0])))
          .map((v) => parseDateTime(v))
          .filter((d): d is ZonedDate => d !== null);
      } else dates = [{ utc: run.now.getTime(), offset: 0 }];
      const zoneTag = n.tags.get('zone');
      const values: string[] = [];
      for (const d of dates) {
        let offset = localOffset(d.utc);
        if (zoneTag) offset = parseZone(frame.str(zoneTag)) ?? offset;
        else if (n.tags.has('originalzone')) offset = d.offset;
        const v = datePart({ utc: d.utc, offset }, part);
        if (v !== null) values.push(v);
      }
      return test(frame, run, n, values, keys);
    }
    case 'string': {
      const src = frame.list(n.args[0]);
      return test(frame, run, n, matchSpec(n).type === 'count' ? src.filter((s) => s !== '') : src, frame.list(n.args[1]));
    }
    case 'hasflag': {
      const vars = n.args[0] ? frame.list(n.args[0]) : null;
      const current = vars ? vars.map((v) => frame.get(v) ?? '') : [run.flags];
      return test(frame, run, n, flagList(current), frame.list(n.args[1]));
    }
    case 'mailboxexists': {
      for (const name of frame.list(n.args[0])) if (!(await run.env.mailboxExists(name))) return false;
      return true;
    }
    case 'mailboxidexists': {
      const exists = run.env.mailboxIdExists;
      if (!exists) return false;
      for (const id of frame.list(n.args[0])) if (!(await exists.call(run.env, id))) return false;
      return true;
    }
    case 'environment': {
      const name = frame.str(n.args[0]).toLowerCase();
      const v = environmentItem(run, name);
      return v === null ? false : test(frame, run, n, [v], frame.list(n.args[1]));
    }
    case 'ihave':
      return frame.list(n.args[0]).every((e) => SIEVE_EXTENSIONS.includes(e));
    case 'duplicate':
      return duplicate(frame, run, n);
    case 'spamtest':
    case 'virustest': {
      const value = scoreValue(run, n.name, n.tags.has('percent'));
      return test(frame, run, n, [value], frame.list(n.args[0]));
    }
    default:
      throw new SieveRuntimeError(`unsupported test '${n.name}'`);
  }
}

const ENV_DEFAULTS: Record<string, string> = { location: 'MDA', name: 'mailroom', phase: 'during', version: '0.1.0' };

function environmentItem(run: RunState, name: string): string | null {
  const given = run.env.environment ?? {};
  const v = given[name] ?? ENV_DEFAULTS[name];
  return v === undefined ? null : v;
}

/**
 * RFC 3685 values: "0" when the message was not tested; otherwise spamtest 1..10 (or :percent 0..100) and
 * virustest 1..5, from the score scaled (and truncated) as Pigeonhole's "score" status type does.
 */
function scoreValue(run: RunState, which: string, percent: boolean): string {
  const raw = which === 'spamtest' ? run.env.spamScore : run.env.virusScore;
  if (raw === null || raw === undefined || Number.isNaN(raw)) return '0';
  const max = which === 'spamtest' ? 10 : 5;
  const ratio = Math.min(1, raw / max);
  if (ratio < 0) return '0';
  // Truncation with a small epsilon, exactly as Pigeonhole's ext_spamvirustest_get_score.
  if (percent) return String(Math.floor(ratio * 100 + 0.001));
  return String(Math.floor(ratio * (max - 1) + 1.001));
}

async function duplicate(frame: Frame, run: RunState, n: Node): Promise<boolean> {
  let id: string | null;
  const unique = n.tags.get('uniqueid');
  const header = n.tags.get('header');
  if (unique) id = frame.str(unique);
  else {
    const h = header ? frame.str(header) : 'message-id';
    id = run.msg.values(h)[0] ?? null;
  }
  if (id === null || run.env.duplicate === undefined) return false;
  const handle = n.tags.get('handle');
  const key = handle ? `${frame.str(handle)}:${id}` : id;
  const secs = n.tags.get('seconds');
  const seconds = secs && secs.kind === 'number' ? secs.value : DUPLICATE_DEFAULT_SECONDS;
  return run.env.duplicate.seen(key, seconds);
}
