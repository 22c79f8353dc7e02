/** Quota sizes and settings on the command line and in the serve config (K/M/G/T are powers of 1024). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatSize, parseCount, parseSetting, parseSize, quotaFlags } from './quota.js';
import { buildServeConfig, parseOnOff } from './serve.js';
import { CliError } from './common.js';

test('sizes: plain octets and K/M/G/T suffixes (powers of 1024), with or without B/iB; bad ones refused', () => {
  assert.equal(parseSize('512', 'x'), 512);
  assert.equal(parseSize('100K', 'x'), 102_400);
  assert.equal(parseSize('100k', 'x'), 102_400);
  assert.equal(parseSize('2M', 'x'), 2 * 1024 * 1024);
  assert.equal(parseSize('2G', 'x'), 2 * 1024 ** 3);
  assert.equal(parseSize('1.5G', 'x'), 1.5 * 1024 ** 3);
  assert.equal(parseSize('1T', 'x'), 1024 ** 4);
  assert.equal(parseSize('10MB', 'x'), 10 * 1024 * 1024);
  assert.equal(parseSize('10 MiB', 'x'), 10 * 1024 * 1024);
  for (const bad of ['', '-1', '2X', 'G', '1e9', '2GG', 'none', '99999999999999999G']) {
    assert.throws(() => parseSize(bad, '--storage'), (e: unknown) => e instanceof CliError && /invalid --storage/.test(e.message), bad);
  }
  assert.equal(parseCount('100000', 'x'), 100_000);
  assert.throws(() => parseCount('1K', '--messages'), CliError);
  assert.equal(formatSize(2 * 1024 ** 3), '2G');
  assert.equal(formatSize(1536), '1.5K');
  assert.equal(formatSize(100), '100');
});

test('per-user settings: none is the server default (null), unlimited is no limit (Infinity)', () => {
  assert.equal(parseSetting('none', 'x', parseSize), null);
  assert.equal(parseSetting('unlimited', 'x', parseSize), Number.POSITIVE_INFINITY);
  assert.equal(parseSetting('3M', 'x', parseSize), 3 * 1024 * 1024);
  assert.deepEqual(quotaFlags('2G', undefined, ''), { storage: 2 * 1024 ** 3 });
  assert.deepEqual(quotaFlags(undefined, 'none', 'quota-'), { messages: null });
  assert.equal(quotaFlags(undefined, undefined, ''), null);
  assert.throws(() => quotaFlags('lots', undefined, 'quota-'), /invalid --quota-storage: lots/);
});

test('serve: quota-storage, quota-messages and quota-full-temporary from flags or the config file', () => {
  assert.deepEqual(buildServeConfig({}, {}).quota, { storage: null, messages: null, fullTemporary: false });
  assert.deepEqual(buildServeConfig({}, { 'quota-storage': '1G', 'quota-messages': 50000, 'quota-full-temporary': 'on' }).quota, {
    storage: 1024 ** 3,
    messages: 50_000,
    fullTemporary: true,
  });
  assert.deepEqual(buildServeConfig({ quotaStorage: '500M' }, { quotaStorage: '1G', quotaMessages: 'none' }).quota, {
    storage: 500 * 1024 * 1024,
    messages: null,
    fullTemporary: false,
  });
  assert.throws(() => buildServeConfig({ quotaStorage: '5Q' }, {}), /invalid --quota-storage/);
  assert.throws(() => buildServeConfig({}, { 'quota-messages': -3 }), /invalid --quota-messages/);
  assert.throws(() => buildServeConfig({}, { 'quota-full-temporary': 'maybe' }), /invalid --quota-full-temporary/);
  assert.equal(parseOnOff('off', 'x'), false);
});
