/**
 * The client's progress rule as an account setting (`account add/set --progress-bytes N --progress-window
 * SECONDS`, `--default-progress`): stored with the account, validated, kept across other changes, and the
 * rule a sync is held to: a server trickling its answer is given up after the account's window, the error
 * naming the account's numbers. Runs the CLI in one child process against a scripted IMAP server.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tempProfile, sampleMessage } from './helpers/client.js';
import { startFakeImap } from './helpers/fake-imap.js';
import { trickle } from './helpers/flood.js';
import { runMany, type Run } from './helpers/cli-steps.js';
import { progressRule } from '../src/client/accounts.js';
import { DEFAULT_STALL } from '../src/client/stall.js';
import { ClientError } from '../src/client/errors.js';

test('progressRule: either value alone takes the default of the other; bad values are CONFIG errors', () => {
  assert.equal(progressRule({}), undefined);
  assert.deepEqual(progressRule({ progressWindow: 30 }), { minBytes: DEFAULT_STALL.minBytes, windowMs: 30_000 });
  assert.deepEqual(progressRule({ progressBytes: 1024 }), { minBytes: 1024, windowMs: DEFAULT_STALL.windowMs });
  for (const bad of [{ progressBytes: 0 }, { progressBytes: 1.5 }, { progressWindow: 0 }, { progressWindow: 86_401 }, { progressWindow: -3 }]) {
    assert.throws(() => progressRule(bad), (e: ClientError) => e instanceof ClientError && e.code === 'CONFIG', JSON.stringify(bad));
  }
});

test('account add/set --progress-*: stored, validated, merged, reset; a sync is held to the account rule', async () => {
  const srv = await startFakeImap();
  srv.add('INBOX', sampleMessage('one'));
  const p = tempProfile();
  let stop = (): void => undefined;
  try {
    const env = { PROG_PW: 'pw' };
    const c = (...args: string[]): { args: string[]; env: Record<string, string> } => ({ args: ['client', '--profile', p.dir, ...args], env });
    const add = ['account', 'add', 'x', '--protocol', 'imap', '--host', '127.0.0.1', '--port', String(srv.port), '--user', 'u', '--password-env', 'PROG_PW'];
    const runs = await runMany([
      c(...add, '--progress-window', '0'),
      c(...add, '--progress-bytes', 'lots'),
      c(...add, '--progress-bytes', '4096', '--progress-window', '2'),
      c('account', 'list', '--json'),
      c('account', 'set', 'x', '--progress-window', '3'),
      c('account', 'set', 'x', '--default-progress', '--json'),
      c('account', 'set', 'x', '--default-progress', '--progress-window', '3'),
      c('account', 'set', 'x'),
      c('account', 'set', 'x', '--progress-window', '2'),
    ]);
    const [badWindow, badBytes, added, listed, merged, reset, both, nothing, again] = runs as [Run, Run, Run, Run, Run, Run, Run, Run, Run];
    assert.equal(badWindow.code, 1);
    assert.match(badWindow.stderr, /--progress-window must be a whole number of seconds from 1 to 86400/);
    assert.equal(badBytes.code, 1);
    assert.match(badBytes.stderr, /--progress-bytes must be a whole number, got "lots"/);
    assert.equal(added.code, 0, added.stderr);
    assert.deepEqual((JSON.parse(listed.stdout) as Array<{ progress?: unknown }>)[0]?.progress, { minBytes: 4096, windowMs: 2000 });
    assert.equal(merged.stdout, 'account x now expects 4096 bytes or a finished answer every 3 s from its server\n', merged.stderr);
    assert.equal((JSON.parse(reset.stdout) as { progress?: unknown }).progress, undefined);
    assert.equal(both.code, 1);
    assert.match(both.stderr, /not both/);
    assert.equal(nothing.code, 1);
    assert.match(nothing.stderr, /nothing to change: .*--progress-window SECONDS or --default-progress/);
    assert.equal(again.stdout, `account x now expects ${DEFAULT_STALL.minBytes} bytes or a finished answer every 2 s from its server\n`, again.stderr);

    // The server trickles its FETCH answer: given up after the account's 2 s window (the default is 5 minutes).
    srv.hook = (h) => {
      if (h.cmd !== 'UID FETCH') return undefined;
      stop = trickle(h.sock);
      return '* OK ';
    };
    const [sync] = (await runMany([c('sync', 'x')])) as [Run];
    assert.equal(sync.code, 1);
    assert.match(sync.stderr, new RegExp(`account x: 127\\.0\\.0\\.1:\\d+ sent \\d+ bytes in \\d+ s while a command was outstanding \\(the rule: ${DEFAULT_STALL.minBytes} bytes or a finished answer every 2 s\\)`));
  } finally {
    stop();
    p.cleanup();
    await srv.close();
  }
});
