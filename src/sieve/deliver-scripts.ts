/**
 * Where the Sieve stage gets its compiled scripts:
 * - the user's active script and their personal includes from store.sieve, compiled once per revision
 *   (revisions are never reused, so the cache needs no invalidation) and kept in a bounded LRU map;
 * - the administrator's scripts (config sieve-before, sieve-after: files, or directories whose *.sieve
 *   files run in byte order of their names, as Pigeonhole's file locations do) and the global include
 *   directory (sieve-global, RFC 6609 :global), read from disk and recompiled when a file changes (checked
 *   at most every GLOBAL_RECHECK_MS). A global script that does not compile is logged and skipped.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../lib/logger.js';
import type { SieveStore } from '../store/sieve.js';
import { compileSieve, type CompiledScript } from './index.js';
import { isProgram } from './compile.js';

/** Compiled user scripts kept (by revision). */
export const COMPILED_CACHE_SIZE = 2000;
/**
 * Commands and tests the kept compiled scripts hold together (about 0.5 KB of memory each at most): a user
 * re-uploading a large script (each upload a new revision) must not fill memory with compiled trees.
 */
export const COMPILED_CACHE_NODES = 200_000;
/** How often the administrator's script files are checked for changes. */
export const GLOBAL_RECHECK_MS = 5000;

export interface NamedScript {
  name: string;
  script: CompiledScript;
}

/** An LRU map bounded in entries and in their total weight; an entry heavier than the budget is not kept. */
class Lru<K, V> {
  readonly #map = new Map<K, { v: V; w: number }>();
  #weight = 0;
  constructor(
    readonly max: number,
    readonly maxWeight: number,
    readonly weigh: (v: V) => number,
  ) {}
  get weight(): number {
    return this.#weight;
  }
  has(k: K): boolean {
    return this.#map.has(k);
  }
  get(k: K): V | undefined {
    const e = this.#map.get(k);
    if (e !== undefined) {
      this.#map.delete(k);
      this.#map.set(k, e);
    }
    return e?.v;
  }
  set(k: K, v: V): void {
    this.#drop(k);
    const w = this.weigh(v);
    if (w > this.maxWeight) return;
    this.#map.set(k, { v, w });
    this.#weight += w;
    while (this.#map.size > this.max || this.#weight > this.maxWeight) this.#drop(this.#map.keys().next().value as K);
  }
  #drop(k: K): void {
    const e = this.#map.get(k);
    if (!e) return;
    this.#map.delete(k);
    this.#weight -= e.w;
  }
}

/** The *.sieve files a location names: the file itself, or a directory's *.sieve files in byte order. */
export function scriptFiles(location: string): string[] {
  const st = statSync(location);
  if (!st.isDirectory()) return [location];
  return readdirSync(location)
    .filter((f) => f.endsWith('.sieve'))
    .sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))
    .map((f) => join(location, f));
}

interface FileEntry {
  mtimeMs: number;
  size: number;
  script: CompiledScript | null;
}

/** The administrator's scripts (before/after sequences and global includes), reloaded on change. */
export class GlobalScripts {
  readonly #files = new Map<string, FileEntry>();
  #checked = 0;
  #before: NamedScript[] = [];
  #after: NamedScript[] = [];

  constructor(
    readonly before: readonly string[],
    readonly after: readonly string[],
    readonly globalDir: string | null,
    readonly log: Logger,
  ) {}

  /** The before and after sequences, current as of the last check. */
  sequences(now = Date.now()): { before: NamedScript[]; after: NamedScript[] } {
    if (now - this.#checked >= GLOBAL_RECHECK_MS) {
      this.#checked = now;
      this.#before = this.#load(this.before);
      this.#after = this.#load(this.after);
    }
    return { before: this.#before, after: this.#after };
  }

  /** A script of the global include directory (name without ".sieve"), or null. */
  include(name: string): CompiledScript | null {
    if (!this.globalDir || name.includes('/') || name.includes('\0') || name.startsWith('.')) return null;
    return this.#file(join(this.globalDir, `${name}.sieve`));
  }

  #load(locations: readonly string[]): NamedScript[] {
    const out: NamedScript[] = [];
    for (const loc of locations) {
      let files: string[];
      try {
        files = scriptFiles(loc);
      } catch (e) {
        this.log.error({ location: loc, err: e instanceof Error ? e.message : String(e) }, 'sieve: cannot read global script location');
        continue;
      }
      for (const f of files) {
        const script = this.#file(f);
        if (script) out.push({ name: f, script });
      }
    }
    return out;
  }

  #file(path: string): CompiledScript | null {
    let st;
    try {
      st = statSync(path);
    } catch {
      this.#files.delete(path);
      return null;
    }
    const known = this.#files.get(path);
    if (known && known.mtimeMs === st.mtimeMs && known.size === st.size) return known.script;
    let script: CompiledScript | null = null;
    try {
      const r = compileSieve(readFileSync(path), { name: path });
      if (r.ok) script = r.script;
      else this.log.error({ script: path, errors: r.errors.map((e) => `${e.line}:${e.column}: ${e.message}`) }, 'sieve: global script does not compile; skipped');
    } catch (e) {
      this.log.error({ script: path, err: e instanceof Error ? e.message : String(e) }, 'sieve: global script unreadable; skipped');
    }
    this.#files.set(path, { mtimeMs: st.mtimeMs, size: st.size, script });
    return script;
  }
}

/** The user's scripts from the store, compiled once per revision. */
export class UserScripts {
  readonly #cache = new Lru<number, CompiledScript | { error: string }>(COMPILED_CACHE_SIZE, COMPILED_CACHE_NODES, (s) => ('kind' in s && isProgram(s) ? Math.max(1, s.size) : 1));

  constructor(
    readonly store: SieveStore,
    readonly log: Logger,
  ) {}

  /** Commands and tests held by the cached compiled scripts. */
  get cachedNodes(): number {
    return this.#cache.weight;
  }

  /** True when the compiled script of that revision is cached. */
  isCached(revision: number): boolean {
    return this.#cache.has(revision);
  }

  /**
   * The user's active script compiled, or null (none, or it does not compile: logged once per revision).
   * `known`: its name and revision as just read (SieveStore.deliveryState), else they are read here.
   */
  async active(userId: number, known?: { name: string; revision: number } | null): Promise<NamedScript | null> {
    const rev = known === undefined ? await this.store.activeRevision(userId) : known;
    if (!rev) return null;
    const hit = this.#cache.get(rev.revision);
    if (hit) return 'kind' in hit ? { name: rev.name, script: hit } : null;
    const s = await this.store.getActiveScript(userId);
    if (!s) return null;
    const script = this.#compiled(s.revision, s.name, s.content, userId);
    return script ? { name: s.name, script } : null;
  }

  /** A personal script by name (RFC 6609 :personal include), compiled, or null. */
  async personal(userId: number, name: string): Promise<CompiledScript | null> {
    const s = await this.store.getScript(userId, name);
    return s ? this.#compiled(s.revision, s.name, s.content, userId) : null;
  }

  #compiled(revision: number, name: string, content: string, userId: number): CompiledScript | null {
    const hit = this.#cache.get(revision);
    if (hit) return 'kind' in hit ? hit : null;
    const r = compileSieve(content, { name });
    if (r.ok) {
      this.#cache.set(revision, r.script);
      return r.script;
    }
    const error = r.errors.map((e) => `${e.line}:${e.column}: ${e.message}`).join('; ');
    this.log.error({ userId, script: name, error }, 'sieve: stored script does not compile; keeping messages');
    this.#cache.set(revision, { error });
    return null;
  }
}
