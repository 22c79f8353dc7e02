/**
 * ManageSieve literals that are each within the size limit but many in one command: the literals of a
 * command count together against the limit, so an anonymous client cannot make the server hold any number
 * of them; a command within the limit (a literal name and a literal script) still works.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createManageSieveService, type ManageSieveService } from '../src/managesieve/index.js';
import { startServerFixture, PASSWORD, USER, type ServerFixture } from './helpers/server-fixture.js';
import { literal, plain, sieveConnect } from './managesieve-helpers.js';

let f: ServerFixture<ManageSieveService>;
/** maxScriptSize 2000: a command's literals may hold 2000 + 4096 octets together. */
before(async () => {
  f = await startServerFixture({ prefix: 'mailroom-msieve-literals-', fsync: false }, (store, auth) =>
    createManageSieveService({ store, auth, quota: { maxScripts: 3, maxScriptSize: 2000, maxStorage: 5000 } }),
  );
});
after(async () => {
  await f.close();
});

test('before login, literals of 4000 octets each are refused once they pass the limit together, before the rest is sent', async () => {
  const { c } = await sieveConnect(f.port);
  const chunk = 'a'.repeat(4000);
  // Two literals (8000 octets together): the second is over the limit as soon as its size is read.
  c.socket.write(`NOOP {4000+}\r\n${chunk} {4000+}\r\n`);
  assert.match((await c.response()).status, /^NO "Literal too large"/);
  // The second literal's octets are skipped with the rest of its line; the next command runs.
  c.socket.write(`${chunk}\r\n`);
  assert.match((await c.cmd('NOOP')).status, /^OK/);
  c.socket.destroy();
});

test('a hundred literals of 5000 octets in one command: NO at the second, BYE once the rest adds up to 20 bad commands', async () => {
  const { c } = await sieveConnect(f.port);
  const chunk = 'b'.repeat(5000);
  let cmd = 'NOOP';
  for (let i = 0; i < 100; i++) cmd += ` {5000+}\r\n${chunk}`;
  c.socket.write(cmd + '\r\n');
  // The second literal is refused; what follows it is read as more commands of too many literals each.
  assert.match((await c.response()).status, /^NO "Literal too large"/);
  let last = '';
  for (let i = 0; i < 100 && !last.startsWith('BYE'); i++) last = (await c.response()).status;
  assert.match(last, /^BYE /);
  await c.closed();
  const { c: d } = await sieveConnect(f.port);
  assert.match((await d.cmd('NOOP')).status, /^OK/);
  d.socket.destroy();
});

test('PUTSCRIPT with a literal name and a literal script within the limit is stored', async () => {
  const { c } = await sieveConnect(f.port);
  assert.match((await c.cmd(`AUTHENTICATE "PLAIN" "${plain(USER, PASSWORD)}"`)).status, /^OK/);
  const script = `# ${'c'.repeat(1900)}\r\nkeep;\r\n`;
  assert.match((await c.cmd(`PUTSCRIPT ${literal('n'.repeat(300))} ${literal(script)}`)).status, /^OK/);
  const got = await c.cmd(`GETSCRIPT ${literal('n'.repeat(300))}`);
  assert.match(got.status, /^OK/);
  assert.equal(got.lines.join('\r\n').trim(), script.trim());
  c.socket.destroy();
});
