// Installs dependencies (npm ci) when node_modules is missing or older than package-lock.json,
// and builds dist/ when it is missing or older than any file under src/. Used by `npm start` and `npm test`
// so that the two quick-start commands work on a fresh clone.
import { existsSync, statSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const root = new URL('..', import.meta.url).pathname;

function newest(dir) {
  let t = 0;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const s = statSync(p);
    t = Math.max(t, s.isDirectory() ? newest(p) : s.mtimeMs);
  }
  return t;
}

function run(cmd, args, { fatal = true } = {}) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0 && !fatal) {
    console.error(`mailroom: \`${cmd} ${args.join(' ')}\` failed; tests that run the built CLI will fail`);
    return;
  }
  if (r.status !== 0) {
    console.error(`mailroom: \`${cmd} ${args.join(' ')}\` failed`);
    process.exit(r.status ?? 1);
  }
}

export function ensureInstalled() {
  const marker = join(root, 'node_modules', '.package-lock.json');
  if (!existsSync(marker) || statSync(marker).mtimeMs < statSync(join(root, 'package-lock.json')).mtimeMs - 1000) {
    run('npm', ['ci', '--no-audit', '--no-fund']);
  }
}

export function ensureBuilt({ fatal = true } = {}) {
  const entry = join(root, 'dist', 'cli', 'main.js');
  if (!existsSync(entry) || statSync(entry).mtimeMs < newest(join(root, 'src'))) {
    run('npm', ['run', '--silent', 'build'], { fatal });
  }
}
