/** Argument checks shared by the JMAP methods; each throws invalidArguments naming the argument. */
import { invalid, MethodError } from './errors.js';
import { LIMITS, type Args, type Call } from './api.js';

export function optBool(args: Args, name: string, dflt: boolean): boolean {
  const v = args[name];
  if (v === undefined || v === null) return dflt;
  if (typeof v !== 'boolean') invalid(`${name} must be a boolean`);
  return v;
}

export function optUint(args: Args, name: string, dflt: number | null): number | null {
  const v = args[name];
  if (v === undefined || v === null) return dflt;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 2 ** 53 - 1) invalid(`${name} must be an unsigned integer`);
  return v;
}

export function optInt(args: Args, name: string, dflt: number): number {
  const v = args[name];
  if (v === undefined || v === null) return dflt;
  if (typeof v !== 'number' || !Number.isInteger(v) || Math.abs(v) > 2 ** 53 - 1) invalid(`${name} must be an integer`);
  return v;
}

export function optString(args: Args, name: string): string | null {
  const v = args[name];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string') invalid(`${name} must be a string`);
  return v;
}

export function reqString(args: Args, name: string): string {
  const v = args[name];
  if (typeof v !== 'string') invalid(`${name} is required and must be a string`);
  return v;
}

export function optStrings(args: Args, name: string): string[] | null {
  const v = args[name];
  if (v === undefined || v === null) return null;
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) invalid(`${name} must be an array of strings`);
  return v as string[];
}

export function optObject(args: Args, name: string): Record<string, unknown> | null {
  const v = args[name];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'object' || Array.isArray(v)) invalid(`${name} must be an object`);
  return v as Record<string, unknown>;
}

/** Most comparators one /query may give: there are nine sort properties, and each comparator costs every comparison. */
export const MAX_COMPARATORS = 16;

/**
 * The sort argument of a /query (RFC 8620 5.5): absent or null gives null; otherwise an array of at most
 * MAX_COMPARATORS objects, each with a string "property" (the method checks which ones it supports).
 */
export function comparators(args: Args): Array<Record<string, unknown> & { property: string }> | null {
  const sort = args['sort'];
  if (sort === undefined || sort === null) return null;
  if (!Array.isArray(sort)) invalid('sort must be an array');
  if (sort.length > MAX_COMPARATORS) invalid(`at most ${MAX_COMPARATORS} comparators in sort`);
  for (const c of sort) {
    if (typeof c !== 'object' || c === null || Array.isArray(c)) invalid('a comparator must be an object');
    if (typeof (c as Record<string, unknown>)['property'] !== 'string') invalid('a comparator needs a property');
  }
  return sort as Array<Record<string, unknown> & { property: string }>;
}

/** Resolves "#creationId" references to ids created earlier in the request (RFC 8620 5.3). */
export function resolveId(call: Call, id: string): string {
  if (id.startsWith('#')) return call.createdIds.get(id.slice(1)) ?? id;
  return id;
}

/** The ids argument of a /get: null (all) or at most maxObjectsInGet ids. */
export function getIds(args: Args, call: Call): string[] | null {
  const ids = optStrings(args, 'ids');
  if (ids === null) return null;
  if (ids.length > LIMITS.maxObjectsInGet) throw new MethodError('requestTooLarge', `at most ${LIMITS.maxObjectsInGet} ids per /get`);
  return ids.map((i) => resolveId(call, i));
}

/** The properties argument of a /get checked against the known ones. */
export function getProperties(args: Args, known: ReadonlySet<string>, dflt: readonly string[], extra?: (p: string) => boolean): string[] {
  const props = optStrings(args, 'properties');
  if (props === null) return [...dflt];
  for (const p of props) if (!known.has(p) && !(extra && extra(p))) invalid(`unknown property ${p}`);
  return props.includes('id') ? props : ['id', ...props];
}

/** Checks the common /set size limit. */
export function checkSetSize(args: Args): void {
  let n = 0;
  const c = args['create'];
  const u = args['update'];
  const d = args['destroy'];
  if (c !== undefined && c !== null && (typeof c !== 'object' || Array.isArray(c))) invalid('create must be an object');
  if (u !== undefined && u !== null && (typeof u !== 'object' || Array.isArray(u))) invalid('update must be an object');
  if (d !== undefined && d !== null && (!Array.isArray(d) || !d.every((x) => typeof x === 'string'))) invalid('destroy must be an array of ids');
  n += c ? Object.keys(c).length : 0;
  n += u ? Object.keys(u).length : 0;
  n += Array.isArray(d) ? d.length : 0;
  if (n > LIMITS.maxObjectsInSet) throw new MethodError('requestTooLarge', `at most ${LIMITS.maxObjectsInSet} objects per /set`);
}

/** Applies a PatchObject (RFC 8620 5.3) to a plain JSON object; throws a description on a bad path. */
export function applyPatch(obj: Record<string, unknown>, patch: Record<string, unknown>): Record<string, unknown> {
  const out = structuredClone(obj);
  for (const [path, value] of Object.entries(patch)) {
    const tokens = path.split('/').map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
    let target: Record<string, unknown> = out;
    for (let i = 0; i < tokens.length - 1; i++) {
      const next = target[tokens[i]!];
      if (typeof next !== 'object' || next === null || Array.isArray(next)) throw new Error(`patch path ${path} does not resolve`);
      target = next as Record<string, unknown>;
    }
    const last = tokens[tokens.length - 1]!;
    if (value === null) delete target[last];
    else target[last] = value;
  }
  return out;
}
