/**
 * RFC 5322 section 3.3 date-time parsing (with the obsolete forms of section 4.3) to milliseconds since the
 * epoch, UTC: the "sent date" of RFC 5256 section 2.2.
 *
 * Contract of `parseMessageDate(s)`:
 * - accepts `[day-of-week ","] day month year hour ":" minute [":" second] [zone]`, case-insensitive month and
 *   day names (three letters or in full), comments anywhere (`(PST)`), any amount of whitespace, a missing
 *   comma after the day name, two-digit years (00-49 mean 20xx, 50-99 mean 19xx) and three-digit years
 *   (+1900), "." as well as ":" between time fields;
 * - zones: `+hhmm` / `-hhmm`, UT, GMT, Z and the US zones EST EDT CST CDT MST MDT PST PDT; any other
 *   alphabetic zone (military letters, unknown names) and a missing zone count as +0000, as section 4.3 says
 *   of the military zones;
 * - returns null when the text is not such a date or a field is out of range (day 1-31 and valid for the
 *   month, hour 0-23, minute 0-59, second 0-60, zone minutes 0-59); callers then use the internal date.
 * Never throws.
 */

const MONTHS: Record<string, number> = {
  jan: 0, feb: 1, mar: 2, apr: 3, may: 4, jun: 5, jul: 6, aug: 7, sep: 8, oct: 9, nov: 10, dec: 11,
  january: 0, february: 1, march: 2, april: 3, june: 5, july: 6, august: 7, september: 8, october: 9,
  november: 10, december: 11, sept: 8,
};

const DAYS = new Set(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun', 'monday', 'tuesday', 'wednesday',
  'thursday', 'friday', 'saturday', 'sunday']);

/** Zone names of RFC 5322 section 4.3, in minutes east of UTC. */
const ZONES: Record<string, number> = {
  ut: 0, gmt: 0, utc: 0, z: 0,
  est: -300, edt: -240, cst: -360, cdt: -300, mst: -420, mdt: -360, pst: -480, pdt: -420,
};

/** Removes (possibly nested) comments; an unclosed comment runs to the end. */
function stripComments(s: string): string {
  if (!s.includes('(')) return s;
  let out = '';
  let depth = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '\\' && depth > 0) {
      i++;
      continue;
    }
    if (c === '(') {
      depth++;
      out += ' ';
    } else if (c === ')' && depth > 0) depth--;
    else if (depth === 0) out += c;
  }
  return out;
}

const DATE_RE =
  /^\s*(?:([a-z]+)\s*,?\s*)?(\d{1,2})\s*[\s-]\s*([a-z]+)\s*[\s-]\s*(\d{2,4})\s+(\d{1,2})\s*[:.]\s*(\d{2})(?:\s*[:.]\s*(\d{2}))?\s*(?:([+-])(\d{2})(\d{2})|([a-z]+))?\s*$/i;

/** Milliseconds since the epoch (UTC) of an RFC 5322 date-time, or null when it cannot be parsed. */
export function parseMessageDate(s: string | null | undefined): number | null {
  if (!s) return null;
  const m = DATE_RE.exec(stripComments(s));
  if (!m) return null;
  const [, dow, dd, mon, yy, hh, mi, ss, sign, zh, zm, zname] = m;
  if (dow !== undefined && !DAYS.has(dow.toLowerCase())) return null;
  const month = MONTHS[(mon ?? '').toLowerCase()];
  if (month === undefined) return null;
  let year = Number(yy);
  if ((yy ?? '').length === 2) year += year < 50 ? 2000 : 1900;
  else if ((yy ?? '').length === 3) year += 1900;
  const day = Number(dd);
  const hour = Number(hh);
  const minute = Number(mi);
  const second = ss === undefined ? 0 : Number(ss);
  if (day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return null;
  let offset = 0;
  if (sign !== undefined) {
    const h = Number(zh);
    const mm = Number(zm);
    if (mm > 59) return null;
    offset = (sign === '-' ? -1 : 1) * (h * 60 + mm);
  } else if (zname !== undefined) {
    offset = ZONES[zname.toLowerCase()] ?? 0;
  }
  if (day > daysInMonth(year, month)) return null;
  const minutes = (daysFromCivil(year, month + 1, day) * 24 + hour) * 60 + minute - offset;
  return (minutes * 60 + Math.min(second, 59)) * 1000;
}

function daysInMonth(year: number, month: number): number {
  if (month === 1) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return month === 3 || month === 5 || month === 8 || month === 10 ? 30 : 31;
}

/** Days since 1970-01-01 of a proleptic Gregorian date (month 1-12), without allocating a Date. */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}
