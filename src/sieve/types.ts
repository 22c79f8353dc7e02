/**
 * Public types of the Sieve interpreter (RFC 5228 and extensions). The delivery stage, ManageSieve and the
 * CLI code against these; the internal compiled form is opaque to them.
 */

/** A position in the script source: 1-based line and column. */
export interface SievePosition {
  line: number;
  column: number;
}

export interface SieveCompileError extends SievePosition {
  message: string;
}

export interface CompileOptions {
  /** Extensions the script may require; default: all of SIEVE_EXTENSIONS. */
  extensions?: readonly string[];
  /** Script name (for include loops and messages). */
  name?: string;
  /** Maximum script size in bytes (default SIEVE_LIMITS.maxScriptSize). */
  maxSize?: number;
}

/** A compiled script: the internal form is opaque; cache it by script revision. */
export interface CompiledScript {
  readonly kind: 'sieve-compiled';
  readonly name: string;
  /** Extensions the script requires (sorted, from its `require` commands). */
  readonly requires: readonly string[];
}

export type CompileResult =
  | { ok: true; script: CompiledScript; warnings: SieveCompileError[] }
  | { ok: false; errors: SieveCompileError[] };

export interface SieveEnvelope {
  /** Envelope sender (MAIL FROM), '' for the null sender. */
  from: string;
  /** Envelope recipient of this delivery (RCPT TO). */
  to: string;
  /** Authenticated user of the submission, if any. */
  auth?: string | null;
}

export interface SieveDuplicateTracker {
  /** True when `id` was recorded within the last `seconds`; the delivery side records after success. */
  seen(id: string, seconds: number): Promise<boolean>;
}

export interface SieveLimits {
  /** Redirects per message (Dovecot: 4). */
  maxRedirects: number;
  /** Actions per run. */
  maxActions: number;
  /** Interpreter steps per run (commands + tests evaluated, regex and body matches counted). */
  maxSteps: number;
  /** Include nesting depth (RFC 6609 leaves this to the implementation). */
  maxIncludeDepth: number;
  /** Distinct scripts one run may include (each is loaded once per run, however often it is included). */
  maxIncludes: number;
}

export interface SieveEnv {
  /** The raw message (RFC 5322 bytes, CRLF or LF). */
  message: Buffer;
  envelope: SieveEnvelope;
  /** RFC 5490 mailboxexists and fileinto :create decisions. */
  mailboxExists(name: string): Promise<boolean>;
  /** RFC 9042 mailboxidexists. */
  mailboxIdExists?(id: string): Promise<boolean>;
  /** RFC 3685 spamtest score 0..10, null when no verdict is known. */
  spamScore?: number | null;
  /** RFC 3685 virustest score 1..5 (0 = not tested), null when unknown. */
  virusScore?: number | null;
  /** RFC 7352 duplicate tracker. */
  duplicate?: SieveDuplicateTracker;
  /** RFC 6609 include: the compiled script named `name`, or null when it does not exist. */
  include?(name: string, scope: 'personal' | 'global'): Promise<CompiledScript | null>;
  /** RFC 5183 environment items (domain, host, location, name, phase, version, ...). */
  environment?: Record<string, string>;
  /** Current time (date extension currentdate, vacation). */
  now?: Date;
  /** The user's own addresses (vacation :addresses defaults, loop checks on the delivery side). */
  userAddresses?: readonly string[];
  limits?: Partial<SieveLimits>;
}

export type SieveAction =
  | { type: 'keep'; flags: string[] }
  | { type: 'fileinto'; mailbox: string; flags: string[]; create: boolean; copy: boolean; mailboxId?: string }
  | { type: 'redirect'; address: string; copy: boolean }
  | { type: 'discard' }
  | { type: 'reject'; reason: string; ereject: boolean }
  | {
      type: 'vacation';
      reason: string;
      subject?: string;
      from?: string;
      addresses: string[];
      mime: boolean;
      handle?: string;
      /** Minimum period between replies to one sender, in seconds (:days * 86400 or :seconds). */
      seconds: number;
    };

export interface SieveResult {
  /**
   * In execution order, duplicates collapsed (RFC 5228 2.10.3). When `implicitKeep` is true the last action
   * is the implicit keep: a keep carrying the RFC 5232 internal flags. An explicit `keep` (or fileinto
   * "INBOX") is a keep action too and cancels the implicit one.
   */
  actions: SieveAction[];
  /** The message after editheader changes (the input buffer when unchanged). */
  message: Buffer;
  /** Runtime errors; when non-empty the caller keeps the message (actions is then exactly one keep). */
  errors: string[];
  /** True when the implicit keep is in force (no action cancelled it). */
  implicitKeep: boolean;
}
