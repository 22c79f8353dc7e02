/**
 * The spam filter's cheaper paths give exactly what the general ones give: the ASCII word scanner and the
 * Unicode expressions, joinTokens' list and a Set union of the same runs, classify() with clues made ahead
 * and from the counts, and the counts cache's clues follow the vocabulary they were made from.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { classify, clueOf, DEFAULT_PARAMS, strongClues, tokenProbability, type ClassifierParams } from './classify.js';
import { joinTokens, tokenize, tokenParts, type TokenParts } from './tokenize.js';
import { regDomain, regDomainOfLabels } from './tokenize-urls.js';
import { CountsCache } from './cache.js';
import type { ClassCounts, SpamCounts } from '../store/spam.js';

const msg = (s: string): Buffer => Buffer.from(s.replace(/\r?\n/g, '\r\n'), 'utf8');

/** Repeatable random numbers in [0, 1) (Park-Miller). */
function rng(seed: number): () => number {
  let x = seed % 2147483647 || 1;
  return () => (x = (x * 48271) % 2147483647) / 2147483647;
}

function randomText(r: () => number, alphabet: string, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += alphabet[Math.floor(r() * alphabet.length)];
  return s;
}

const plain = (subject: string, body: string): Buffer => msg(`From: a@b.example\nSubject: ${subject}\nContent-Type: text/plain; charset=utf-8\n\n${body}\n`);

/** The tokens that are words (no feature prefix), in order. */
const wordTokens = (tokens: string[]): string[] => tokens.filter((t) => !/^[a-z-]+:/.test(t) || /^(?:num|mixed|skip):/.test(t));

test('ASCII text: the word scanner finds what the Unicode expressions find', () => {
  const r = rng(7);
  const alphabets = ["aZ09'-$%_ .,!?:/<>\"\tABCxyz-'", "aZ09'-$%Ab7", 'abcdefghijklmnopqrstuvwxyz0123456789   '];
  for (let k = 0; k < 600; k++) {
    const a = alphabets[k % alphabets.length]!;
    const text = randomText(r, a, 1 + Math.floor(r() * 200)).replace(/[\r\n]/g, ' ');
    // A trailing " \u00e9" sends the same words through the general (Unicode) path; "\u00e9" alone is no word.
    const ascii = wordTokens(tokenize(plain('x', text)));
    const general = wordTokens(tokenize(plain('x', `${text} \u00e9`)));
    assert.deepEqual(ascii, general, JSON.stringify(text));
  }
});

test('ASCII words: digits, mixed, long and trailing punctuation', () => {
  const t = tokenize(plain('Hello', "HELLO World's -- 12345 abc123 x1 a'-' ab-cd- supercalifragilistic 1234567890123 $100% it'"));
  for (const w of ['hello', 'world\'s', 'num:5', 'mixed:abc###', 'ab-cd', 'skip:s 20', 'num:9', '100%']) assert.ok(t.includes(w), w);
  for (const w of ['x1', "a'", 'it', "it'", 'HELLO', '$100%']) assert.ok(!t.includes(w), w);
  assert.ok(t.includes('subject:hello'));
});

/** joinTokens as a Set union (what it computed before its list fast path). */
function unionJoin(p: TokenParts, auth: string | null, size: number): string[] {
  const ref = tokenize(Buffer.alloc(0)); // ['msg:empty']: keeps the reference honest about empty input
  assert.deepEqual(ref, ['msg:empty']);
  const out = new Set<string>(p.head);
  if (size === 0) return [...out];
  if (p.failed === 'head') out.add('tokenizer:error');
  else {
    for (const t of joinTokens({ head: [], body: [], failed: null }, auth, size)) out.add(t);
    for (const t of p.body) out.add(t);
    if (p.failed) out.add('tokenizer:error');
  }
  return [...out].slice(0, 3000);
}

test('tokenParts: runs distinct and disjoint, no token the join adds; joinTokens equals the union', () => {
  const r = rng(11);
  const samples: Buffer[] = [
    msg('Subject: hi\nDKIM-Signature: v=1; d=x.example\n\nauth msg size hdr subject mime url'),
    msg('From: "Bob" <bob@x.example>\nContent-Type: multipart/alternative; boundary=b\n\n--b\nContent-Type: text/html\n\n<a href="http://x.example/a">http://y.example</a> <img src=x>\n--b--\n'),
    msg(`Subject: ${randomText(r, 'abc :;=-', 60)}\n\n${randomText(r, 'abc :;=-@./\nhttp', 800)}`),
    Buffer.from('no header at all'),
    Buffer.alloc(0),
  ];
  for (let k = 0; k < 40; k++) samples.push(plain(randomText(r, 'ab c:d', 20), randomText(r, 'auth:msg=size tokenizer:error ', 300)));
  const auths = [null, '', 'mx.example; none', 'mx.example; dkim=pass header.d=a.example; dkim=pass header.d=a.example; spf=fail smtp.mailfrom=x@y.example', 'mx;\r\n spf=pass; dmarc=pass header.from=q.example'];
  for (const raw of samples) {
    const p = tokenParts(raw);
    assert.equal(new Set(p.head).size, p.head.length);
    assert.equal(new Set(p.body).size, p.body.length);
    const head = new Set(p.head);
    for (const t of p.body) assert.ok(!head.has(t), t);
    for (const t of [...p.head, ...p.body]) assert.ok(raw.length === 0 || (!t.startsWith('auth:') && !t.startsWith('msg:') && t !== 'tokenizer:error'), t);
    for (const a of auths) assert.deepEqual(joinTokens(p, a, raw.length), unionJoin(p, a, raw.length));
  }
  // A failed run and a size past the index limit.
  const p: TokenParts = { head: ['hdr:a', 'hdr:b'], body: ['w1', 'w2'], failed: 'body' };
  assert.deepEqual(joinTokens(p, null, 3 * 1024 * 1024), ['hdr:a', 'hdr:b', 'auth:none', 'msg:huge', 'msg:size:big', 'w1', 'w2', 'tokenizer:error']);
  assert.deepEqual(joinTokens({ ...p, failed: 'head' }, 'mx; spf=pass', 10), ['hdr:a', 'hdr:b', 'tokenizer:error']);
  const many: TokenParts = { head: Array.from({ length: 2000 }, (_x, i) => `hdr:${i}`), body: Array.from({ length: 2000 }, (_x, i) => `w${i}`), failed: null };
  const joined = joinTokens(many, null, 100);
  assert.equal(joined.length, 3000);
  assert.deepEqual(joined, unionJoin(many, null, 100));
});

