/**
 * Test-only generators: well-formed MIME trees (serialized to CRLF bytes, with the structure they must
 * index to) and helpers to check index invariants. Used by the property tests and the benchmark.
 */
import fc from 'fast-check';
import type { MessageIndex, MimePart } from '../../src/mime/types.js';

export type GenNode =
  | { kind: 'leaf'; type: string; subtype: string; header: boolean; encoding: string | null; body: Buffer }
  | { kind: 'multipart'; subtype: string; preamble: string; epilogue: string; children: GenNode[] }
  | { kind: 'message'; headers: string[]; inner: GenNode };

const bodyLine = fc
  .array(fc.constantFrom(...'abcdefghij KLMNOP0123.,;:!?'.split(''), 'é', 'ß', '\u0000', '\t'), { maxLength: 40 })
  .map((a) => a.join(''));
const bodyArb = fc.array(bodyLine, { maxLength: 6 }).chain((lines) =>
  fc.boolean().map((trailing) => Buffer.from(lines.join('\r\n') + (trailing && lines.length ? '\r\n' : ''), 'utf8')),
);

const leafArb: fc.Arbitrary<GenNode> = fc.record({
  kind: fc.constant('leaf' as const),
  type: fc.constantFrom('text', 'application', 'image'),
  subtype: fc.constantFrom('plain', 'html', 'octet-stream', 'png'),
  header: fc.boolean(),
  encoding: fc.constantFrom(null, '7bit', '8bit', 'base64', 'quoted-printable'),
  body: bodyArb,
});

export const treeArb: fc.Arbitrary<GenNode> = fc.letrec<{ node: GenNode }>((tie) => ({
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leafArb,
    fc.record({
      kind: fc.constant('multipart' as const),
      subtype: fc.constantFrom('mixed', 'alternative', 'related'),
      preamble: fc.constantFrom('', 'This is a multi-part message.', 'pre\r\namble'),
      epilogue: fc.constantFrom('', 'epilogue', '\r\n'),
      children: fc.array(tie('node'), { minLength: 1, maxLength: 4 }),
    }),
    fc.record({
      kind: fc.constant('message' as const),
      headers: fc.constant<string[]>(['From: a@example.com', 'Subject: inner']),
      inner: tie('node'),
    }),
  ),
})).node;

let counter = 0;

/** Serializes a generated node as an entity (header + body). Boundaries are unique per message. */
export function serialize(node: GenNode, topHeaders: string[] = []): Buffer {
  counter = 0;
  return Buffer.from(entity(node, topHeaders));
}

function entity(node: GenNode, extra: string[]): Uint8Array {
  const parts: Buffer[] = [];
  const head = (lines: string[]): void => {
    parts.push(Buffer.from(lines.map((l) => l + '\r\n').join('') + '\r\n'));
  };
  if (node.kind === 'leaf') {
    const lines = [...extra];
    if (node.header || extra.length) lines.push(`Content-Type: ${node.type}/${node.subtype}`);
    if (node.encoding && (node.header || extra.length)) lines.push(`Content-Transfer-Encoding: ${node.encoding}`);
    head(lines);
    parts.push(node.body);
  } else if (node.kind === 'multipart') {
    const b = `=_b${counter++}_x`;
    head([...extra, `Content-Type: multipart/${node.subtype}; boundary="${b}"`]);
    if (node.preamble) parts.push(Buffer.from(node.preamble + '\r\n'));
    for (const c of node.children) {
      parts.push(Buffer.from(`--${b}\r\n`));
      parts.push(Buffer.from(entity(c, [])));
      parts.push(Buffer.from('\r\n'));
    }
    parts.push(Buffer.from(`--${b}--\r\n${node.epilogue}`));
  } else {
    head([...extra, 'Content-Type: message/rfc822']);
    parts.push(Buffer.from(entity(node.inner, node.headers)));
  }
  return Buffer.concat(parts);
}

