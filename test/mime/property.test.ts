/**
 * Property tests: the indexer never throws, and its offsets always describe the raw bytes exactly
 * (see checkInvariants), on random bytes, mutated real-shaped messages and generated MIME trees;
 * generated well-formed trees index back to their own structure; offsets agree with
 * @zone-eu/mailsplit, which chunks messages byte-exactly.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { once } from 'node:events';
import fc from 'fast-check';
import { Splitter } from '@zone-eu/mailsplit';
import { indexMessage, findPart, normalizeLineEndings, searchableText, headerFieldsSlice, decodePartBody, UnknownTransferEncodingError } from '../../src/mime/index.js';
import type { MessageIndex, MimePart } from '../../src/mime/types.js';
import { indexMessageWith } from '../../src/mime/parser.js';
import { checkInvariants, matches, mutate, mutationArb, serialize, treeArb } from './generate.js';

const fixtureDir = new URL('../fixtures/mime/', import.meta.url);
const fixtures = readdirSync(fixtureDir)
  .filter((f) => f.endsWith('.eml'))
  .sort()
  .map((f) => readFileSync(new URL(f, fixtureDir)));

/** Every consumer-facing function must also survive whatever index came out. */
function exercise(raw: Buffer, idx: MessageIndex): void {
  searchableText(raw, idx);
  const walk = (p: MimePart): void => {
    headerFieldsSlice(raw, p, ['subject', 'content-type'], false);
    try {
      decodePartBody(raw, p);
    } catch (e) {
      assert.ok(e instanceof UnknownTransferEncodingError);
    }
    for (const c of p.children) walk(c);
    if (p.message) walk(p.message.root);
  };
  walk(idx.root);
  for (const s of ['', '1', '1.1', '2', '1.2.1', '3.1']) findPart(idx, s);
  assert.deepEqual(JSON.parse(JSON.stringify(idx)), idx, 'index survives JSON round trip');
}

describe('indexMessage properties', () => {
  test('random bytes: never throws, invariants hold', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (a) => {
        const raw = Buffer.from(a);
        const idx = indexMessage(raw);
        assert.equal(checkInvariants(raw, idx), null);
        exercise(raw, idx);
      }),
      { numRuns: 300 },
    );
  });

  test('mutated corpus messages: never throws, invariants hold', () => {
    fc.assert(
      fc.property(fc.nat(fixtures.length - 1), mutationArb, fc.boolean(), (i, muts, normalize) => {
        let raw = mutate(fixtures[i]!, muts);
        if (normalize) raw = normalizeLineEndings(raw);
        const idx = indexMessage(raw);
        assert.equal(checkInvariants(raw, idx), null);
        exercise(raw, idx);
      }),
      { numRuns: 400 },
    );
  });

  test('generated trees: index back to their structure; mutated they keep the invariants', () => {
    fc.assert(
      fc.property(treeArb, mutationArb, (tree, muts) => {
        const raw = serialize(tree, ['From: gen@example.com', 'Subject: generated']);
        const idx = indexMessage(raw);
        assert.equal(checkInvariants(raw, idx), null);
        assert.equal(matches(raw, idx.root, tree), null);
        const bad = mutate(raw, muts);
        assert.equal(checkInvariants(bad, indexMessage(bad)), null);
      }),
      { numRuns: 300 },
    );
  });
});

describe('delimiter lookup through "--" line starts gives the same index as the boundary scan', () => {
  test('mutated corpus and generated trees', () => {
    const msgArb = fc.oneof(
      fc.tuple(fc.nat(fixtures.length - 1), mutationArb).map(([i, m]) => mutate(fixtures[i]!, m)),
      fc.tuple(treeArb, mutationArb).map(([t, m]) => mutate(serialize(t, ['Subject: g']), m)),
      fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
    );
    fc.assert(
      fc.property(msgArb, (raw) => {
        assert.deepEqual(indexMessageWith(raw, { dashIndexFrom: 0 }), indexMessage(raw));
      }),
      { numRuns: 400 },
    );
  });

  test('a large nested message takes the indexed path and agrees', () => {
    const big = Buffer.alloc(300 * 1024, 'QUJD\r\n');
    let open = '';
    let close = '';
    for (let k = 0; k < 5; k++) {
      open += `Content-Type: multipart/mixed; boundary=b${k}\r\n\r\n--b${k}\r\n`;
      close = `\r\n--b${k}\r\n\r\nsecond ${k}\r\n--b${k}--` + close;
    }
    const raw = Buffer.concat([Buffer.from(open + 'Content-Type: text/plain\r\n\r\n'), big, Buffer.from(close)]);
    const idx = indexMessage(raw);
    assert.equal(checkInvariants(raw, idx), null);
    assert.deepEqual(indexMessageWith(raw, { dashIndexFrom: Infinity }), idx);
    assert.equal(findPart(idx, '1.1.1.1.1')!.part.octets, big.length);
    assert.equal(idx.root.children.length, 2);
  });
});

