import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_SPAM_SETTINGS } from '../spam/index.js';
import { SPAM_DEFAULTS } from './serve-options.js';

test("serve's help shows the spam filter's own defaults", () => {
  assert.deepEqual(SPAM_DEFAULTS, { threshold: DEFAULT_SPAM_SETTINGS.threshold, minTrained: DEFAULT_SPAM_SETTINGS.minTrained, junkMailbox: DEFAULT_SPAM_SETTINGS.junkMailbox });
});
