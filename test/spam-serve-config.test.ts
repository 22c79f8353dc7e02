/** serve's spam settings: flags and config-file keys reach createMailroom's `spam` option; bad values are refused. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildServeConfig, mailroomOptions } from '../src/cli/serve.js';
import { silentLogger } from '../src/lib/logger.js';

test('spam flags and config keys', () => {
  assert.equal(buildServeConfig({}, {}).spam, undefined, 'defaults: the filter is on with its built-in settings');
  const cfg = buildServeConfig({ spam: 'off', spamThreshold: '0.8', rspamd: 'http://127.0.0.1:11334' }, { 'spam-min-trained': 20, 'spam-junk-mailbox': 'Spam', 'rspamd-password': 'q' });
  assert.deepEqual(cfg.spam, { enabled: false, threshold: 0.8, minTrained: 20, junkMailbox: 'Spam', rspamdUrl: 'http://127.0.0.1:11334', rspamdPassword: 'q' });
  assert.deepEqual(mailroomOptions(cfg, '/tmp/x', silentLogger).spam, cfg.spam);
  assert.equal(buildServeConfig({ spamThreshold: '0.95' }, { 'spam-threshold': 0.5 }).spam?.threshold, 0.95, 'flags win over the file');
  for (const [flags, msg] of [
    [{ spam: 'maybe' }, /invalid --spam: maybe/],
    [{ spamThreshold: '1.5' }, /invalid --spam-threshold/],
    [{ spamThreshold: '0' }, /invalid --spam-threshold/],
    [{ spamMinTrained: '0' }, /invalid --spam-min-trained/],
    [{ spamJunkMailbox: 'inbox' }, /invalid --spam-junk-mailbox/],
    [{ rspamd: 'ftp://x' }, /invalid --rspamd/],
  ] as const) {
    assert.throws(() => buildServeConfig(flags, {}), msg);
  }
});
