/**
 * The ENVELOPE of a message in IMAP syntax (RFC 9051 section 7.5.2, "envelope"), computed once at delivery
 * (the store keeps it opaque: StoreOptions.envelopeText, wired in server/store.ts) so a header overview
 * copies stored text instead of rendering each message. Only envelopes whose every string can be sent as a
 * quoted string to any client are given a text form: 7-bit, no NUL/CR/LF, at most MAX_QUOTED characters
 * (the encoder's switch to literals). Others (8-bit headers, very long values) return null and are rendered
 * per session, where the choice between quoted UTF-8 and a literal depends on what the client enabled.
 */
import type { Envelope, EnvelopeAddress } from '../../mime/types.js';
import { MAX_QUOTED } from './encode.js';

class Unquotable extends Error {}
const UNQUOTABLE = new Unquotable();

function nstring(v: string | null): string {
  if (v === null) return 'NIL';
  if (v.length > MAX_QUOTED) throw UNQUOTABLE;
  let escape = false;
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c === 0 || c === 13 || c === 10 || c > 0x7f) throw UNQUOTABLE;
    if (c === 0x22 || c === 0x5c) escape = true;
  }
  return '"' + (escape ? v.replace(/[\\"]/g, (m) => '\\' + m) : v) + '"';
}

function addresses(list: EnvelopeAddress[] | null): string {
  if (!list || !list.length) return 'NIL';
  // env-from = "(" 1*address ")": addresses follow each other without spaces.
  let s = '(';
  for (const a of list) s += `(${nstring(a.name)} ${nstring(a.adl)} ${nstring(a.mailbox)} ${nstring(a.host)})`;
  return s + ')';
}

/** "(date subject from sender reply-to to cc bcc in-reply-to message-id)", or null (see the header). */
export function envelopeImapText(e: Envelope): string | null {
  try {
    return (
      `(${nstring(e.date)} ${nstring(e.subject)} ${addresses(e.from)} ${addresses(e.sender)} ${addresses(e.replyTo)} ` +
      `${addresses(e.to)} ${addresses(e.cc)} ${addresses(e.bcc)} ${nstring(e.inReplyTo)} ${nstring(e.messageId)})`
    );
  } catch (err) {
    if (err === UNQUOTABLE) return null;
    throw err;
  }
}
