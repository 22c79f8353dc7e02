import type { CompileOptions, CompileResult } from './types.js';

/** Parse and validate `source`; errors carry 1-based line and column and Pigeonhole-style messages. */
export function compileSieve(source: string | Buffer, opts: CompileOptions = {}): CompileResult {
  void source;
  void opts;
  return { ok: false, errors: [{ line: 1, column: 1, message: 'not implemented yet' }] };
}
