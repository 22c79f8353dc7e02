/**
 * `mailroom sieve ...` on a data directory, run as a process (through tsx, so no build is needed): put from
 * a file and from standard input, list, activate, get, check (valid, broken, a stored script), delete
 * refused for the active script, deactivate, unknown users and scripts; and serve's Sieve keys parsed from
 * flags and config (bad values refused with the key's name).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './helpers/cli.js';
import { runProgram } from './delivery/helpers.js';
import { buildServeConfig } from '../src/cli/serve.js';
import { main } from '../src/cli/main.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mailroom-sieve-cli-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Runs the command in this process (fast), capturing what it writes. */
async function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const out = { stdout: '', stderr: '' };
  const w1 = process.stdout.write.bind(process.stdout);
  const w2 = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((c: string | Uint8Array) => ((out.stdout += String(c)), true)) as typeof process.stdout.write;
  process.stderr.write = ((c: string | Uint8Array) => ((out.stderr += String(c)), true)) as typeof process.stderr.write;
  try {
    const code = await main(['--data', join(dir, 'data'), ...args]);
    return { code, ...out };
  } finally {
    process.stdout.write = w1;
    process.stderr.write = w2;
  }
}

/** Runs the command as a process (through tsx), for standard input. */
function cliProcess(args: string[], input = ''): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const cli = [join(ROOT, 'src', 'cli', 'main.ts'), '--data', join(dir, 'data')];
  return runProgram(process.execPath, ['--import', 'tsx', ...cli, ...args], 30_000, { input, cwd: ROOT });
}

const U = 'alice@example.org';
const GOOD = 'require "fileinto";\nif header :contains "subject" "x" { fileinto "X"; }\n';

test('mailroom sieve: put, list, activate, get, check, delete, deactivate', { timeout: 60_000 }, async () => {
  assert.equal((await cli(['user', 'add', U])).code, 0);
  const file = join(dir, 'main.sieve');
  await writeFile(file, GOOD);
  let r = await cli(['sieve', 'put', U, 'main', file]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'stored main\n');
  r = await cliProcess(['sieve', 'put', U, 'second'], 'keep;\n');
  assert.equal(r.code, 0, r.stderr);
  r = await cli(['sieve', 'activate', U, 'main']);
  assert.equal(r.code, 0, r.stderr);
  r = await cli(['sieve', 'list', U]);
  assert.equal(r.stdout, 'main  (active)\nsecond\n');
  r = await cli(['sieve', 'list', U, '--json']);
  assert.deepEqual(JSON.parse(r.stdout).map((s: { name: string; active: boolean }) => [s.name, s.active]), [['main', true], ['second', false]]);
  r = await cli(['sieve', 'get', U, 'main']);
  assert.equal(r.stdout, GOOD);

  const bad = join(dir, 'bad.sieve');
  await writeFile(bad, 'require "fileinto";\nfileinto "A"\n');
  r = await cli(['sieve', 'check', U, bad]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /bad\.sieve: line \d+, column \d+: /);
  r = await cli(['sieve', 'put', U, 'bad', bad]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /line \d+, column \d+/);
  r = await cli(['sieve', 'check', U, file]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'valid\n');
  r = await cli(['sieve', 'check', U, 'main']);
  assert.equal(r.code, 0, 'a stored script by name');
  r = await cliProcess(['sieve', 'check', U], 'stop;\n');
  assert.equal(r.code, 0, 'standard input');

  r = await cli(['sieve', 'delete', U, 'main']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /active script cannot be deleted/);
  assert.equal((await cli(['sieve', 'deactivate', U])).code, 0);
  assert.equal((await cli(['sieve', 'delete', U, 'main'])).code, 0);
  r = await cli(['sieve', 'list', U]);
  assert.equal(r.stdout, 'second\n');
  r = await cli(['sieve', 'get', U, 'main']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /no such script/);
  r = await cli(['sieve', 'activate', U, 'nope']);
  assert.equal(r.code, 1);
  r = await cli(['sieve', 'list', 'nobody@example.org']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /no such user/);
  r = await cli(['sieve', 'put', U, 'bad\tname', file]);
  assert.equal(r.code, 1);
});

test('serve: Sieve flags and config keys', () => {
  const cfg = buildServeConfig({ sieveBefore: ['/etc/a.sieve', '/etc/b'], sieveMaxScripts: '5' }, { 'sieve-after': '/etc/after', 'sieve-global': '/etc/global', 'sieve-quota': 4096, 'managesieve-port': 'off' });
  assert.deepEqual(cfg.sieve, { before: ['/etc/a.sieve', '/etc/b'], after: ['/etc/after'], globalDir: '/etc/global', quota: { maxScripts: 5, maxStorage: 4096 } });
  assert.equal(cfg.ports.managesieve, 'off');
  assert.equal(buildServeConfig({}, {}).ports.managesieve, 4190);
  assert.equal(buildServeConfig({}, {}).sieve, undefined);
  assert.throws(() => buildServeConfig({ sieveMaxScriptSize: 'big' }, {}), /--sieve-max-script-size/);
});