function vocabulary(r: () => number, n: number): Map<string, ClassCounts> {
  const v = new Map<string, ClassCounts>();
  for (let i = 0; i < n; i++) v.set(`t${i}`, { spam: Math.floor(r() * 30), ham: Math.floor(r() * 30) });
  return v;
}

test('classify: clues made ahead give the same score as the counts; other parameters ignore them', () => {
  const r = rng(3);
  const totals = { spam: 40, ham: 25 };
  const tokens = vocabulary(r, 3000);
  const clues = strongClues(tokens, totals);
  for (const [t, c] of tokens) {
    const f = tokenProbability(c, totals);
    assert.equal(clueOf(clues, t), Math.abs(f - 0.5) >= DEFAULT_PARAMS.minStrength ? f : undefined, t);
  }
  assert.ok(clues.values.length < 900, 'one value per count pair (30 x 30 at most)');
  for (let k = 0; k < 200; k++) {
    const list = Array.from({ length: 1 + Math.floor(r() * 400) }, () => `t${Math.floor(r() * 3500)}`);
    assert.deepEqual(classify(list, { totals, tokens, clues }), classify(list, { totals, tokens }));
  }
  // Made for other parameters: not used (the counts decide).
  const other: ClassifierParams = { ...DEFAULT_PARAMS, minStrength: 0.3 };
  const list = [...tokens.keys()].slice(0, 500);
  assert.deepEqual(classify(list, { totals, tokens, clues }, other), classify(list, { totals, tokens }, other));
  assert.notDeepEqual(classify(list, { totals, tokens }, other), classify(list, { totals, tokens }));
  // Nothing known: no clues, 0.5.
  assert.deepEqual(classify(['zz'], { totals, tokens, clues }), { probability: 0.5, clues: 0 });
});

test('the counts cache: clues come with a whole vocabulary and follow its generation', async () => {
  let generation = 1;
  let vocab = new Map<string, ClassCounts>([['a', { spam: 9, ham: 0 }], ['b', { spam: 0, ham: 9 }], ['c', { spam: 1, ham: 1 }]]);
  const totals = { spam: 10, ham: 10 };
  const store = {
    async counts(_u: number, tokens: readonly string[]): Promise<SpamCounts> {
      const m = new Map<string, ClassCounts>();
      for (const t of tokens) if (vocab.has(t)) m.set(t, vocab.get(t)!);
      return { totals, tokens: m, generation };
    },
    async vocabulary(): Promise<SpamCounts & { complete: boolean }> {
      return { totals, tokens: new Map(vocab), generation, complete: true };
    },
  };
  let now = 0;
  const cache = new CountsCache(store, () => now);
  const first = await cache.lookup(1, ['a', 'b', 'c']);
  assert.equal(first.clues, undefined, 'the first read answers from what it read');
  const held = await cache.lookup(1, ['a', 'b', 'c']);
  assert.equal(held.clues!.ids.size, 2);
  assert.ok(clueOf(held.clues!, 'a')! > 0.5 && clueOf(held.clues!, 'b')! < 0.5);
  assert.equal(clueOf(held.clues!, 'c'), undefined, 'c is no clue');
  assert.equal((await cache.lookup(1, ['a'])).clues, held.clues, 'made once');
  // Trained elsewhere: after the recheck the new vocabulary brings new clues.
  generation = 2;
  vocab = new Map([['a', { spam: 0, ham: 9 }]]);
  now += 20_000;
  await cache.lookup(1, ['a']);
  const fresh = await cache.lookup(1, ['a']);
  assert.notEqual(fresh.clues, held.clues);
  assert.ok(clueOf(fresh.clues!, 'a')! < 0.5, 'a is a ham clue now');
  assert.equal(classify(['a'], fresh).probability < 0.5, true);
  cache.forget(1);
  assert.equal((await cache.lookup(1, ['a'])).clues, undefined, 'forgotten');
});

test('regDomain: the index scan gives what splitting into labels gives, for any dots and label lengths', () => {
  const r = rng(5);
  const hosts = ['', '.', '..', 'a', 'a.b', 'x.co.uk', 'www.example.co.uk', 'a.bb.cc', 'a.bbbb.cc', 'a.bbb.ccc', 'mail.example.com', 'co.uk', '.co.uk', 'a..co.uk', 'a.co.uk.', 'x.y.z.'];
  for (let k = 0; k < 3000; k++) hosts.push(randomText(r, 'ab.cdexyz..', Math.floor(r() * 16)));
  for (const h of hosts) assert.equal(regDomain(h), regDomainOfLabels(h), JSON.stringify(h));
});