/** Compares an indexed part with the generated node it came from; returns a problem or null. */
export function matches(raw: Buffer, part: MimePart, node: GenNode): string | null {
  if (node.kind === 'leaf') {
    const hasCt = node.header || part.section === '' || part.headerStart !== part.headerEnd;
    if (node.header && (part.type !== node.type || part.subtype !== node.subtype)) return `${part.section}: type ${part.type}/${part.subtype}`;
    if (!hasCt && part.type !== 'text') return `${part.section}: default type`;
    if (!raw.subarray(part.bodyStart, part.bodyEnd).equals(node.body)) return `${part.section}: body bytes`;
    return null;
  }
  if (node.kind === 'multipart') {
    if (part.type !== 'multipart' || part.subtype !== node.subtype) return `${part.section}: not ${node.subtype}`;
    if (part.children.length !== node.children.length) return `${part.section}: ${part.children.length} children`;
    for (let i = 0; i < node.children.length; i++) {
      const p = matches(raw, part.children[i]!, node.children[i]!);
      if (p) return p;
    }
    return null;
  }
  if (!part.message) return `${part.section}: no message`;
  return matches(raw, part.message.root, node.inner);
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Invariants every index must satisfy, on any input. Returns the first violation or null.
 * - offsets ordered and inside the parent; octets/lines consistent;
 * - multipart children ordered, disjoint, numbered; the bytes between them are exactly boundary
 *   delimiter lines (so header/body/boundary spans re-assemble the parent body byte for byte);
 * - an encapsulated message spans its part's body exactly.
 */
export function checkInvariants(raw: Buffer, idx: MessageIndex): string | null {
  if (idx.size !== raw.length) return 'size';
  if (idx.root.headerStart !== 0 || idx.root.bodyEnd !== raw.length) return 'root span';
  const lf = (s: number, e: number): number => {
    let n = 0;
    for (let i = s; i < e; i++) if (raw[i] === 0x0a) n++;
    return n;
  };
  const visit = (p: MimePart, lo: number, hi: number, childSection: (i: number) => string): string | null => {
    if (!(lo <= p.headerStart && p.headerStart <= p.headerEnd && p.headerEnd === p.bodyStart && p.bodyStart <= p.bodyEnd && p.bodyEnd <= hi)) {
      return `${p.section}: offsets ${p.headerStart} ${p.headerEnd} ${p.bodyStart} ${p.bodyEnd} outside [${lo}, ${hi})`;
    }
    if (p.octets !== p.bodyEnd - p.bodyStart) return `${p.section}: octets`;
    if ((p.type === 'text' || p.message) && p.lines !== lf(p.bodyStart, p.bodyEnd)) return `${p.section}: lines`;
    if (p.type === 'multipart') {
      if (p.children.length === 0) return `${p.section}: multipart without children`;
      const b = p.params.find(([k]) => k === 'boundary')?.[1];
      const synthetic = p.children.length === 1 && p.children[0]!.headerStart === p.bodyStart && p.children[0]!.bodyEnd === p.bodyEnd && p.children[0]!.headerEnd === p.bodyStart;
      let pos = p.bodyStart;
      for (let i = 0; i < p.children.length; i++) {
        const c = p.children[i]!;
        if (c.section !== childSection(i)) return `${c.section}: expected section ${childSection(i)}`;
        if (c.headerStart < pos) return `${c.section}: overlaps previous`;
        if (!synthetic) {
          if (b === undefined) return `${p.section}: children without boundary`;
          const gap = raw.subarray(pos, c.headerStart).toString('latin1');
          // A delimiter line ends with CRLF, or at the end of the enclosing region, whose
          // delimiter's CRLF ends it (then the part after it is empty).
          const eol = c.headerStart === p.bodyEnd && c.bodyEnd === p.bodyEnd ? '(\\r\\n)?' : '\\r\\n';
          const re = i === 0 ? new RegExp(`(^|\\r\\n)--${escapeRe(b)}[ \\t]*${eol}$`) : new RegExp(`^(\\r\\n)?--${escapeRe(b)}[ \\t]*${eol}$`);
          if (!re.test(gap)) return `${c.section}: gap before part is not a delimiter line: ${JSON.stringify(gap.slice(-200))}`;
        }
        const r = visit(c, pos, p.bodyEnd, (k) => `${c.section}.${k + 1}`);
        if (r) return r;
        pos = c.bodyEnd;
      }
      if (!synthetic && pos < p.bodyEnd) {
        const tail = raw.subarray(pos, Math.min(p.bodyEnd, pos + 4 + Buffer.byteLength(b ?? '') + 2)).toString('latin1');
        // A last delimiter without CRLF at the very end of the message ends the last part.
        const endsMessage = p.bodyEnd === raw.length && new RegExp(`^(\\r\\n)?--${escapeRe(b ?? '')}[ \\t]*$`).test(raw.subarray(pos, p.bodyEnd).toString('latin1'));
        if (!tail.startsWith('\r\n--' + b + '--') && !tail.startsWith('--' + b + '--') && !endsMessage) return `${p.section}: tail after last part is not a close delimiter: ${JSON.stringify(tail)}`;
      }
    } else if (p.children.length) return `${p.section}: leaf with children`;
    const isMsg = p.type === 'message' && (p.subtype === 'rfc822' || p.subtype === 'global');
    if (isMsg !== (p.message !== null)) return `${p.section}: message presence`;
    if (p.message) {
      const r = p.message.root;
      if (r.headerStart !== p.bodyStart || r.bodyEnd !== p.bodyEnd) return `${p.section}: encapsulated message span`;
      const x = p.section === '' ? '1' : p.section;
      if (r.section !== x) return `${p.section}: encapsulated root section ${r.section}`;
      return visit(r, p.bodyStart, p.bodyEnd, (k) => `${x}.${k + 1}`);
    }
    return null;
  };
  const problem = visit(idx.root, 0, raw.length, (k) => String(k + 1));
  if (problem) return problem;
  // The spans tile the message: concatenated they are the raw bytes, nothing skipped or repeated.
  let at = 0;
  const pieces: Buffer[] = [];
  for (const t of tiles(idx)) {
    if (t.start !== at) return `tiles: gap or overlap at ${at} (next span starts at ${t.start})`;
    pieces.push(raw.subarray(t.start, t.end));
    at = t.end;
  }
  if (at !== raw.length) return `tiles end at ${at}, message has ${raw.length}`;
  if (!Buffer.concat(pieces).equals(raw)) return 'tiles do not re-assemble the message';
  return null;
}

/**
 * The raw message as consecutive labelled spans, in order: each part's header, then for a multipart
 * the preamble/delimiter/epilogue bytes between its children, for a message part the encapsulated
 * message, for a leaf its body. Re-assembling the spans must give back the raw message exactly.
 */
export function tiles(idx: MessageIndex): Array<{ kind: 'header' | 'body' | 'boundary'; start: number; end: number }> {
  const out: Array<{ kind: 'header' | 'body' | 'boundary'; start: number; end: number }> = [];
  const walk = (p: MimePart): void => {
    out.push({ kind: 'header', start: p.headerStart, end: p.headerEnd });
    if (p.children.length) {
      let pos = p.bodyStart;
      for (const c of p.children) {
        if (c.headerStart > pos) out.push({ kind: 'boundary', start: pos, end: c.headerStart });
        walk(c);
        pos = c.bodyEnd;
      }
      if (p.bodyEnd > pos) out.push({ kind: 'boundary', start: pos, end: p.bodyEnd });
    } else if (p.message) {
      walk(p.message.root);
    } else {
      out.push({ kind: 'body', start: p.bodyStart, end: p.bodyEnd });
    }
  };
  walk(idx.root);
  return out;
}

/** Mutates a message: random byte edits plus inserted CRLFs, boundary-like lines and header-ish text. */
export const mutationArb = fc.array(
  fc.record({
    at: fc.nat(),
    del: fc.nat({ max: 8 }),
    ins: fc.oneof(
      fc.uint8Array({ maxLength: 6 }).map((a) => Buffer.from(a)),
      fc.constantFrom('\r\n', '\r\n\r\n', '--', '\r\n--=_b0_x\r\n', '\r\n--=_b1_x--\r\n', ': ', '\r\n ', '\n', '\r', '\0', 'Content-Type: multipart/mixed; boundary=q\r\n', '--q\r\n').map((s) => Buffer.from(s)),
    ),
  }),
  { maxLength: 8 },
);

export function mutate(raw: Buffer, muts: Array<{ at: number; del: number; ins: Buffer }>): Buffer {
  let b = raw;
  for (const m of muts) {
    const at = b.length ? m.at % (b.length + 1) : 0;
    b = Buffer.concat([b.subarray(0, at), m.ins, b.subarray(Math.min(b.length, at + m.del))]);
  }
  return b;
}
