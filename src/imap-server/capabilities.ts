/**
 * The CAPABILITY list. Only what is implemented is advertised; STARTTLS and AUTH= only before login,
 * LOGINDISABLED (RFC 9051 6.2.3) when cleartext authentication is not allowed on this connection;
 * LITERAL- before login and LITERAL+ after (RFC 7888); UNAUTHENTICATE (RFC 8437) only after login.
 */
import type { ServiceContext } from './session.js';

export interface CapabilityState {
  authenticated: boolean;
  secure: boolean;
  loopback: boolean;
  compressed: boolean;
}

/** Extensions ENABLE accepts (RFC 5161, 7162, 6855, 9051). */
export const ENABLEABLE = ['CONDSTORE', 'QRESYNC', 'IMAP4REV2', 'UTF8=ACCEPT'] as const;

export function plaintextAllowed(svc: ServiceContext, st: { secure: boolean; loopback: boolean }): boolean {
  return st.secure || st.loopback || svc.limits.allowPlaintextAuthOffLoopback;
}

export function capabilityList(svc: ServiceContext, st: CapabilityState): string[] {
  // LITERAL- before login, where literals are capped small anyway; LITERAL+ after (RFC 7888).
  const caps = ['IMAP4rev1', 'IMAP4rev2', 'SASL-IR', st.authenticated ? 'LITERAL+' : 'LITERAL-', 'ID', 'ENABLE', 'IDLE'];
  if (!st.authenticated) {
    if (svc.secureContext && !st.secure) caps.push('STARTTLS');
    if (plaintextAllowed(svc, st)) caps.push('AUTH=PLAIN', 'AUTH=LOGIN');
    else caps.push('LOGINDISABLED');
  }
  caps.push(
    'NAMESPACE',
    'UNSELECT',
    'CHILDREN',
    'UIDPLUS',
    'MOVE',
    'CONDSTORE',
    'QRESYNC',
    'SPECIAL-USE',
    'CREATE-SPECIAL-USE',
    'LIST-EXTENDED',
    'LIST-STATUS',
    'ESEARCH',
    'SEARCHRES',
    'SORT',
    'SORT=DISPLAY',
    'ESORT',
    'THREAD=ORDEREDSUBJECT',
    'THREAD=REFERENCES',
    'THREAD=REFS',
    'CONTEXT=SEARCH',
    'CONTEXT=SORT',
    'PARTIAL',
    'STATUS=SIZE',
    'BINARY',
    `APPENDLIMIT=${svc.limits.appendLimit}`,
    'UTF8=ACCEPT',
    'OBJECTID',
    'WITHIN',
    'PREVIEW',
    'SAVEDATE',
    'REPLACE',
    'MULTIAPPEND',
    'CATENATE',
    'URLAUTH',
    'URLAUTH=BINARY',
    'METADATA',
    'METADATA-SERVER',
    'NOTIFY',
  );
  // RFC 4314 (t, e, x, k are the rights beyond RFC 2086) and RFC 8440, when the store keeps ACLs.
  if (svc.acl) caps.push('ACL', 'RIGHTS=texk', 'LIST-MYRIGHTS');
  // RFC 9208: the resources GETQUOTA reports (SETQUOTA is for administrators only: no QUOTASET).
  if (svc.quota) caps.push('QUOTA', 'QUOTA=RES-STORAGE', 'QUOTA=RES-MESSAGE');
  if (st.authenticated) caps.push('UNAUTHENTICATE');
  if (!st.compressed) caps.push('COMPRESS=DEFLATE');
  return caps;
}
