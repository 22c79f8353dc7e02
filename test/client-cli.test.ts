/**
 * The `mailroom client` commands, run as a user would (node + tsx, src/cli/main.ts) against a private Dovecot.
 * Few invocations (each starts a process); the engine tests cover the behaviour in depth.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { startDovecot, dovecotAvailable, type Dovecot } from '../support/dovecot.js';
import { tempProfile, sampleMessage } from './helpers/client.js';
import { runMany, type Run } from './helpers/cli-steps.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const skip = dovecotAvailable();

function cli(profile: string, args: string[], opts: { input?: string; env?: Record<string, string> } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', join(root, 'src/cli/main.ts'), 'client', '--profile', profile, ...args], {
      cwd: root,
      env: { ...process.env, ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    p.once('error', reject);
    p.once('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
    p.stdin.end(opts.input ?? '');
  });
}

describe('mailroom client CLI', { skip: skip ?? false }, () => {
  let dc: Dovecot;
  const prof = tempProfile();
  before(async () => {
    dc = await startDovecot({ users: ['cpop', 'cimap', 'cstdin'].map((user) => ({ user, password: 'pw' })) });
  });
  after(async () => {
    prof.cleanup();
    await dc?.stop();
  });

  test('account add / list / sync / list / read / flag / errors', async () => {
    await dc.deliver('cpop', sampleMessage('cli pop'));
    await dc.deliver('cimap', sampleMessage('cli imap'));
    await dc.deliver('cstdin', sampleMessage('cli stdin'));
    const p = prof.dir;
    const host = ['--host', '127.0.0.1'];
    const c = (...args: string[]) => ['client', '--profile', p, ...args];
    const r = await runMany([
      { args: c('account', 'add', 'pop', '--protocol', 'pop3', ...host, '--port', String(dc.pop3Port), '--user', 'cpop', '--password-env', 'CLI_PW', '--leave-on-server', '--keep-days', '3') },
      { args: c('account', 'add', 'imap', '--protocol', 'imap', ...host, '--port', String(dc.imapPort), '--user', 'cimap', '--password-command', 'printf pw', '--json') },
      { args: c('account', 'add', 'typed', '--protocol', 'pop3', ...host, '--port', String(dc.pop3Port), '--user', 'cstdin', '--password-stdin') },
      { args: c('account', 'add', 'bad2', '--protocol', 'imap', ...host, '--user', 'x') },
      { args: c('account', 'add', 'bad3', '--protocol', 'imap', ...host, '--user', 'x', '--password-env', 'X', '--leave-on-server') },
      { args: c('account', 'add', 'bad4', '--protocol', 'imap', ...host, '--user', 'x', '--password-env', 'X', '--cache', 'sometimes') },
      { args: c('account', 'list') },
      { args: c('sync', 'pop', 'imap', '--json'), env: { CLI_PW: 'pw' } },
      { args: c('sync', 'typed') },
      { args: c('list', '--json') },
    ]);
    const [addPop, addImap, addTyped, bad2, bad3, bad4, list, sync, stdinMissing, listed] = r;
    assert.equal(addPop?.code, 0, addPop?.stderr);
    assert.match(addPop?.stdout ?? '', /added pop3 account pop .*environment variable CLI_PW/);
    assert.equal(addImap?.code, 0, addImap?.stderr);
    const imapJson = JSON.parse(addImap?.stdout ?? '{}') as { security: string; password: { kind: string; command: string } };
    assert.equal(imapJson.security, 'plain');
    assert.deepEqual(imapJson.password, { kind: 'command', command: 'printf pw' });
    assert.equal(addTyped?.code, 0, addTyped?.stderr);
    for (const [res, re] of [
      [bad2, /exactly one of --password-stdin/],
      [bad3, /apply to POP3 accounts/],
      [bad4, /cache policy must be headers, recent:DAYS or all/],
    ] as const) {
      assert.equal(res?.code, 1);
      assert.match(res?.stderr ?? '', re);
      assert.equal((res?.stderr ?? '').trim().split('\n').length, 1, 'one-line error');
    }
    assert.match(list?.stdout ?? '', /^NAME\s+PROTO/m);
    assert.match(list?.stdout ?? '', /pop\s+pop3\s+127\.0\.0\.1:\d+\s+cpop\s+plain\s+leave 3 days/);
    assert.equal(sync?.code, 0, sync?.stderr);
    const results = JSON.parse(sync?.stdout ?? '[]') as Array<{ account: string; ok: boolean; report: { downloaded?: number; newHeaders?: number } }>;
    assert.deepEqual(results.map((x) => [x.account, x.ok]), [['pop', true], ['imap', true]]);
    assert.equal(results[0]?.report.downloaded, 1);
    assert.equal(results[1]?.report.newHeaders, 1);
    assert.equal(stdinMissing?.code, 1);
    assert.match(stdinMissing?.stderr ?? '', /takes its password on stdin: run with --password-stdin/);
    assert.equal((stdinMissing?.stderr ?? '').trim().split('\n').length, 1, 'one-line error');
    const rows = JSON.parse(listed?.stdout ?? '[]') as Array<{ id: number; account: string; summary: { subject: string }; bodyCached: boolean }>;
    assert.deepEqual(rows.map((x) => [x.account, x.summary.subject]).sort(), [
      ['imap', 'cli imap'],
      ['pop', 'cli pop'],
    ]);
    const imapRow = rows.find((x) => x.account === 'imap');
    const popRow = rows.find((x) => x.account === 'pop');
    assert.ok(imapRow && !imapRow.bodyCached && popRow);

    // Through the real entry point (src/cli/main.ts): stdin passwords, and one-line errors.
    const [stdinSync, twoModes, after] = await Promise.all([
      cli(p, ['sync', 'typed', '--password-stdin'], { input: 'pw\n' }),
      cli(p, ['account', 'add', 'bad', '--protocol', 'pop3', '--host', '127.0.0.1', '--user', 'x', '--password-env', 'X', '--tls', '--starttls']),
      runMany([
        { args: c('read', String(imapRow.id), '--raw') },
        { args: c('read', String(popRow.id)) },
        { args: c('flag', String(popRow.id), '--flagged', '--json') },
        { args: c('read', '9999') },
        { args: c('flag', String(popRow.id), '--seen', '--unseen') },
      ]),
    ]);
    assert.equal(stdinSync.code, 0, stdinSync.stderr);
    assert.match(stdinSync.stdout, /typed: 1 downloaded/);
    assert.equal(twoModes.code, 1);
    assert.equal(twoModes.stderr.trim(), 'mailroom: choose one of --tls, --starttls, --insecure-plain');
    const [raw, human, flagged, missing, twoFlags] = after;
    assert.equal(raw?.code, 0, raw?.stderr);
    assert.match(raw?.stdout ?? '', /^Subject: cli imap\r$/m);
    assert.match(human?.stdout ?? '', /^Subject: cli pop$/m);
    assert.match(human?.stdout ?? '', /^From: Sender <sender@example.org>$/m);
    assert.match(human?.stdout ?? '', /caf\u00e9/, 'latin-1 body decoded for display');
    assert.ok((JSON.parse(flagged?.stdout ?? '{}') as { flags: string[] }).flags.includes('\\Flagged'));
    assert.equal(missing?.code, 1);
    assert.match(missing?.stderr ?? '', /no message with id 9999/);
    assert.match(twoFlags?.stderr ?? '', /exactly one of --seen/);
    const [table, folders] = await runMany([{ args: c('list', '--unified') }, { args: c('folders', '--json') }]);
    const fl = JSON.parse(folders?.stdout ?? '[]') as Array<{ account: string; path: string; specialUse: string | null; messages: number }>;
    assert.deepEqual(
      fl.filter((f) => f.account === 'imap').map((f) => [f.path, f.specialUse, f.messages]).sort(),
      [
        ['Drafts', '\\Drafts', 0],
        ['INBOX', '\\Inbox', 1],
        ['Sent', '\\Sent', 0],
        ['Trash', '\\Trash', 0],
      ],
    );
    assert.deepEqual(fl.filter((f) => f.account === 'pop').map((f) => [f.path, f.messages]), [['INBOX', 1]]);
    assert.match(table?.stdout ?? '', /^ID\s+FLG\s+ACCOUNT\s+FOLDER\s+DATE\s+FROM\s+SUBJECT/m);
    assert.equal((table?.stdout ?? '').trim().split('\n').length, 4);
  });

  test('advise with flags (non-interactive) and cache prune', async () => {
    const c = (...args: string[]) => ['client', '--profile', prof.dir, ...args];
    const [imapAdvice, popAdvice, prune, badPrune] = await runMany([
      { args: c('advise', '--devices', '3', '--reliable', 'yes', '--limited-server', 'no', '--limited-local', 'no', '--backups', 'yes') },
      { args: c('advise', '--devices', '1', '--reliable', 'no', '--limited-server', 'yes', '--backups', 'no', '--json') },
      { args: c('cache', 'prune', '--older-than', '0', '--json') },
      { args: c('cache', 'prune', '--older-than', 'soon') },
    ]);
    assert.match(imapAdvice?.stdout ?? '', /^Recommendation: IMAP/);
    assert.match(imapAdvice?.stdout ?? '', /3 devices/);
    assert.equal((JSON.parse(popAdvice?.stdout ?? '{}') as { protocol: string }).protocol, 'pop3');
    assert.equal(prune?.code, 0, prune?.stderr);
    assert.equal(typeof (JSON.parse(prune?.stdout ?? '{}') as { evicted: number }).evicted, 'number');
    assert.equal(badPrune?.code, 1);
    assert.match(badPrune?.stderr ?? '', /--older-than must be a whole number/);
  });
});
