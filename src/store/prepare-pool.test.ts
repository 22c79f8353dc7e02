import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { prepareForStore, preparedOffThread } from './prepare-pool.js';
import { prepareStoredForm } from './message-prep.js';
import { isStoreError } from './types.js';
import { MAX_MESSAGE_SIZE } from '../lib/limits.js';

const FIXTURES = join(import.meta.dirname, '../../test/fixtures/mime');

test('the prepare worker gives exactly what inline preparation gives', async () => {
  const msgs = readdirSync(FIXTURES).map((f) => readFileSync(join(FIXTURES, f)));
  // Bare LF line endings (the worker hands back the rewritten bytes), a big attachment, a tiny message.
  msgs.push(Buffer.from('Subject: bare LF\nFrom: a@b.example\n\n' + 'line\n'.repeat(2000)));
  msgs.push(Buffer.from('Subject: att\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n' + 'QUJD\r\n'.repeat(100_000)));
  msgs.push(Buffer.from('Subject: s\r\n\r\nx\r\n'));
  // A message that is a slice of a bigger buffer: only its bytes may be used.
  const big = Buffer.from('JUNK' + 'Subject: slice\r\n\r\n' + 'y'.repeat(5000) + '\r\nJUNK');
  msgs.push(big.subarray(4, big.length - 4));
  const before = preparedOffThread();
  const got = await Promise.all(msgs.map((m) => prepareForStore(m)));
  const large = msgs.filter((m) => m.length > 1024).length;
  assert.ok(large >= 4);
  assert.equal(preparedOffThread() - before, large, 'every message over 1 KiB went through the worker');
  for (const [i, m] of msgs.entries()) {
    const want = prepareStoredForm(m);
    const g = got[i]!;
    assert.ok(g.data.equals(want.data), `message ${i}: data`);
    assert.deepEqual({ ...g, data: null }, { ...want, data: null }, `message ${i}`);
  }
  assert.equal(got[msgs.length - 4]!.data.includes('\n\n'), false, 'line endings rewritten to CRLF');
});

test('errors keep their StoreError code across the thread boundary', async () => {
  const tooBig = Buffer.alloc(MAX_MESSAGE_SIZE + 1, 0x41);
  await assert.rejects(prepareForStore(tooBig), (e: unknown) => isStoreError(e, 'TOO_BIG'));
});
