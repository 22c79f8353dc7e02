/**
 * ManageSieve against Debian's sieve-connect (a real client: STARTTLS, SASL PLAIN through Authen::SASL):
 * upload, list, activate, download byte for byte, check a broken script (refused with the parser's
 * message), deactivate, delete; the store sees what the client did.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createManageSieveService, type ManageSieveService } from '../src/managesieve/index.js';
import { startServerFixture, PASSWORD, USER, type ServerFixture } from './helpers/server-fixture.js';
import { runProgram, testTls } from './delivery/helpers.js';

let f: ServerFixture<ManageSieveService>;
let dir: string;

before(async () => {
  const tls = await testTls();
  f = await startServerFixture({ prefix: 'mailroom-sieveconnect-', fsync: false }, (store, auth) => createManageSieveService({ store, auth, tls }));
  dir = await mkdtemp(join(tmpdir(), 'mailroom-sieveconnect-files-'));
});
after(async () => {
  await f.close();
  await rm(dir, { recursive: true, force: true });
});

function sieveConnect(args: string[], password = PASSWORD): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const base = ['--server', '127.0.0.1', '--port', String(f.port), '--user', USER, '--passwordfd', '0', '--notlsverify', '--nosrv'];
  return runProgram('sieve-connect', [...base, ...args], 20_000, { input: `${password}\n` });
}

const SCRIPT = 'require ["fileinto", "vacation"];\r\n# Büro\r\nif address :is "from" "boss@example.org" {\r\n  fileinto "Boss";\r\n}\r\nvacation :days 3 "Away.";\r\n';

test('sieve-connect: upload, list, activate, download, check, deactivate, delete', async () => {
  const local = join(dir, 'rules.sieve');
  await writeFile(local, SCRIPT);
  let r = await sieveConnect(['--upload', '--localsieve', local, '--remotesieve', 'rules']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal((await f.store.sieve.getScript(f.user.id, 'rules'))?.content, SCRIPT);

  r = await sieveConnect(['--list']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /"rules"/);

  r = await sieveConnect(['--activate', '--remotesieve', 'rules']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal((await f.store.sieve.getActiveScript(f.user.id))?.name, 'rules');
  r = await sieveConnect(['--list']);
  assert.match(r.stdout, /"rules"\s+ACTIVE/);

  const out = join(dir, 'downloaded.sieve');
  r = await sieveConnect(['--download', '--remotesieve', 'rules', '--localsieve', out]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(await readFile(out, 'utf8'), SCRIPT);

  const bad = join(dir, 'bad.sieve');
  await writeFile(bad, 'require "fileinto";\r\nfileinto "A"\r\n');
  r = await sieveConnect(['--checkscript', '--localsieve', bad]);
  assert.notEqual(r.code, 0);
  assert.match(r.stdout + r.stderr, /line \d+, column \d+/);
  r = await sieveConnect(['--upload', '--localsieve', bad, '--remotesieve', 'bad']);
  assert.notEqual(r.code, 0);
  assert.equal(await f.store.sieve.getScript(f.user.id, 'bad'), null);
  r = await sieveConnect(['--checkscript', '--localsieve', local]);
  assert.equal(r.code, 0, r.stderr);

  r = await sieveConnect(['--delete', '--remotesieve', 'rules']);
  assert.notEqual(r.code, 0, 'the active script cannot be deleted');
  r = await sieveConnect(['--deactivate']);
  assert.equal(r.code, 0, r.stderr);
  r = await sieveConnect(['--delete', '--remotesieve', 'rules']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(await f.store.sieve.listScripts(f.user.id), []);

  r = await sieveConnect(['--list'], 'wrong password');
  assert.notEqual(r.code, 0);
});
