/**
 * Per-run interpreter state: the message view, variables (RFC 5229; per-script locals, RFC 6609 globals),
 * match variables, the imap4flags internal variable, the result, and the step budget.
 */
import type { Program } from './compile.js';
import { MessageView } from './message.js';
import { ResultBuilder, SieveRuntimeError } from './result.js';
import { expandVariables, type VariableScope } from './strings.js';
import type { CompiledScript, SieveEnv, SieveLimits } from './types.js';
import type { Value } from './validate.js';

/** RFC 5229 section 6 leaves sizes to the implementation; Pigeonhole's default is 4096 octets. */
export const MAX_VARIABLE_SIZE = 4096;
/**
 * Variables one scope (a script's locals, or the globals) may hold: Pigeonhole's
 * sieve_variables_max_scope_size default. Unbounded, a 1 MB script of `set "vN" "${big}";` lines held
 * some 200 MB per delivery.
 */
export const MAX_VARIABLES = 255;

/** Sets `name` in `scope`, refusing a new name past MAX_VARIABLES. */
function setBounded(scope: Map<string, string>, name: string, value: string): void {
  if (scope.size >= MAX_VARIABLES && !scope.has(name)) throw new SieveRuntimeError(`set: more than ${MAX_VARIABLES} variables in one scope`);
  scope.set(name, value);
}

export class StopSignal {}
export class ReturnSignal {}

export class Frame implements VariableScope {
  readonly vars = new Map<string, string>();
  readonly globalNames = new Set<string>();
  constructor(readonly program: Program, private readonly run: RunState) {}

  has(ext: string): boolean {
    return this.program.required.has(ext);
  }

  get(name: string): string | undefined {
    const n = name.toLowerCase();
    if (n.startsWith('global.')) return this.run.globals.get(n.slice(7));
    if (this.globalNames.has(n)) return this.run.globals.get(n);
    return this.vars.get(n);
  }

  set(name: string, value: string): void {
    const n = name.toLowerCase();
    const v = truncate(value);
    if (n.startsWith('global.')) setBounded(this.run.globals, n.slice(7), v);
    else if (this.globalNames.has(n)) setBounded(this.run.globals, n, v);
    else setBounded(this.vars, n, v);
  }

  match(i: number): string | undefined {
    return this.run.matchVars[i];
  }

  /** A string argument with variables expanded (when the script requires "variables"). */
  str(v: Value | null | undefined): string {
    if (!v) return '';
    const s = v.kind === 'string' ? v.value : v.kind === 'list' ? (v.values[0] ?? '') : String(v.value);
    return this.has('variables') ? expandVariables(s, this) : s;
  }

  list(v: Value | null | undefined): string[] {
    if (!v) return [];
    const items = v.kind === 'list' ? v.values : v.kind === 'string' ? [v.value] : [String(v.value)];
    return this.has('variables') ? items.map((s) => expandVariables(s, this)) : items;
  }
}

function truncate(s: string): string {
  if (s.length * 3 <= MAX_VARIABLE_SIZE) return s;
  const b = Buffer.from(s);
  if (b.length <= MAX_VARIABLE_SIZE) return s;
  let end = MAX_VARIABLE_SIZE;
  while (end > 0 && (b[end]! & 0xc0) === 0x80) end--;
  return b.subarray(0, end).toString('utf8');
}

export class RunState {
  readonly msg: MessageView;
  readonly result: ResultBuilder;
  readonly globals = new Map<string, string>();
  matchVars: string[] = [];
  /** RFC 5232 internal variable (shared by included scripts, as Pigeonhole does). */
  flags = '';
  steps = 0;
  readonly includeStack: string[] = [];
  readonly includedOnce = new Set<string>();
  /**
   * Scripts this run has included, loaded ("scope:name" -> the script, or null when there is none): a script
   * included again is not read from the store again (a script of 40 000 includes of one 1 MB script read
   * 40 GB per message).
   */
  readonly loadedIncludes = new Map<string, CompiledScript | null>();
  readonly warnings: string[] = [];
  readonly now: Date;

  constructor(readonly env: SieveEnv, readonly limits: SieveLimits) {
    this.msg = new MessageView(env.message);
    this.result = new ResultBuilder(limits);
    this.now = env.now ?? new Date();
  }

  step(n = 1): void {
    this.steps += n;
    if (this.steps > this.limits.maxSteps) throw new SieveRuntimeError(`execution exceeded the step limit (${this.limits.maxSteps})`);
  }
}
