/**
 * RFC 5256 section 2.1 base subject extraction, used by SORT SUBJECT, THREAD=ORDEREDSUBJECT and the subject
 * merging of THREAD=REFERENCES (section 4, step 5).
 *
 * Contract of `baseSubject(raw)`:
 * - step 1: RFC 2047 encoded words are decoded to Unicode (undecodable words stay as written), tabs, CR and LF
 *   become spaces and runs of spaces collapse to one;
 * - steps 2-6 exactly as the RFC orders them: trailing subj-trailer ("(fwd)" or WSP) repeatedly; leading
 *   subj-leader (`*subj-blob subj-refwd` or WSP) and subj-blob (only when something non-blank remains) until
 *   neither matches; then a whole-subject "[fwd: ... ]" wrapper, after which it starts again at step 2;
 * - the keywords ("re", "fw", "fwd", "[fwd:", "(fwd)") match case-insensitively;
 * - `replyOrForward` is true when a subj-refwd, a "(fwd)" trailer or a "[fwd: ]" wrapper was removed
 *   (RFC 5256 section 4, used by REFERENCES step 5);
 * - the returned subject keeps its case; compare base subjects through `casemap` (i;unicode-casemap).
 * Never throws; null or empty input gives "".
 */
import { decodeMimeWords } from '../mime/decode.js';

export interface BaseSubject {
  subject: string;
  replyOrForward: boolean;
}

const SP = 0x20;
const LBRACKET = 0x5b;
const RBRACKET = 0x5d;
const COLON = 0x3a;

/** Step 1 without the decoding: tabs and line breaks to spaces, runs of spaces to one space. */
function collapseSpaces(s: string): string {
  return s.replace(/[\t\r\n ]+/g, ' ');
}

/** Index just past a subj-blob ("[" *BLOBCHAR "]" *WSP) starting at `i`, or -1. */
function blobEnd(s: string, i: number): number {
  if (s.charCodeAt(i) !== LBRACKET) return -1;
  for (let j = i + 1; j < s.length; j++) {
    const c = s.charCodeAt(j);
    if (c === LBRACKET) return -1;
    if (c === RBRACKET) {
      j++;
      while (s.charCodeAt(j) === SP) j++;
      return j;
    }
  }
  return -1;
}

/** Index just past a subj-refwd (("re" / "fw" ["d"]) *WSP [subj-blob] ":") starting at `i`, or -1. */
function refwdEnd(s: string, i: number): number {
  const c0 = s.charCodeAt(i) | 0x20;
  const c1 = s.charCodeAt(i + 1) | 0x20;
  let j: number;
  if (c0 === 0x72 && c1 === 0x65) j = i + 2; // "re"
  else if (c0 === 0x66 && c1 === 0x77) j = (s.charCodeAt(i + 2) | 0x20) === 0x64 ? i + 3 : i + 2; // "fw", "fwd"
  else return -1;
  while (s.charCodeAt(j) === SP) j++;
  const b = blobEnd(s, j);
  if (b >= 0) j = b;
  return s.charCodeAt(j) === COLON ? j + 1 : -1;
}

/** Index just past a subj-leader of the `*subj-blob subj-refwd` form at the start of `s`, or -1. */
function refwdLeaderEnd(s: string): number {
  let i = 0;
  for (;;) {
    const r = refwdEnd(s, i);
    if (r >= 0) return r;
    const b = blobEnd(s, i);
    if (b < 0) return -1;
    i = b;
  }
}

/** The RFC 5256 base subject of a raw (possibly RFC 2047 encoded) Subject value. */
export function baseSubject(raw: string | null | undefined): BaseSubject {
  if (!raw) return { subject: '', replyOrForward: false };
  let s = collapseSpaces(decodeMimeWords(raw));
  let replyOrForward = false;
  for (;;) {
    // (2) trailing subj-trailer, repeatedly.
    for (;;) {
      if (s.endsWith(' ')) s = s.slice(0, -1);
      else if (s.length >= 5 && s.slice(-5).toLowerCase() === '(fwd)') {
        s = s.slice(0, -5);
        replyOrForward = true;
      } else break;
    }
    // (3)-(5) leading subj-leader, then a subj-blob that leaves a non-empty subj-base, until neither matches.
    for (;;) {
      if (s.charCodeAt(0) === SP) {
        s = s.slice(1);
        continue;
      }
      const leader = refwdLeaderEnd(s);
      if (leader >= 0) {
        s = s.slice(leader);
        replyOrForward = true;
        continue;
      }
      const blob = blobEnd(s, 0);
      if (blob >= 0 && blob < s.length) {
        s = s.slice(blob);
        continue;
      }
      break;
    }
    // (6) a "[fwd:" ... "]" wrapper around the whole subject: unwrap and repeat from (2).
    if (s.length >= 6 && s.endsWith(']') && s.slice(0, 5).toLowerCase() === '[fwd:') {
      s = s.slice(5, -1);
      replyOrForward = true;
      continue;
    }
    return { subject: s, replyOrForward };
  }
}
