/**
 * Dovecot's imaptest in load mode (20 clients over 20 users, random command mix with state tracking, ~25 s)
 * against an in-process mailroom: imaptest prints an `Error:` line for every protocol or consistency error
 * it finds (a FETCH answered NO for a message another session expunged, a FLAGS response leaving out a
 * keyword still in use, wrong EXISTS/EXPUNGE counts, ...). The run must print none. Skipped when the
 * imaptest tool is not installed beside the repository. The five-minute run: bench/imaptest-load.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { imaptestMissing, runImaptestLoad } from '../bench/lib/imaptest-load.js';

const missing = imaptestMissing();

test('imaptest load mode: 20 clients, 20 users, no Error lines', { skip: missing ?? false, timeout: 120_000 }, async () => {
  const r = await runImaptestLoad({ secs: 25, clients: 20, users: 20 });
  assert.deepEqual(r.errors, [], r.output.split('\n').slice(-40).join('\n'));
  assert.equal(r.exitCode, 0, r.output.split('\n').slice(-20).join('\n'));
  assert.match(r.output, /Totals:/);
});
