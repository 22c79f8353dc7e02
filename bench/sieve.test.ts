/**
 * Smoke run of the Sieve delivery bench (bench/sieve.ts) at a tiny size: it runs, reports both rates and the
 * time per stage, and every message is stored once where the 100-rule script puts it. The ratio goal itself
 * is checked by `npm run bench -- sieve`, not here (a shared machine's load makes small runs noisy).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sieveBench, ruleScript } from './sieve.js';
import { compileSieve } from '../src/sieve/index.js';

test('the bench script of 100 rules compiles', () => {
  const r = compileSieve(ruleScript(100));
  assert.ok(r.ok, JSON.stringify(!r.ok && r.errors[0]));
  assert.equal(ruleScript(100).split('\r\n').filter((l) => l.startsWith('if ')).length, 100);
});

test('sieve bench smoke: both rates, stored copies consistent', { timeout: 60_000 }, async () => {
  let out = '';
  const r = await sieveBench(['--messages', '20', '--runs', '1', '--senders', '4', '--no-fsync', '--min-ratio', '0'], (t) => (out += t));
  assert.match(out, /median: without script \d+ msg\/s, with 100-rule script \d+ msg\/s/);
  assert.match(out, /stage sieve sieve@bench\.test: [\d.]+ ms per message/);
  assert.equal(r.consistent, true);
  assert.ok(r.plainMsgPerSec > 0 && r.sieveMsgPerSec > 0);
  assert.equal(r.stored.sieveLists, 4, 'one message in ten is list mail, filed by the last rule');
  assert.notEqual(process.exitCode, 1);
});
