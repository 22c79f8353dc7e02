/** Runs many `mailroom client ...` invocations in one child process (test/helpers/client-cli-runner.ts). */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

const root = fileURLToPath(new URL('../..', import.meta.url));

export function runMany(steps: Array<{ args: string[]; env?: Record<string, string> }>): Promise<Run[]> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', join(root, 'test/helpers/client-cli-runner.ts'), JSON.stringify(steps)], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    p.once('error', reject);
    p.once('close', (code) => {
      try {
        resolve(JSON.parse(stdout) as Run[]);
      } catch {
        reject(new Error(`runner failed (${code}): ${stderr}`));
      }
    });
  });
}
