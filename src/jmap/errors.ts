/**
 * JMAP errors (RFC 8620 3.6): request-level problems (RFC 7807 objects answered with an HTTP 4xx) and
 * method-level errors (an "error" response in place of the method's result). Thrown as values by the
 * method handlers; api.ts turns them into responses.
 */

export const REQUEST_ERROR = 'urn:ietf:params:jmap:error:';

/** A request-level error: unknownCapability, notJSON, notRequest, limit (RFC 8620 3.6.1). */
export class RequestError extends Error {
  constructor(
    readonly type: 'unknownCapability' | 'notJSON' | 'notRequest' | 'limit',
    readonly status: number,
    message: string,
    readonly limit?: string,
  ) {
    super(message);
  }

  toJSON(): Record<string, unknown> {
    return { type: REQUEST_ERROR + this.type, status: this.status, detail: this.message, ...(this.limit ? { limit: this.limit } : {}) };
  }
}

/** The limit error for a request over the user's maxConcurrentRequests (HTTP and WebSocket alike). */
export function tooMany(): RequestError {
  return new RequestError('limit', 400, 'too many concurrent requests', 'maxConcurrentRequests');
}

/** The limit error (HTTP 429) for an EventSource or WebSocket past the user's push connections. */
export function tooManyPush(max: number): RequestError {
  return new RequestError('limit', 429, `at most ${max} push connections (EventSource and WebSocket) per user`, 'maxPushConnections');
}

export type MethodErrorType =
  | 'serverUnavailable'
  | 'serverFail'
  | 'serverPartialFail'
  | 'unknownMethod'
  | 'invalidArguments'
  | 'invalidResultReference'
  | 'forbidden'
  | 'accountNotFound'
  | 'accountNotSupportedByMethod'
  | 'accountReadOnly'
  | 'requestTooLarge'
  | 'cannotCalculateChanges'
  | 'stateMismatch'
  | 'anchorNotFound'
  | 'unsupportedSort'
  | 'unsupportedFilter'
  | 'tooManyChanges'
  | 'fromAccountNotFound'
  | 'fromAccountNotSupportedByMethod';

/** A method-level error (RFC 8620 3.6.2 and the per-method errors of 5.x). */
export class MethodError extends Error {
  constructor(
    readonly type: MethodErrorType,
    description?: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(description ?? type);
  }

  toJSON(): Record<string, unknown> {
    return { type: this.type, ...(this.message !== this.type ? { description: this.message } : {}), ...this.extra };
  }
}

/** A SetError (RFC 8620 5.3) for one record of a /set, /copy or /import. */
export interface SetError {
  type: string;
  description?: string;
  properties?: string[];
  [k: string]: unknown;
}

export function setError(type: string, description?: string, properties?: string[]): SetError {
  return { type, ...(description ? { description } : {}), ...(properties ? { properties } : {}) };
}

/** Throws invalidArguments. */
export function invalid(description: string): never {
  throw new MethodError('invalidArguments', description);
}
