/**
 * Sieve mail filtering (RFC 5228) with the extensions listed in SIEVE_EXTENSIONS.
 * compileSieve parses and validates a script once (cache the result by script revision); runSieve evaluates
 * it against one message for one recipient. A runtime error or a limit hit never loses a message: the
 * result then carries `errors` and a single keep action.
 */
export type {
  CompiledScript,
  CompileOptions,
  CompileResult,
  SieveAction,
  SieveCompileError,
  SieveDuplicateTracker,
  SieveEnv,
  SieveEnvelope,
  SieveLimits,
  SievePosition,
  SieveResult,
} from './types.js';
export { compileSieve, formatCompileError } from './compile.js';
export { runSieve } from './run.js';
export { SIEVE_EXTENSIONS, SIEVE_LIMITS } from './extensions.js';
