/**
 * Tokens as ids (token-ids.ts) give the scores the token strings give: joinTokenIds is the ids of
 * joinTokens (order, failures, the MAX_TOKENS cut), classifyIds equals classify with the same clues, the
 * clue table finds every token it holds and no other, and the filter scores the same with and without the
 * id path (held vocabulary vs per-token reads).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { classify, classifyIds, strongClues, strongest, tokenProbability } from './classify.js';
import { authTokenList, joinTokenIds, joinTokens, MAX_TOKENS, tokenIdParts, tokenParts, type TokenParts } from './tokenize.js';
import { ClueTable, IdSet, idCount, tokenIdList, writeTokenId } from './token-ids.js';
import { SpamFilter } from './filter.js';
import { openStore } from '../store/index.js';
import type { ClassCounts } from '../store/spam.js';
import { spamCorpus } from '../../bench/spam-corpus.js';

function rng(seed: number): () => number {
  let x = seed % 2147483647 || 1;
  return () => (x = (x * 48271) % 2147483647) / 2147483647;
}

test('token ids: stable, distinct for near strings, and the same for the same string', () => {
  const ids = tokenIdList(['a', 'b', 'ab', 'ba', '', 'a', 'é', 'subject:hello', 'subject:hellp']);
  assert.equal(idCount(ids), 9);
  const pair = (k: number): string => `${ids[2 * k]}:${ids[2 * k + 1]}`;
  assert.equal(pair(0), pair(5));
  const seen = new Set([0, 1, 2, 3, 4, 6, 7, 8].map(pair));
  assert.equal(seen.size, 8, 'no two different tokens share an id');
  const one = new Uint32Array(4);
  writeTokenId('ab', one, 1);
  assert.deepEqual([...one], [0, 0, ids[4], ids[5]]);
  // 200,000 distinct tokens: no collision of the 64-bit ids (a 32-bit half alone would collide a few times).
  const all = new Set<string>();
  for (let i = 0; i < 200_000; i++) {
    const id = tokenIdList([`w${i}`]);
    all.add(`${id[0]}:${id[1]}`);
  }
  assert.equal(all.size, 200_000);
});

test('the clue table finds what it holds, overwrites, refuses to overfill', () => {
  const t = new ClueTable(1000);
  for (let i = 0; i < 1000; i++) t.set(`t${i}`, i % 7);
  assert.equal(t.size, 1000);
  for (let i = 0; i < 1000; i++) assert.equal(t.get(`t${i}`), i % 7);
  for (let i = 1000; i < 3000; i++) assert.equal(t.get(`t${i}`), -1);
  t.set('t3', 6);
  assert.equal(t.get('t3'), 6);
  assert.equal(t.size, 1000, 'overwritten, not added');
  const small = new ClueTable(0);
  assert.throws(() => {
    for (let i = 0; i < 100; i++) small.set(`x${i}`, 0);
  }, RangeError);
  assert.equal(new ClueTable(0).get('a'), -1);
});

test('joinTokenIds is the ids of joinTokens, failures and the cut included', () => {
  const p: TokenParts = { head: ['hdr:a', 'hdr:b'], body: ['w1', 'w2'], failed: null };
  const auths = [null, 'mx.test; spf=pass smtp.mailfrom=a.test; dkim=fail header.d=b.test', 'mx.test; none', 'mx.test'];
  const cases: Array<[TokenParts, number]> = [
    [p, 10],
    [p, 3 * 1024 * 1024],
    [{ ...p, failed: 'body' }, 10],
    [{ ...p, failed: 'head' }, 10],
    [{ head: ['msg:empty'], body: [], failed: null }, 0],
    [{ head: Array.from({ length: 2990 }, (_x, i) => `h${i}`), body: ['b1', 'b2', 'b3', 'b4', 'b5', 'b6', 'b7', 'b8', 'b9', 'b10'], failed: 'body' }, 100],
    [{ head: Array.from({ length: 3100 }, (_x, i) => `h${i}`), body: ['b1'], failed: null }, 100],
    [{ head: Array.from({ length: 3100 }, (_x, i) => `h${i}`), body: [], failed: 'head' }, 100],
  ];
  for (const [parts, size] of cases) {
    for (const a of auths) {
      const strings = joinTokens(parts, a, size);
      assert.ok(strings.length <= MAX_TOKENS);
      assert.deepEqual(joinTokenIds(tokenIdParts(parts), a, size), tokenIdList(strings), `${parts.failed} ${size} ${a}`);
      assert.deepEqual(joinTokenIds(tokenIdParts(parts), tokenIdList(authTokenList(a)), size), tokenIdList(strings), 'auth ids made ahead');
    }
  }
  for (const m of spamCorpus(60, 5)) {
    const parts = tokenParts(m.raw);
    const a = 'mx.test; dkim=pass header.d=x.test; spf=pass smtp.mailfrom=x.test; dmarc=pass header.from=x.test';
    assert.deepEqual(joinTokenIds(tokenIdParts(parts), a, m.raw.length), tokenIdList(joinTokens(parts, a, m.raw.length)));
  }
});

test('classifyIds equals classify with the same clues', () => {
  const r = rng(11);
  const totals = { spam: 55, ham: 40 };
  const vocab = new Map<string, ClassCounts | null>();
  for (let i = 0; i < 5000; i++) vocab.set(`t${i}`, i % 97 === 0 ? null : { spam: Math.floor(r() * 40), ham: Math.floor(r() * 40) });
  const clues = strongClues(vocab, totals);
  let strong = 0;
  for (const [t, c] of vocab) if (c && Math.abs(tokenProbability(c, totals) - 0.5) >= 0.1) strong++;
  assert.equal(clues.ids.size, strong);
  for (let k = 0; k < 300; k++) {
    const list = Array.from({ length: Math.floor(r() * 600) }, () => `t${Math.floor(r() * 6000)}`);
    const distinct = [...new Set(list)];
    const viaIds = classifyIds(tokenIdList(distinct), clues);
    assert.deepEqual(viaIds, classify(distinct, { totals, tokens: vocab, clues }));
    assert.deepEqual(viaIds, classify(distinct, { totals, tokens: new Map([...vocab].filter((e): e is [string, ClassCounts] => e[1] !== null)) }));
  }
  assert.deepEqual(classifyIds(new Uint32Array(0), clues), { probability: 0.5, clues: 0 });
});

test('the filter scores the same through ids (held vocabulary) and through strings (per-token reads)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mailroom-spam-ids-'));
  const store = await openStore({ dataDir: dir, fsync: false });
  try {
    const user = await store.directory.createUser('ids@spam.test', '$test$hash');
    const corpus = spamCorpus(160, 21);
    const withIds = new SpamFilter(store, {}, undefined, null);
    for (const m of corpus.slice(0, 100)) await withIds.train(user.id, m.raw, m.spam ? 'spam' : 'ham');
    // A vocabulary bigger than the cache holds whole makes the filter read token by token (strings).
    const spam = new Proxy(store.spam, {
      get: (target, key) => (key === 'vocabulary' ? async (u: number) => ({ ...(await target.counts(u, [])), complete: false }) : Reflect.get(target, key).bind(target)),
    });
    const perToken = new SpamFilter({ mail: store.mail, spam }, {}, undefined, null);
    let junk = 0;
    for (const m of corpus.slice(100)) {
      const auth = 'mx.test; dkim=pass header.d=x.test; spf=pass smtp.mailfrom=x.test';
      const a = await withIds.check(user.id, m.raw, { authResults: auth });
      const b = await perToken.check(user.id, m.raw, { authResults: auth });
      assert.equal(a.tested, true);
      assert.deepEqual(a, b);
      if (a.isSpam) junk++;
    }
    assert.ok(junk > 10 && junk < 50, `${junk} of 60 filed as spam`);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('strongest: the max clues farthest from 0.5, the first of equal ones, in their order', () => {
  const r = rng(5);
  for (let k = 0; k < 300; k++) {
    // Few distinct values: many ties, on both sides of 0.5.
    const clues = Array.from({ length: 1 + Math.floor(r() * 400) }, () => [0.01, 0.2, 0.8, 0.99, 0.35, 0.65, 0.02 + r() * 0.96][Math.floor(r() * 7)]!);
    const max = 1 + Math.floor(r() * 200);
    const ref = clues.map((f, i) => ({ f, i })).sort((a, b) => Math.abs(b.f - 0.5) - Math.abs(a.f - 0.5) || a.i - b.i).slice(0, max).sort((a, b) => a.i - b.i).map((x) => x.f);
    assert.deepEqual(strongest(clues, Math.min(max, clues.length)), ref.slice(0, Math.min(max, clues.length)));
  }
});

test('ids are keyed per process: the same token gets other ids in another process', async () => {
  const { execFileSync } = await import('node:child_process');
  const { fileURLToPath } = await import('node:url');
  const here = fileURLToPath(new URL('./token-ids.ts', import.meta.url));
  const script = `import(${JSON.stringify(here)}).then((m) => console.log(Array.from(m.tokenIdList(['viagra', 'subject:hello'])).join(',')))`;
  const run = (): string => execFileSync(process.execPath, ['--import', 'tsx', '-e', script], { encoding: 'utf8' }).trim();
  const [a, b] = [run(), run()];
  assert.match(a, /^\d+(,\d+){3}$/);
  assert.notEqual(a, b, 'two processes made the same ids');
  // Within one process the ids are stable.
  assert.deepEqual(tokenIdList(['viagra']), tokenIdList(['viagra']));
});

test('an IdSet holds the ids of distinct tokens in the order first added, grows, and is emptied for reuse', () => {
  const set = new IdSet();
  const tokens: string[] = [];
  for (let i = 0; i < 5000; i++) tokens.push(`t${i % 3001}`, `subject:w${i % 7}`);
  for (const t of tokens) set.add(t);
  const distinct = [...new Set(tokens)];
  assert.equal(set.size, distinct.length);
  assert.deepEqual(set.list(), tokenIdList(distinct));
  // A word hashed from its text (capitals made small) has the id of the lower-cased string with the prefix.
  const words = new IdSet();
  words.addRange('subject:', 'xx Hello WORLD', 3, 8, true);
  words.addRange('', 'xx Hello WORLD', 9, 14, true);
  words.add('subject:hello');
  assert.deepEqual(words.list(), tokenIdList(['subject:hello', 'world']));
  const other = new IdSet().add('world');
  assert.deepEqual(words.listWithout(other), tokenIdList(['subject:hello']));
  assert.ok(words.hasAt(tokenIdList(['x', 'world']), 1));
  assert.ok(!words.hasAt(tokenIdList(['x', 'world']), 0));
  set.clear();
  assert.equal(set.size, 0);
  set.add('t1');
  assert.deepEqual(set.list(), tokenIdList(['t1']));
});
