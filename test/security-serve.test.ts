/**
 * `mailroom serve` hardening: LMTP binds loopback unless told otherwise (it takes mail without
 * authentication), and data is created private (directories 0700, files 0600) even under umask 022.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildServeConfig, mailroomOptions } from '../src/cli/serve.js';
import { createMailroom } from '../src/server/mailroom.js';
import { silentLogger } from '../src/lib/logger.js';
import { spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteStore } from '../src/store/sqlite/index.js';
import { ClientEngine } from '../src/client/engine.js';
import { ROOT } from './helpers/cli.js';

const mode = (p: string): string => (statSync(p).mode & 0o777).toString(8);

/** Runs the CLI from source under `umask 022`; resolves with its output once `until` shows (then SIGTERM) or it exits. */
function cliUnderUmask022(args: string[], until?: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    const cmd = ['umask 022 && exec "$0" --import tsx "$@"', process.execPath, join(ROOT, 'src', 'cli', 'main.ts'), ...args];
    const child = spawn('/bin/sh', ['-c', ...cmd], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`timed out:\n${out}`));
    }, 60_000);
    const onData = (d: Buffer): void => {
      out += d.toString();
      if (until && until.test(out)) child.kill('SIGTERM');
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('close', () => {
      clearTimeout(timer);
      resolve(out);
    });
  });
}

const ALL_OFF = ['imap', 'imaps', 'pop3', 'pop3s', 'lmtp', 'smtp', 'submission', 'submissions', 'http', 'https', 'managesieve'].flatMap((l) => [`--${l}-port`, 'off']);

test('M7: under umask 022 serve creates the data directory 0700 and mail.db (+ -wal/-shm) 0600', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'mailroom-modes-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const data = join(root, 'data');
  const out = await cliUnderUmask022(['serve', '--data', data, ...ALL_OFF], /mailroom ready/);
  assert.match(out, /mailroom ready/);
  assert.equal(mode(data), '700');
  for (const f of ['mail.db', 'mail.db-wal', 'mail.db-shm']) if (existsSync(join(data, f))) assert.equal(mode(join(data, f)), '600', f);
  assert.ok(existsSync(join(data, 'mail.db')));
});

test('M7: an existing data directory open to others is tightened (directory and database files) and the log says so', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'mailroom-modes-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const data = join(root, 'data');
  const old = process.umask(0o022);
  try {
    await mkdir(data, { mode: 0o755 });
    const store = await openSqliteStore({ dataDir: data });
    await store.directory.addDomain('example.org');
    await store.close();
  } finally {
    process.umask(old);
  }
  assert.equal(mode(data), '755');
  assert.equal(mode(join(data, 'mail.db')), '644');
  const out = await cliUnderUmask022(['serve', '--data', data, ...ALL_OFF], /mailroom ready/);
  assert.match(out, /readable by others/);
  assert.equal(mode(data), '700');
  assert.equal(mode(join(data, 'mail.db')), '600');
});

test('M7: the client profile directory is 0700 and its state file 0600 under umask 022 (CLI and library)', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'mailroom-modes-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const viaCli = join(root, 'cli-profile');
  await cliUnderUmask022(['client', '--profile', viaCli, 'account', 'list']);
  assert.equal(mode(viaCli), '700');
  assert.equal(mode(join(viaCli, 'state.sqlite')), '600');
  const viaLib = join(root, 'lib-profile');
  const old = process.umask(0o022);
  try {
    const engine = new ClientEngine({ profileDir: viaLib });
    engine.close();
  } finally {
    process.umask(old);
  }
  assert.equal(mode(viaLib), '700');
  for (const f of ['state.sqlite', 'state.sqlite-wal', 'state.sqlite-shm']) if (existsSync(join(viaLib, f))) assert.equal(mode(join(viaLib, f)), '600', f);
});

test('serve --host 0.0.0.0 still binds LMTP to 127.0.0.1; --lmtp-host / config lmtp-host move it', () => {
  const wide = createMailroom(mailroomOptions(buildServeConfig({ host: '0.0.0.0' }, {}), '/nonexistent', silentLogger));
  assert.equal(wide.bindAddress('lmtp'), '127.0.0.1');
  assert.equal(wide.bindAddress('imap'), '0.0.0.0');
  assert.equal(wide.bindAddress('submission'), '0.0.0.0');
  const flag = createMailroom(mailroomOptions(buildServeConfig({ host: '0.0.0.0', lmtpHost: '::1' }, {}), '/nonexistent', silentLogger));
  assert.equal(flag.bindAddress('lmtp'), '::1');
  const file = createMailroom(mailroomOptions(buildServeConfig({}, { host: '0.0.0.0', 'lmtp-host': '10.0.0.5' }), '/nonexistent', silentLogger));
  assert.equal(file.bindAddress('lmtp'), '10.0.0.5');
  assert.equal(file.bindAddress('pop3'), '0.0.0.0');
});

test('a running LMTP listener is bound to loopback by default', async (t) => {
  const m = createMailroom({ ports: { lmtp: 0, imap: 0 } });
  await m.start();
  t.after(() => m.stop());
  assert.equal(m.listeners.find((l) => l.name === 'lmtp')?.host, '127.0.0.1');
});
