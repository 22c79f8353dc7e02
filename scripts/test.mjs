// Runs every *.test.ts under src/, test/, bench/ and support/ with node's test runner through tsx.
// Node 20's --test does not expand globs, so the file list is built here.
// Usage: npm test [-- <path filter substrings>]
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawn } from 'node:child_process';
import { ensureInstalled, ensureBuilt } from './bootstrap.mjs';

const root = new URL('..', import.meta.url).pathname;
ensureInstalled();
// Some tests run the built CLI (bin/mailroom) as a user would.
ensureBuilt({ fatal: false });
const filters = process.argv.slice(2);

function walk(dir, out) {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (name.endsWith('.test.ts')) out.push(relative(root, p));
  }
  return out;
}

let files = [...walk(join(root, 'src'), []), ...walk(join(root, 'test'), []), ...walk(join(root, 'bench'), []), ...walk(join(root, 'support'), [])].sort();
if (filters.length) files = files.filter((f) => filters.some((x) => f.includes(x)));
if (!files.length) {
  console.error('no test files matched');
  process.exit(1);
}
const concurrency = process.env.TEST_CONCURRENCY ?? '3';
const args = ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, '--test-timeout=180000', ...files];
const child = spawn(process.execPath, args, { cwd: root, stdio: 'inherit' });
child.on('exit', (code, signal) => process.exit(signal ? 1 : (code ?? 1)));
