/**
 * compileSieve: size check, parse, validate. The compiled form is the validated node tree plus the
 * extensions the script requires; it carries no per-run state, so one compiled script serves many runs.
 */
import { SIEVE_EXTENSIONS, SIEVE_LIMITS } from './extensions.js';
import { SieveSyntaxError } from './lexer.js';
import { parseScript } from './parser.js';
import type { CommandNode, TestNode } from './ast.js';
import type { CompiledScript, CompileOptions, CompileResult } from './types.js';
import { Validator, type Node } from './validate.js';

export interface Program extends CompiledScript {
  readonly nodes: Node[];
  readonly required: ReadonlySet<string>;
  /** Commands and tests in the script (what its compiled form weighs, for caches). */
  readonly size: number;
}

function countNodes(list: readonly CommandNode[] | readonly TestNode[]): number {
  let n = 0;
  for (const c of list) n += 1 + countNodes(c.tests) + ('block' in c && c.block ? countNodes(c.block) : 0);
  return n;
}

export function isProgram(s: CompiledScript): s is Program {
  return s.kind === 'sieve-compiled' && Array.isArray((s as Program).nodes);
}

/** Parse and validate `source`; errors carry 1-based line and column and Pigeonhole-style messages. */
export function compileSieve(source: string | Buffer, opts: CompileOptions = {}): CompileResult {
  const max = opts.maxSize ?? SIEVE_LIMITS.maxScriptSize;
  const size = typeof source === 'string' ? Buffer.byteLength(source) : source.length;
  if (size > max) return { ok: false, errors: [{ line: 1, column: 1, message: `script is too large (max ${max} bytes)` }] };
  const text = typeof source === 'string' ? source : source.toString('utf8');
  if (typeof source !== 'string' && Buffer.compare(Buffer.from(text, 'utf8'), source) !== 0) {
    return { ok: false, errors: [{ line: 1, column: 1, message: 'script is not valid UTF-8' }] };
  }
  let tree;
  try {
    tree = parseScript(text);
  } catch (e) {
    if (e instanceof SieveSyntaxError) return { ok: false, errors: [{ ...e.pos, message: e.message }] };
    throw e;
  }
  const v = new Validator(new Set(opts.extensions ?? SIEVE_EXTENSIONS));
  const nodes = v.script(tree);
  if (v.errors.length > 0) return { ok: false, errors: v.errors };
  const script: Program = {
    kind: 'sieve-compiled',
    name: opts.name ?? 'script',
    requires: [...v.required].sort(),
    nodes,
    required: new Set(v.required),
    size: countNodes(tree),
  };
  return { ok: true, script, warnings: v.warnings };
}

/** "line 3: unknown command 'foo'" — the form ManageSieve and the CLI print. */
export function formatCompileError(e: { line: number; column: number; message: string }, severity: 'error' | 'warning' = 'error'): string {
  return `line ${e.line}: ${severity === 'warning' ? 'warning: ' : ''}${e.message}`;
}
