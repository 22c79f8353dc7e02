// `npm start [-- serve flags]`: installs and builds when needed, then runs `mailroom serve` on ./data.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { ensureInstalled, ensureBuilt } from './bootstrap.mjs';

const root = new URL('..', import.meta.url).pathname;
ensureInstalled();
ensureBuilt();
const args = process.argv.slice(2);
const hasData = args.some((a) => a === '--data' || a.startsWith('--data='));
const child = spawn(process.execPath, [join(root, 'bin', 'mailroom'), 'serve', ...(hasData ? [] : ['--data', join(root, 'data')]), ...args], {
  cwd: root,
  stdio: 'inherit',
});
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
child.on('exit', (code, signal) => process.exit(signal ? 0 : (code ?? 1)));
