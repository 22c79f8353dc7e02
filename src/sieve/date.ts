/**
 * RFC 5260 date and currentdate: parsing of RFC 5322 date-time values and the date parts (year ... weekday)
 * in a chosen zone.
 */

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const NAMED_ZONES: Record<string, number> = {
  ut: 0, gmt: 0, z: 0, est: -300, edt: -240, cst: -360, cdt: -300, mst: -420, mdt: -360, pst: -480, pdt: -420,
};

export const DATE_PARTS = ['year', 'month', 'day', 'date', 'julian', 'hour', 'minute', 'second', 'time', 'iso8601', 'std11', 'zone', 'weekday'];

export interface ZonedDate {
  /** Milliseconds since the epoch (UTC). */
  utc: number;
  /** Offset of the zone to present the date in, in minutes east of UTC. */
  offset: number;
}

/** RFC 5322 3.3 date-time (obsolete forms included); null when it cannot be read. */
export function parseDateTime(value: string): ZonedDate | null {
  // RFC 5260 4.1: in a Received field the date follows the last ";".
  const semi = value.lastIndexOf(';');
  const s = (semi >= 0 ? value.slice(semi + 1) : value).replace(/\([^()]*\)/g, ' ').trim();
  const m = /^(?:[A-Za-z]{3},?\s*)?(\d{1,2})\s+([A-Za-z]{3})\s+(\d{2,4})\s+(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([+-]\d{4}|[A-Za-z]{1,5})?/.exec(s);
  if (!m) return null;
  const month = MONTHS.indexOf(m[2]!.toLowerCase());
  if (month < 0) return null;
  let year = Number(m[3]);
  if (m[3]!.length === 2) year += year < 50 ? 2000 : 1900;
  else if (m[3]!.length === 3) year += 1900;
  const day = Number(m[1]);
  const hour = Number(m[4]);
  const minute = Number(m[5]);
  const second = Number(m[6] ?? 0);
  if (day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return null;
  let offset = 0;
  const z = m[7];
  if (z && /^[+-]\d{4}$/.test(z)) {
    const sign = z[0] === '-' ? -1 : 1;
    offset = sign * (Number(z.slice(1, 3)) * 60 + Number(z.slice(3, 5)));
  } else if (z) offset = NAMED_ZONES[z.toLowerCase()] ?? 0;
  const utc = Date.UTC(year, month, day, hour, minute, Math.min(second, 59)) - offset * 60000;
  return Number.isNaN(utc) ? null : { utc, offset };
}

/** "+hhmm" / "-hhmm" to minutes; null when malformed. */
export function parseZone(z: string): number | null {
  const m = /^([+-])(\d{2})(\d{2})$/.exec(z.trim());
  if (!m || Number(m[3]) > 59) return null;
  return (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3]));
}

export function localOffset(utc: number): number {
  return -new Date(utc).getTimezoneOffset();
}

const p2 = (n: number): string => String(n).padStart(2, '0');

function zoneString(offset: number, colon: boolean): string {
  const sign = offset < 0 ? '-' : '+';
  const a = Math.abs(offset);
  return `${sign}${p2(Math.floor(a / 60))}${colon ? ':' : ''}${p2(a % 60)}`;
}

/** The value of one date part (RFC 5260 section 4.2); null for an unknown part. */
export function datePart(d: ZonedDate, part: string): string | null {
  const t = new Date(d.utc + d.offset * 60000);
  const year = String(t.getUTCFullYear()).padStart(4, '0');
  const date = `${year}-${p2(t.getUTCMonth() + 1)}-${p2(t.getUTCDate())}`;
  const time = `${p2(t.getUTCHours())}:${p2(t.getUTCMinutes())}:${p2(t.getUTCSeconds())}`;
  switch (part.toLowerCase()) {
    case 'year':
      return year;
    case 'month':
      return p2(t.getUTCMonth() + 1);
    case 'day':
      return p2(t.getUTCDate());
    case 'date':
      return date;
    case 'julian':
      return String(Math.floor((d.utc + d.offset * 60000) / 86400000) + 40587);
    case 'hour':
      return p2(t.getUTCHours());
    case 'minute':
      return p2(t.getUTCMinutes());
    case 'second':
      return p2(t.getUTCSeconds());
    case 'time':
      return time;
    case 'iso8601':
      return `${date}T${time}${d.offset === 0 ? 'Z' : zoneString(d.offset, true)}`;
    case 'std11':
      return `${DAYS[t.getUTCDay()]}, ${p2(t.getUTCDate())} ${MONTHS[t.getUTCMonth()]![0]!.toUpperCase()}${MONTHS[t.getUTCMonth()]!.slice(1)} ${year} ${time} ${zoneString(d.offset, false)}`;
    case 'zone':
      return zoneString(d.offset, false);
    case 'weekday':
      return String(t.getUTCDay());
    default:
      return null;
  }
}
