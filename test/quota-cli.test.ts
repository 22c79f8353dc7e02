/**
 * `mailroom user add --quota-storage/--quota-messages`, `user quota ADDRESS [--storage] [--messages]` (none:
 * back to the server default, unlimited: no limit) and `user list` showing usage and limits, run from source
 * as a user would; bad sizes and unknown users exit 1 with a one-line message.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ROOT } from './helpers/cli.js';
import { openServerStore } from '../src/server/store.js';
import { sampleMessage } from './helpers/store.js';

const dir = mkdtempSync(join(tmpdir(), 'mailroom-quota-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function cli(args: string[], input = ''): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src', 'cli', 'main.ts'), ...args], {
      cwd: ROOT,
      env: { ...process.env, MAILROOM_DATA: dir, MAILROOM_STORE: '' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input);
  });
}

test('user add with quotas, user quota shows and changes them, user list shows usage', async () => {
  let r = await cli(['user', 'add', 'ann@example.org', '--password-stdin', '--quota-storage', '2G', '--quota-messages', '100000'], 'secret\n');
  assert.equal(r.code, 0, r.stderr);
  // Two messages for the usage.
  const store = await openServerStore({ dataDir: dir });
  const u = (await store.directory.getUser('ann@example.org'))!;
  const inbox = (await store.mail.getMailbox(u.id, 'INBOX'))!;
  let octets = 0;
  for (const n of [1, 2]) {
    const raw = sampleMessage(n);
    octets += raw.length;
    await store.mail.append(inbox.id, raw);
  }
  await store.close();

  r = await cli(['user', 'quota', 'ann@example.org', '--json']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), {
    address: 'ann@example.org',
    storage: { used: octets, limit: 2 * 1024 ** 3, source: 'user' },
    messages: { used: 2, limit: 100_000, source: 'user' },
  });
  r = await cli(['user', 'quota', 'ann@example.org']);
  assert.match(r.stdout, new RegExp(`storage +\\S+ \\(${octets} octets\\) of 2G\\n`));
  assert.match(r.stdout, /messages +2 of 100000\n/);

  r = await cli(['user', 'quota', 'ann@example.org', '--storage', '512K', '--messages', 'none']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /of 512K\n/);
  assert.match(r.stdout, /messages +2 of the server default \(quota-messages\)\n/);
  r = await cli(['user', 'quota', 'ann@example.org', '--storage', 'unlimited', '--json']);
  assert.deepEqual(JSON.parse(r.stdout).storage, { used: octets, limit: null, source: 'user' });
  r = await cli(['user', 'quota', 'ann@example.org', '--storage', '1.5M']);
  assert.match(r.stdout, /of 1\.5M\n/);

  r = await cli(['user', 'list']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^ann@example\.org\t\S+\t\S+\/1\.5M 2\/- messages/m);
  r = await cli(['user', 'list', '--json']);
  assert.equal(JSON.parse(r.stdout)[0].quota.messages.used, 2);
});

test('bad sizes, bad counts and unknown users exit 1 with one line; nothing is created or changed', async () => {
  let r = await cli(['user', 'add', 'bad@example.org', '--password-stdin', '--quota-storage', '2X'], 'secret\n');
  assert.equal(r.code, 1);
  assert.equal(r.stderr, 'mailroom: invalid --quota-storage: 2X (expected a size like 500M or 2G)\n');
  r = await cli(['user', 'quota', 'bad@example.org']);
  assert.equal(r.code, 1);
  assert.equal(r.stderr, 'mailroom: no such user: bad@example.org\n');
  r = await cli(['user', 'quota', 'ann@example.org', '--messages', '-5']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^mailroom: invalid --messages: -5 \(expected a whole number\)\n$/);
  r = await cli(['user', 'quota', 'ann@example.org', '--json']);
  assert.equal(JSON.parse(r.stdout).messages.limit, null, 'unchanged by the refused command');
});
