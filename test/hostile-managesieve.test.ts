/**
 * Hostile input over raw ManageSieve sockets: each attack gets NO (or BYE past the bad-command limit), and
 * afterwards a normal client still logs in and lists its scripts.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createManageSieveService, type ManageSieveService } from '../src/managesieve/index.js';
import { startServerFixture, PASSWORD, USER, type ServerFixture } from './helpers/server-fixture.js';
import { plain, sieveConnect, type SieveClient } from './managesieve-helpers.js';

let f: ServerFixture<ManageSieveService>;

before(async () => {
  f = await startServerFixture({ prefix: 'mailroom-msieve-hostile-', fsync: false }, (store, auth) =>
    createManageSieveService({ store, auth, quota: { maxScripts: 3, maxScriptSize: 2000, maxStorage: 5000 }, maxLine: 1024 }),
  );
});
after(async () => {
  await f.close();
});

async function login(): Promise<SieveClient> {
  const { c } = await sieveConnect(f.port);
  assert.match((await c.cmd(`AUTHENTICATE "PLAIN" "${plain(USER, PASSWORD)}"`)).status, /^OK/);
  return c;
}

async function stillServes(): Promise<void> {
  const c = await login();
  assert.match((await c.cmd('LISTSCRIPTS')).status, /^OK/);
  c.socket.destroy();
}

test('a literal far over the limit is answered at once, before its octets arrive', async () => {
  const c = await login();
  c.socket.write('PUTSCRIPT "a" {99999999999+}\r\nxx');
  assert.match((await c.response()).status, /^NO \(QUOTA\/MAXSIZE\) /);
  c.socket.destroy();
  const d = await login();
  d.socket.write('CHECKSCRIPT {99999999999}\r\n');
  assert.match((await d.response()).status, /^NO \(QUOTA\/MAXSIZE\) /);
  d.socket.destroy();
  // Before login too (the same bound).
  const { c: e } = await sieveConnect(f.port);
  e.socket.write('AUTHENTICATE "PLAIN" {99999999999+}\r\n');
  assert.match((await e.response()).status, /^NO /);
  e.socket.destroy();
  await stillServes();
});

test('a literal just over the limit is answered, skipped, and the next command runs', async () => {
  const c = await login();
  const script = 'x'.repeat(9000);
  c.socket.write(`PUTSCRIPT "big" {${script.length}+}\r\n${script}\r\n`);
  assert.match((await c.response()).status, /^NO \(QUOTA\/MAXSIZE\) /);
  assert.match((await c.cmd('NOOP')).status, /^OK/);
  c.socket.destroy();
});

test('deep nesting, huge numbers, long lines and garbage are NO', async () => {
  const c = await login();
  const deep = 'if ' + 'not '.repeat(400) + 'true { keep; }\r\n';
  assert.match((await c.cmd(`CHECKSCRIPT {${deep.length}+}\r\n${deep}`)).status, /^NO "[^"]*nest/);
  assert.match((await c.cmd('HAVESPACE "a" 99999999999999999999999')).status, /^NO /);
  assert.match((await c.cmd('HAVESPACE "a" -1')).status, /^NO /);
  assert.match((await c.cmd('NOOP "' + 'x'.repeat(1 << 20) + '"')).status, /^NO /);
  assert.match((await c.cmd('PUTSCRIPT {-1}')).status, /^NO /);
  assert.match((await c.cmd('\0\0\0')).status, /^NO /);
  assert.match((await c.cmd('GETSCRIPT "../../etc/passwd"')).status, /^NO \(NONEXISTENT\)/);
  assert.match((await c.cmd('NOOP')).status, /^OK/);
  c.socket.destroy();
  await stillServes();
});
