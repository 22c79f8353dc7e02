import type { SieveLimits } from './types.js';

/** Extensions this interpreter implements (the ManageSieve SIEVE capability lists these). */
export const SIEVE_EXTENSIONS: readonly string[] = [
  'fileinto', 'reject', 'ereject', 'envelope', 'encoded-character', 'vacation', 'vacation-seconds',
  'subaddress', 'comparator-i;ascii-numeric', 'relational', 'regex', 'imap4flags', 'copy', 'include',
  'body', 'variables', 'environment', 'mailbox', 'mailboxid', 'date', 'index', 'ihave', 'duplicate',
  'editheader', 'spamtest', 'spamtestplus', 'virustest',
];

export const SIEVE_LIMITS: SieveLimits & { maxScriptSize: number } = {
  /** Dovecot sieve_max_redirects default. */
  maxRedirects: 4,
  /** Dovecot sieve_max_actions default. */
  maxActions: 32,
  /** Bounds CPU per message; the language is loop-free, so this only bites on huge includes/regex. */
  maxSteps: 100_000,
  /** Dovecot sieve_include_max_nesting_depth default. */
  maxIncludeDepth: 10,
  /** Dovecot sieve_include_max_includes default. */
  maxIncludes: 255,
  /** Dovecot sieve_max_script_size default (1 MiB). */
  maxScriptSize: 1024 * 1024,
};
