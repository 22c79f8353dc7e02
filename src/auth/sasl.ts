/**
 * SASL mechanism helpers shared by IMAP AUTHENTICATE, POP3 AUTH and SMTP AUTH.
 * PLAIN: RFC 4616. LOGIN: draft-murchison-sasl-login (username then password, each base64).
 */

export interface PlainCredentials {
  authzid: string;
  authcid: string;
  password: string;
}

/** Decodes the base64 PLAIN message; null when malformed (bad base64, wrong number of NULs, empty authcid). */
export function decodeSaslPlain(base64: string): PlainCredentials | null {
  const text = decodeBase64Strict(base64);
  if (text === null) return null;
  const parts = text.toString('utf8').split('\0');
  if (parts.length !== 3) return null;
  const [authzid, authcid, password] = parts as [string, string, string];
  if (!authcid) return null;
  return { authzid, authcid, password };
}

/** Strict base64 decode: null unless the input is well-formed base64 ("=" alone decodes to empty). */
export function decodeBase64Strict(s: string): Buffer | null {
  const t = s.trim();
  if (t === '=' || t === '') return Buffer.alloc(0);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(t) || t.length % 4 !== 0) return null;
  return Buffer.from(t, 'base64');
}

export function encodeSaslPlain(authcid: string, password: string, authzid = ''): string {
  return Buffer.from(`${authzid}\0${authcid}\0${password}`, 'utf8').toString('base64');
}

export const SASL_MECHANISMS = ['PLAIN', 'LOGIN'] as const;
export type SaslMechanism = (typeof SASL_MECHANISMS)[number];
