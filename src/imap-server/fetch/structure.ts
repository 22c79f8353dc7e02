/**
 * ENVELOPE, BODY and BODYSTRUCTURE rendering (RFC 9051 section 7.5.2) from the stored MIME index; the
 * message is never re-parsed. Strings are sent raw as stored (encoded words are not decoded), NIL for
 * absent values, media types and subtypes as quoted strings.
 */
import type { Envelope, EnvelopeAddress, MimePart } from '../../mime/types.js';
import type { WireWriter } from '../../imap/wire/encode.js';

export function writeEnvelope(w: WireWriter, e: Envelope): void {
  w.text('(');
  w.nstring(e.date).sp();
  w.nstring(e.subject).sp();
  writeAddresses(w, e.from);
  w.sp();
  writeAddresses(w, e.sender);
  w.sp();
  writeAddresses(w, e.replyTo);
  w.sp();
  writeAddresses(w, e.to);
  w.sp();
  writeAddresses(w, e.cc);
  w.sp();
  writeAddresses(w, e.bcc);
  w.sp();
  w.nstring(e.inReplyTo).sp();
  w.nstring(e.messageId);
  w.text(')');
}

function writeAddresses(w: WireWriter, list: EnvelopeAddress[] | null): void {
  if (!list || !list.length) {
    w.text('NIL');
    return;
  }
  // env-from = "(" 1*address ")": addresses follow each other without spaces (RFC 9051 section 9).
  w.text('(');
  for (const a of list) {
    w.text('(');
    w.nstring(a.name).sp().nstring(a.adl).sp().nstring(a.mailbox).sp().nstring(a.host);
    w.text(')');
  }
  w.text(')');
}

function writeParams(w: WireWriter, params: Array<[string, string]>): void {
  if (!params.length) {
    w.text('NIL');
    return;
  }
  w.list(params, (ww, [k, v]) => {
    ww.string(k).sp().string(v);
  });
}

/**
 * Writes the body structure of `part`. extended=true gives BODYSTRUCTURE (with extension data),
 * false gives BODY.
 */
export function writeBodyStructure(w: WireWriter, part: MimePart, extended: boolean): void {
  w.text('(');
  if (part.type === 'multipart' && part.children.length) {
    for (const c of part.children) writeBodyStructure(w, c, extended);
    w.sp().string(part.subtype);
    if (extended) {
      w.sp();
      writeParams(w, part.rawParams ?? part.params);
      w.sp();
      writeExtensionTail(w, part);
    }
    w.text(')');
    return;
  }
  // A multipart without children is reported as an empty text/plain-like leaf would be odd; report its own type.
  w.string(part.type).sp().string(part.subtype).sp();
  // RFC 2231 parameters go out in their wire form (as Dovecot does), which keeps BODYSTRUCTURE 7-bit.
  writeParams(w, part.rawParams ?? part.params);
  w.sp().nstring(part.id).sp().nstring(part.description).sp().string(encodingName(part.encoding)).sp().text(String(part.octets));
  if (part.message && part.type === 'message') {
    w.sp();
    writeEnvelope(w, part.message.envelope);
    w.sp();
    writeBodyStructure(w, part.message.root, extended);
    w.sp().text(String(part.lines));
  } else if (part.type === 'text') {
    w.sp().text(String(part.lines));
  }
  if (extended) {
    w.sp().nstring(part.md5).sp();
    writeExtensionTail(w, part);
  }
  w.text(')');
}

/**
 * body-fld-enc: the Content-Transfer-Encoding as written (Dovecot does the same; the grammar is
 * case-insensitive), "7bit" when the header is absent (the index records that as "7BIT").
 */
function encodingName(enc: string): string {
  return enc === '7BIT' || enc === '' ? '7bit' : enc;
}

/** body-fld-dsp SP body-fld-lang SP body-fld-loc */
function writeExtensionTail(w: WireWriter, part: MimePart): void {
  if (part.disposition) {
    w.text('(').string(part.disposition.value).sp();
    writeParams(w, part.disposition.rawParams ?? part.disposition.params);
    w.text(')');
  } else w.text('NIL');
  w.sp();
  if (!part.language || !part.language.length) w.text('NIL');
  else if (part.language.length === 1) w.string(part.language[0]!);
  else w.list(part.language, (ww, l) => ww.string(l));
  w.sp().nstring(part.location);
}
