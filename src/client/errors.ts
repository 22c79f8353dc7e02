/**
 * Client errors are values with stable codes; the CLI prints `message` as one line and exits non-zero.
 * Codes: AUTH (wrong user or password), UNREACHABLE (DNS, refused, timeout), TLS (certificate or handshake),
 * CAPABILITY (the server lacks something the account needs), PROTOCOL (the server said something we cannot
 * use), CONFIG (bad account settings or arguments), NOT_FOUND (no such account/message/folder),
 * CREDENTIALS (the password source failed), NETWORK (connection dropped mid-session), TEMPORARY (the server
 * is busy or its mailbox locked: POP3 -ERR [IN-USE], [LOGIN-DELAY], [SYS/TEMP] of RFC 2449/3206, IMAP NO
 * [UNAVAILABLE] or [INUSE] of RFC 5530; retry later, the password was not judged wrong).
 */
export type ClientErrorCode =
  | 'AUTH'
  | 'UNREACHABLE'
  | 'TLS'
  | 'CAPABILITY'
  | 'PROTOCOL'
  | 'CONFIG'
  | 'NOT_FOUND'
  | 'CREDENTIALS'
  | 'NETWORK'
  | 'TEMPORARY';

export class ClientError extends Error {
  readonly code: ClientErrorCode;
  constructor(code: ClientErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ClientError';
    this.code = code;
  }
}

const TLS_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_GET_ISSUER_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'ERR_SSL_WRONG_VERSION_NUMBER',
  'EPROTO',
]);
const NET_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'CONNECT_TIMEOUT', 'GREETING_TIMEOUT']);

function errCode(err: unknown): string | undefined {
  if (err && typeof err === 'object' && 'code' in err) {
    const c = (err as { code: unknown }).code;
    return typeof c === 'string' ? c : undefined;
  }
  return undefined;
}

/**
 * Maps a low-level error (socket, TLS, imapflow, nodemailer) to a ClientError with a one-line message.
 * `where` names the server ("imap.example.org:993").
 */
export function classifyError(err: unknown, where: string): ClientError {
  if (err instanceof ClientError) return err;
  const code = errCode(err);
  const cause = err && typeof err === 'object' && 'cause' in err ? (err as { cause: unknown }).cause : undefined;
  const causeCode = errCode(cause);
  const msg = err instanceof Error ? err.message : String(err);
  const anyCode = [code, causeCode].filter((c): c is string => typeof c === 'string');
  if (anyCode.some((c) => TLS_CODES.has(c)) || /certificate|self[- ]signed|ssl|tls/i.test(msg)) {
    return new ClientError(
      'TLS',
      `TLS certificate problem with ${where}: ${msg.split('\n')[0]} (to trust the server's certificate or CA: mailroom client account set NAME --ca-file FILE)`,
      { cause: err },
    );
  }
  if (anyCode.some((c) => NET_CODES.has(c))) {
    return new ClientError('UNREACHABLE', `cannot reach ${where}: ${code ?? causeCode ?? msg}`, { cause: err });
  }
  if (code === 'LineTooLarge' || code === 'LiteralTooLarge' || code === 'ResponseTooLarge') {
    return new ClientError('PROTOCOL', `${where} sent a response over the client's limits, connection closed: ${msg.split('\n')[0]}`, { cause: err });
  }
  if (code === 'ClosedAfterConnectText' || code === 'ClosedAfterConnectTLS') {
    return new ClientError('NETWORK', `${where} closed the connection before it could be used (${msg})`, { cause: err });
  }
  const imapCode = err && typeof err === 'object' && 'serverResponseCode' in err ? String((err as { serverResponseCode: unknown }).serverResponseCode).toUpperCase() : '';
  if (imapCode === 'UNAVAILABLE' || imapCode === 'INUSE') {
    const text = err && typeof err === 'object' && 'response' in err ? String((err as { response: unknown }).response) : msg;
    return new ClientError('TEMPORARY', `${where} cannot serve the account right now, try again later: ${text.split('\n')[0]}`, { cause: err });
  }
  const authFailed =
    (err && typeof err === 'object' && 'authenticationFailed' in err && (err as { authenticationFailed: unknown }).authenticationFailed === true) ||
    code === 'EAUTH' ||
    /authenticat|invalid credentials|login failed/i.test(msg);
  if (authFailed) return new ClientError('AUTH', `login to ${where} failed: wrong user name or password`, { cause: err });
  if (code === 'ECONNRESET' || code === 'EPIPE' || code === 'NoConnection' || /connection (closed|not available)|socket closed/i.test(msg)) {
    return new ClientError('NETWORK', `connection to ${where} was lost: ${msg}`, { cause: err });
  }
  return new ClientError('PROTOCOL', `${where}: ${msg.split('\n')[0]}`, { cause: err });
}
