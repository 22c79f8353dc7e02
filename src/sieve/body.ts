/**
 * RFC 5173 body test: the strings to compare for :raw (the undecoded body), :content (decoded leaves of
 * the listed types) and :text (the default: text/* leaves, HTML turned into text).
 */
import { decodePartBody, partText } from '../mime/index.js';
import type { MimePart } from '../mime/index.js';
import { safeDecode } from '../mime/headers.js';
import type { Frame, RunState } from './context.js';
import type { Node } from './validate.js';

/** Bound on body text examined per part (Pigeonhole has no limit; a huge part only burns CPU). */
const MAX_PART_TEXT = 4 * 1024 * 1024;

function leaves(p: MimePart, out: MimePart[]): MimePart[] {
  if (p.children.length > 0) for (const c of p.children) leaves(c, out);
  else if (p.message) leaves(p.message.root, out);
  else out.push(p);
  return out;
}

function typeMatches(p: MimePart, wanted: string[]): boolean {
  return wanted.some((w) => {
    const t = w.toLowerCase().trim();
    if (t === '') return true;
    if (!t.includes('/')) return p.type === t;
    return `${p.type}/${p.subtype}` === t;
  });
}

export function bodyValues(frame: Frame, run: RunState, n: Node): string[] {
  if (n.tags.has('raw')) {
    run.step(Math.ceil(run.msg.body.length / 65536));
    return [run.msg.body.toString('utf8')];
  }
  const { raw, index } = run.msg.mime();
  const parts = leaves(index.root, []);
  const content = n.tags.get('content');
  const out: string[] = [];
  for (const p of parts) {
    run.step(Math.ceil(p.octets / 65536) + 1);
    if (content) {
      if (!typeMatches(p, frame.list(content))) continue;
      let bytes: Buffer;
      try {
        bytes = decodePartBody(raw, p, MAX_PART_TEXT);
      } catch {
        bytes = raw.subarray(p.bodyStart, Math.min(p.bodyEnd, p.bodyStart + MAX_PART_TEXT));
      }
      out.push(p.type === 'text' ? safeDecode(bytes, p.params.find(([k]) => k === 'charset')?.[1] ?? 'us-ascii') : bytes.toString('latin1'));
    } else if (p.type === 'text') {
      out.push(partText(raw, p, MAX_PART_TEXT));
    }
  }
  return out;
}
