/**
 * `mailroom serve` hardening: LMTP binds loopback unless told otherwise (it takes mail without
 * authentication), and data is created private (directories 0700, files 0600) even under umask 022.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildServeConfig, mailroomOptions } from '../src/cli/serve.js';
import { createMailroom } from '../src/server/mailroom.js';
import { silentLogger } from '../src/lib/logger.js';

test('serve --host 0.0.0.0 still binds LMTP to 127.0.0.1; --lmtp-host / config lmtp-host move it', () => {
  const wide = createMailroom(mailroomOptions(buildServeConfig({ host: '0.0.0.0' }, {}), '/nonexistent', silentLogger));
  assert.equal(wide.bindAddress('lmtp'), '127.0.0.1');
  assert.equal(wide.bindAddress('imap'), '0.0.0.0');
  assert.equal(wide.bindAddress('submission'), '0.0.0.0');
  const flag = createMailroom(mailroomOptions(buildServeConfig({ host: '0.0.0.0', lmtpHost: '::1' }, {}), '/nonexistent', silentLogger));
  assert.equal(flag.bindAddress('lmtp'), '::1');
  const file = createMailroom(mailroomOptions(buildServeConfig({}, { host: '0.0.0.0', 'lmtp-host': '10.0.0.5' }), '/nonexistent', silentLogger));
  assert.equal(file.bindAddress('lmtp'), '10.0.0.5');
  assert.equal(file.bindAddress('pop3'), '0.0.0.0');
});

test('a running LMTP listener is bound to loopback by default', async (t) => {
  const m = createMailroom({ ports: { lmtp: 0, imap: 0 } });
  await m.start();
  t.after(() => m.stop());
  assert.equal(m.listeners.find((l) => l.name === 'lmtp')?.host, '127.0.0.1');
});
