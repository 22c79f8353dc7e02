/**
 * `mailroom client read` into a pipe the reader closes early (`... | head`): the command ends quietly with
 * status 0, as Unix tools do, for the readable view and for --raw (before, an unhandled EPIPE crashed it
 * with a stack trace).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { startFakePop3 } from './helpers/fake-pop3.js';
import { tempProfile, engine, bigMessage, PASSWORD_ENV } from './helpers/client.js';

const root = fileURLToPath(new URL('..', import.meta.url));

/** Runs the CLI, reads its first output chunk, then closes the pipe; resolves with the exit code and stderr. */
function readThenClose(profile: string, args: string[]): Promise<{ code: number | null; stderr: string; got: number }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', join(root, 'src/cli/main.ts'), 'client', '--profile', profile, ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let got = 0;
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    p.stdout.once('data', (d: Buffer) => {
      got = d.length;
      p.stdout.destroy();
    });
    p.once('error', reject);
    p.once('close', (code) => resolve({ code, stderr, got }));
  });
}

test('read and read --raw into a pipe closed early: status 0, nothing on stderr', async () => {
  const raw = bigMessage('long one', 2 * 1024 * 1024);
  const srv = await startFakePop3({ user: 'u', password: 'pw', messages: [{ uidl: 'a', raw }] });
  const p = tempProfile();
  try {
    const e = engine(p.dir, 'pw');
    e.addAccount({ name: 'pipe', protocol: 'pop3', host: '127.0.0.1', port: srv.port, user: 'u', password: { kind: 'env', name: PASSWORD_ENV } });
    await e.syncAccount('pipe');
    const id = String((e.list()[0] as { id: number }).id);
    e.close();
    for (const args of [['read', id], ['read', '--raw', id]]) {
      const r = await readThenClose(p.dir, args);
      assert.ok(r.got > 0, `${args.join(' ')}: some output came`);
      assert.deepEqual([r.code, r.stderr], [0, ''], args.join(' '));
    }
  } finally {
    p.cleanup();
    await srv.close();
  }
});
