/**
 * Where an account's password comes from. The profile stores only the reference (PasswordSource), never
 * the secret:
 * - env:     read the named environment variable at sync time;
 * - command: run the command (through /bin/sh) and take the first line of its output, e.g. "pass show mail";
 * - stdin:   nothing is stored; every run that needs the password must be given it on stdin again
 *            (`mailroom client sync NAME --password-stdin`). For unattended use choose env or command.
 */
import { spawn } from 'node:child_process';
import { ClientError } from './errors.js';
import type { AccountConfig, PasswordSource } from './store/state.js';

export interface PasswordOptions {
  /** Supplies the password for 'stdin' accounts (the CLI reads stdin once); absent: such accounts fail. */
  stdin?: () => Promise<string>;
  /** Environment to read 'env' sources from (defaults to process.env). */
  env?: NodeJS.ProcessEnv;
}

export function describeSource(s: PasswordSource): string {
  switch (s.kind) {
    case 'env':
      return `environment variable ${s.name}`;
    case 'command':
      return `command: ${s.command}`;
    case 'stdin':
      return 'stdin at every sync (--password-stdin)';
  }
}

export async function resolvePassword(account: AccountConfig, opts: PasswordOptions = {}): Promise<string> {
  const s = account.password;
  switch (s.kind) {
    case 'env': {
      const v = (opts.env ?? process.env)[s.name];
      if (v === undefined || v === '') throw new ClientError('CREDENTIALS', `account ${account.name}: environment variable ${s.name} is not set`);
      return v;
    }
    case 'command':
      return runPasswordCommand(s.command, account.name);
    case 'stdin': {
      if (!opts.stdin) {
        throw new ClientError(
          'CREDENTIALS',
          `account ${account.name} takes its password on stdin: run with --password-stdin (or re-add it with --password-env/--password-command for unattended use)`,
        );
      }
      const p = (await opts.stdin()).replace(/\r?\n$/, '');
      if (!p) throw new ClientError('CREDENTIALS', `account ${account.name}: empty password on stdin`);
      return p;
    }
  }
}

function runPasswordCommand(command: string, account: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn('/bin/sh', ['-c', command], { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    p.stdout.on('data', (d: Buffer) => out.push(d));
    p.stderr.on('data', (d: Buffer) => (err += d.toString('utf8')));
    p.once('error', (e) => reject(new ClientError('CREDENTIALS', `account ${account}: password command failed to start: ${e.message}`)));
    p.once('close', (code) => {
      if (code !== 0) {
        reject(new ClientError('CREDENTIALS', `account ${account}: password command exited with ${code}${err ? ': ' + err.trim().split('\n')[0] : ''}`));
        return;
      }
      const first = Buffer.concat(out).toString('utf8').split(/\r?\n/)[0] ?? '';
      if (!first) reject(new ClientError('CREDENTIALS', `account ${account}: password command printed nothing`));
      else resolve(first);
    });
  });
}
