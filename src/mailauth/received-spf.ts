/**
 * The Received-SPF trace field (RFC 7208 section 9.1) the MX puts beside Authentication-Results: the SPF
 * result of the identity that counts (MAIL FROM; HELO for the null sender, 2.4), a comment explaining it,
 * and the key-value pairs client-ip, envelope-from, helo, receiver and identity.
 *
 *   Received-SPF: pass (mx.example.org: domain of a@example.com designates 192.0.2.1 as permitted sender)
 *    client-ip=192.0.2.1; envelope-from="a@example.com"; helo=mail.example.com; receiver=mx.example.org;
 *    identity=mailfrom
 */

export interface ReceivedSpfInput {
  result: string;
  /** The client's address. */
  ip: string;
  /** The checked identity: the MAIL FROM address, or postmaster@HELO for the null sender. */
  sender: string;
  /** MAIL FROM as given ("" for the null sender). */
  envelopeFrom: string;
  helo: string;
  /** Our host name. */
  receiver: string;
}

const RESULTS = new Set(['pass', 'fail', 'softfail', 'neutral', 'none', 'temperror', 'permerror']);
const DOT_ATOM = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/;

/** A value as dot-atom when it is one, else a quoted-string (RFC 5322 3.2.4); control characters dropped. */
function value(v: string): string {
  const s = v.replace(/[\x00-\x1f\x7f]/g, '');
  return DOT_ATOM.test(s) ? s : `"${s.replace(/[\\"]/g, '\\$&')}"`;
}

/** Text safe inside a comment. */
function commentText(v: string): string {
  return v.replace(/[\x00-\x1f\x7f()\\]/g, '');
}

function explanation(result: string, sender: string, ip: string): string {
  const domain = sender.slice(sender.lastIndexOf('@') + 1);
  switch (result) {
    case 'pass':
      return `domain of ${sender} designates ${ip} as permitted sender`;
    case 'fail':
      return `domain of ${sender} does not designate ${ip} as permitted sender`;
    case 'softfail':
      return `domain of transitioning ${sender} does not designate ${ip} as permitted sender`;
    case 'neutral':
      return `${ip} is neither permitted nor denied by domain of ${sender}`;
    case 'none':
      return `${domain} does not publish an SPF record`;
    case 'permerror':
      return `the SPF record of ${domain} could not be interpreted`;
    default:
      return `error in processing during lookup of ${domain}`;
  }
}

/** The complete field, CRLF-terminated. */
export function receivedSpfField(i: ReceivedSpfInput): string {
  const result = RESULTS.has(i.result) ? i.result : 'temperror';
  const pairs = [
    `client-ip=${value(i.ip)}`,
    ...(i.envelopeFrom ? [`envelope-from=${value(i.envelopeFrom)}`] : []),
    `helo=${value(i.helo || i.ip)}`,
    `receiver=${value(i.receiver)}`,
    `identity=${i.envelopeFrom ? 'mailfrom' : 'helo'}`,
  ];
  return `Received-SPF: ${result} (${commentText(`${i.receiver}: ${explanation(result, i.sender, i.ip)}`)})\r\n ${pairs.join(';\r\n ')}\r\n`;
}