interface Chunk {
  kind: 'node' | 'multipart';
  headerStart: number;
  headerEnd: number;
  bodyStart: number;
  bodyEnd: number;
}

/** Node spans as @zone-eu/mailsplit sees them (embedded messages not descended into). */
async function splitSpans(raw: Buffer): Promise<Chunk[]> {
  const out: Chunk[] = [];
  const s = new Splitter({ ignoreEmbedded: true });
  let off = 0;
  let cur: Chunk | null = null;
  s.on('data', (c) => {
    if (c.type === 'node') {
      const len = c.getHeaders().length;
      cur = { kind: c.multipart ? 'multipart' : 'node', headerStart: off, headerEnd: off + len, bodyStart: off + len, bodyEnd: off + len };
      out.push(cur);
      off += len;
    } else {
      if (c.type === 'body' && cur) cur.bodyEnd = off + c.value.length;
      off += c.value.length;
    }
  });
  const done = once(s, 'end'); // rejects on 'error'
  s.end(raw);
  await done;
  assert.equal(off, raw.length, 'mailsplit chunks cover the message');
  return out;
}

function ourSpans(idx: MessageIndex): Chunk[] {
  const out: Chunk[] = [];
  const walk = (p: MimePart): void => {
    out.push({ kind: p.type === 'multipart' ? 'multipart' : 'node', headerStart: p.headerStart, headerEnd: p.headerEnd, bodyStart: p.bodyStart, bodyEnd: p.bodyEnd });
    for (const c of p.children) walk(c);
  };
  walk(idx.root);
  return out;
}

function compare(raw: Buffer, ours: Chunk[], theirs: Chunk[]): void {
  assert.equal(ours.length, theirs.length, 'same number of parts');
  for (let i = 0; i < ours.length; i++) {
    const a = ours[i]!;
    const b = theirs[i]!;
    assert.equal(a.kind, b.kind);
    assert.equal(a.headerStart, b.headerStart, `part ${i} header start`);
    assert.equal(a.headerEnd, b.headerEnd, `part ${i} header end`);
    // mailsplit reports multipart bodies as "data" (preamble, delimiters): compare leaf bodies only.
    if (a.kind === 'node') {
      // Known mailsplit quirk (Dovecot agrees with us): for an empty body followed by a non-final
      // delimiter, mailsplit hands the CRLF that precedes the delimiter to the body. RFC 2046 gives it
      // to the delimiter. Accept exactly that difference and nothing else.
      if (a.bodyStart === a.bodyEnd && b.bodyEnd === a.bodyEnd + 2 && raw.subarray(a.bodyEnd, a.bodyEnd + 4).toString() === '\r\n--') continue;
      assert.equal(a.bodyEnd, b.bodyEnd, `part ${i} body end: ${JSON.stringify(raw.subarray(a.bodyStart, a.bodyEnd).toString())}`);
    }
  }
}

describe('offsets agree with @zone-eu/mailsplit', () => {
  const wellFormed = ['plain.eml', 'alternative.eml', 'mixed-attachment.eml', 'nested-rfc822.eml', 'encoded-words.eml', 'smime-signed.eml', 'calendar.eml', 'rfc2231.eml', 'unterminated.eml'];
  for (const name of wellFormed) {
    test(name, async () => {
      const raw = readFileSync(new URL(name, fixtureDir));
      compare(raw, ourSpans(indexMessage(raw)), await splitSpans(raw));
    });
  }

  test('generated trees', async () => {
    await fc.assert(
      fc.asyncProperty(treeArb, async (tree) => {
        const raw = serialize(tree, ['From: gen@example.com', 'Subject: generated']);
        compare(raw, ourSpans(indexMessage(raw)), await splitSpans(raw));
      }),
      { numRuns: 150 },
    );
  });
});
