/**
 * The spam filter's accuracy goal on a deterministic slice of the synthetic corpus (bench/spam-corpus.ts;
 * bench/spam-accuracy.ts measures the full 2,000 messages for the README): trained on half through the
 * same training path as Junk moves, checked on the other half through the delivery check. Goal: under
 * 0.5% of ham filed into Junk, over 95% of spam caught.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spamCorpus } from '../bench/spam-corpus.js';
import { measureAccuracy } from '../bench/spam-accuracy.js';

test('synthetic corpus slice: <0.5% ham misfiled, >95% spam caught', async () => {
  const corpus = spamCorpus(800, 11);
  const kinds = new Set(corpus.map((m) => m.kind));
  assert.ok(kinds.size >= 15, `variety: ${[...kinds].join(' ')}`);
  const a = await measureAccuracy(corpus);
  assert.ok(a.tested.ham > 150 && a.tested.spam > 150);
  assert.ok(a.hamMisfiledRate < 0.005, `ham misfiled ${a.hamMisfiled}/${a.tested.ham}`);
  assert.ok(a.spamCaughtRate > 0.95, `spam caught ${a.spamCaught}/${a.tested.spam}; misses by kind ${JSON.stringify(a.errors)}`);
});

test('the corpus is deterministic: a slice equals the same slice of a larger corpus', () => {
  const small = spamCorpus(50, 3);
  const big = spamCorpus(120, 3);
  for (let i = 0; i < small.length; i++) assert.ok(small[i]!.raw.equals(big[i]!.raw));
  assert.ok(!spamCorpus(5, 4)[0]!.raw.equals(small[0]!.raw));
});
