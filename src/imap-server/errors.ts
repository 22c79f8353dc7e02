/**
 * IMAP completion results and the one place StoreError codes become IMAP response codes
 * (RFC 5530 response codes).
 */
import { isStoreError, StoreLimitError } from '../store/types.js';

export type Status = 'OK' | 'NO' | 'BAD';

export interface Completion {
  status: Status;
  /** Response code without brackets, e.g. "APPENDUID 1 5". */
  code?: string;
  text: string;
  /** Runs after the tagged reply is written (STARTTLS handshake, COMPRESS, LOGOUT close). */
  after?: () => Promise<void> | void;
}

export function ok(text: string, code?: string): Completion {
  return code === undefined ? { status: 'OK', text } : { status: 'OK', code, text };
}

/** A failure a handler throws; the dispatcher turns it into the tagged reply. */
export class ImapError extends Error {
  readonly status: 'NO' | 'BAD';
  readonly code: string | undefined;
  constructor(status: 'NO' | 'BAD', text: string, code?: string) {
    super(text);
    this.name = 'ImapError';
    this.status = status;
    this.code = code;
  }
}

export function no(text: string, code?: string): ImapError {
  return new ImapError('NO', text, code);
}

export function bad(text: string, code?: string): ImapError {
  return new ImapError('BAD', text, code);
}

/** Maps a StoreError to a tagged NO; null for anything that is not a StoreError. */
export function storeErrorCompletion(e: unknown): Completion | null {
  if (!isStoreError(e)) return null;
  switch (e.code) {
    case 'NOT_FOUND':
      return { status: 'NO', code: 'NONEXISTENT', text: 'Mailbox or message does not exist' };
    case 'EXISTS':
      return { status: 'NO', code: 'ALREADYEXISTS', text: 'Mailbox already exists' };
    case 'TOO_BIG':
      return { status: 'NO', code: 'TOOBIG', text: 'Message too large' };
    case 'OVER_QUOTA':
      return { status: 'NO', code: 'OVERQUOTA', text: 'Quota exceeded' };
    case 'TEMPORARY':
      return { status: 'NO', code: 'UNAVAILABLE', text: 'Temporary failure, try again later' };
    case 'NO_PERM':
      return { status: 'NO', code: 'CANNOT', text: e.message || 'Operation not permitted' };
    case 'HAS_CHILDREN':
      // RFC 9051 6.3.4: a server that does not delete a mailbox with inferiors says NO [HASCHILDREN].
      return { status: 'NO', code: 'HASCHILDREN', text: 'Mailbox has children, delete them first' };
    case 'INVALID':
      // RFC 5530 LIMIT: "such as the number of flags on a single message"
      if (e instanceof StoreLimitError) return { status: 'NO', code: 'LIMIT', text: e.message };
      return { status: 'NO', code: 'CANNOT', text: e.message || 'Invalid name' };
  }
}
