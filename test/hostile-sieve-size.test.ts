/**
 * Scripts dense in commands: a 1 MiB script of 58 000 one-line rules took seconds of one CPU to compile
 * (the event loop blocked meanwhile) and its compiled tree held about 90 MB, kept in the delivery cache for
 * every revision (2000 of them). A script has at most MAX_SCRIPT_NODES commands and tests (PUTSCRIPT,
 * CHECKSCRIPT and SieveScript/validate say so), and the delivery cache is bounded by the commands and tests it
 * holds, not only by the number of scripts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileSieve, formatCompileError } from '../src/sieve/index.js';
import { MAX_SCRIPT_NODES } from '../src/sieve/parser.js';
import { COMPILED_CACHE_NODES, UserScripts } from '../src/sieve/deliver-scripts.js';
import { silentLogger } from '../src/lib/logger.js';
import type { SieveStore } from '../src/store/sieve.js';
import { createManageSieveService } from '../src/managesieve/index.js';
import { startServerFixture, PASSWORD, USER } from './helpers/server-fixture.js';
import { plain, sieveConnect } from './managesieve-helpers.js';

const rule = (i: number): string => `if header :contains "from" "spam${i}@example.com" { discard; }\n`;

test('a script over MAX_SCRIPT_NODES commands and tests is refused with a clear error; one at the limit compiles', () => {
  assert.equal(MAX_SCRIPT_NODES, 10_000);
  // Each rule is one command (if), one test (header) and one command (discard).
  const within = Array.from({ length: Math.floor(MAX_SCRIPT_NODES / 3) }, (_, i) => rule(i)).join('');
  assert.equal(compileSieve(within).ok, true);
  const dense = 'if true { keep; }\n'.repeat(58_000);
  assert.ok(Buffer.byteLength(dense) < 1024 * 1024);
  const r = compileSieve(dense);
  assert.equal(r.ok, false);
  if (!r.ok) assert.match(formatCompileError(r.errors[0]!), /too many commands and tests \(at most 10000\)/);
  // A big string list is one test however long: blocklists stay possible.
  const list = 'if address :is "from" [' + Array.from({ length: 30_000 }, (_, i) => `"spam${i}@example.com"`).join(',') + '] { discard; }';
  assert.equal(compileSieve(list).ok, true);
});

test('ManageSieve PUTSCRIPT and CHECKSCRIPT of a dense 1 MiB script: NO with the reason, and the session goes on', async (t) => {
  const f = await startServerFixture({ prefix: 'mailroom-msieve-size-', fsync: false }, (store, auth) => createManageSieveService({ store, auth }));
  t.after(() => f.close());
  const { c } = await sieveConnect(f.port);
  t.after(() => c.socket.destroy());
  assert.match((await c.cmd(`AUTHENTICATE "PLAIN" "${plain(USER, PASSWORD)}"`)).status, /^OK/);
  const dense = 'if true { keep; }\r\n'.repeat(50_000);
  const size = Buffer.byteLength(dense);
  assert.match((await c.cmd(`PUTSCRIPT "dense" {${size}+}\r\n${dense}`)).status, /^NO .*too many commands and tests/);
  assert.match((await c.cmd(`CHECKSCRIPT {${size}+}\r\n${dense}`)).status, /^NO .*too many commands and tests/);
  const list = (await c.cmd('LISTSCRIPTS'));
  assert.match(list.status, /^OK/);
  assert.deepEqual(list.lines, []);
});

test('the delivery cache holds compiled scripts up to COMPILED_CACHE_NODES commands and tests, then drops the oldest', async () => {
  const nodes = Math.floor(MAX_SCRIPT_NODES / 3) * 3;
  const content = Array.from({ length: nodes / 3 }, (_, i) => rule(i)).join('');
  const store = {
    async getScript(_userId: number, name: string) {
      return { name, revision: Number(name), content, active: false };
    },
  } as unknown as SieveStore;
  const scripts = new UserScripts(store, silentLogger);
  const fit = Math.floor(COMPILED_CACHE_NODES / nodes);
  assert.ok(fit >= 2 && fit < 100, `the cache holds ${fit} scripts of the largest size`);
  for (let i = 1; i <= fit + 1; i++) assert.ok(await scripts.personal(1, String(i)));
  // The newest are cached; the first was dropped to stay within the budget.
  assert.ok(scripts.cachedNodes <= COMPILED_CACHE_NODES, `${scripts.cachedNodes} nodes cached`);
  assert.equal(scripts.isCached(1), false);
  assert.equal(scripts.isCached(fit + 1), true);
});

test('a 100 KB :regex pattern is named by its first 80 characters in errors, at compile time and at run time', async () => {
  const { runSieve } = await import('../src/sieve/index.js');
  const bad = '(' + 'x'.repeat(100_000);
  const c = compileSieve(`require "regex";\nif header :regex "subject" "${bad}" { discard; }`);
  assert.equal(c.ok, false);
  if (!c.ok) {
    assert.ok(c.errors[0]!.message.length < 400, `${c.errors[0]!.message.length} characters`);
    assert.match(c.errors[0]!.message, /^invalid regular expression '\(x{79}\.\.\.' for regex match: /);
  }
  const slow = '((a+)+)+b' + 'c?'.repeat(50_000);
  const ok = compileSieve(`require "regex";\nif header :regex "subject" "${slow}" { discard; }`);
  assert.ok(ok.ok);
  if (!ok.ok) return;
  const r = await runSieve(ok.script, { message: Buffer.from(`Subject: ${'a'.repeat(40)}\r\n\r\nb\r\n`), envelope: { from: 'a@b.example', to: 'c@d.example' }, mailboxExists: async () => true });
  assert.deepEqual(r.actions, [{ type: 'keep', flags: [] }]);
  assert.equal(r.errors.length, 1);
  assert.ok(r.errors[0]!.length < 400, `${r.errors[0]!.length} characters`);
});
