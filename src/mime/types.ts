/**
 * The MIME index: computed once at delivery from the raw message (CRLF line endings), stored with the
 * message as JSON, and used by FETCH (ENVELOPE, BODYSTRUCTURE, BODY[section] offsets), SEARCH and the client.
 * Offsets are byte offsets into the stored raw message. Strings are UTF-8 decoded header text, kept raw
 * (RFC 2047 encoded words NOT decoded) where IMAP wants raw values (ENVELOPE, BODYSTRUCTURE).
 */

/** One address of an ENVELOPE address list (RFC 9051 section 7.5.2, "address" structure). */
export interface EnvelopeAddress {
  /** Display name (raw, may contain encoded words) or null. */
  name: string | null;
  /** Source route (obs-route "@a,@b" before the last ':' inside <...>) as written; null in practice. */
  adl: string | null;
  /**
   * Local part. For RFC 5322 group syntax: the start of a group is { mailbox: groupName, host: null }
   * and the end of a group is { mailbox: null, host: null }.
   */
  mailbox: string | null;
  host: string | null;
}

/** ENVELOPE data; null means NIL. Fields are the raw (unfolded) header values. */
export interface Envelope {
  date: string | null;
  subject: string | null;
  from: EnvelopeAddress[] | null;
  /** Defaults to from when the header is absent (RFC 9051). */
  sender: EnvelopeAddress[] | null;
  /** Defaults to from when the header is absent. */
  replyTo: EnvelopeAddress[] | null;
  to: EnvelopeAddress[] | null;
  cc: EnvelopeAddress[] | null;
  bcc: EnvelopeAddress[] | null;
  inReplyTo: string | null;
  messageId: string | null;
}

/** A header value with parameters, e.g. Content-Type or Content-Disposition. Params keep header order. */
export interface ParameterizedValue {
  /** Lowercased value, e.g. "text/plain" split below for Content-Type, "attachment" for disposition. */
  value: string;
  /** [name lowercased, value] in order; RFC 2231 continuations joined and decoded to UTF-8. */
  params: Array<[string, string]>;
  /**
   * Present only when some parameter used RFC 2231 syntax: the params in wire form, continuations
   * joined but not decoded (`["filename*", "utf-8''caf%C3%A9"]`), as Dovecot reports them in
   * BODYSTRUCTURE. A server that must stay 7-bit can send `rawParams ?? params`.
   */
  rawParams?: Array<[string, string]>;
}

export interface MimePart {
  /**
   * IMAP section number: "" for the top-level message, "1", "1.2", ... (RFC 9051 section 6.4.5).
   * The root of an encapsulated message carries the number X of its message/rfc822 part ("1" when the
   * top-level root itself is message/rfc822): it is what X.HEADER / X.TEXT address. A single-part
   * message root is also what "<X>.1" (or "1" at the top level) addresses. Do not resolve sections by
   * comparing this field: use findPart() from src/mime/index.ts, which applies all the rules.
   */
  section: string;
  /** Offset of the first header byte. */
  headerStart: number;
  /**
   * Offset just past the blank line that ends the header; always == bodyStart. When the entity has no
   * blank line at all, the header runs to the end of the entity and the body is empty.
   */
  headerEnd: number;
  bodyStart: number;
  bodyEnd: number;
  /** Lowercased; "text"/"plain" when absent or unparseable. */
  type: string;
  subtype: string;
  /** Content-Type parameters in order, names lowercased (charset defaults to us-ascii for text). */
  params: Array<[string, string]>;
  /** Like ParameterizedValue.rawParams: present only when a Content-Type parameter used RFC 2231 syntax. */
  rawParams?: Array<[string, string]>;
  id: string | null;
  description: string | null;
  /** Content-Transfer-Encoding as written (IMAP reports it uppercased); "7BIT" when absent. */
  encoding: string;
  /** Body size in octets (bodyEnd - bodyStart). */
  octets: number;
  /** Number of lines in the body (text/* and message/rfc822 parts report it in BODYSTRUCTURE). */
  lines: number;
  md5: string | null;
  disposition: ParameterizedValue | null;
  language: string[] | null;
  location: string | null;
  /**
   * Children of a multipart, in order (empty for leaves). A multipart always has at least one child:
   * without a usable boundary the body becomes one header-less text/plain child.
   */
  children: MimePart[];
  /** For message/rfc822 (and message/global): the encapsulated message's envelope and root part. */
  message: { envelope: Envelope; root: MimePart } | null;
}

export interface MessageIndex {
  /** Format version of this structure; bump when it changes so stored indexes can be rebuilt. */
  version: 1;
  /** Total size of the raw message in octets. */
  size: number;
  envelope: Envelope;
  root: MimePart;
}
