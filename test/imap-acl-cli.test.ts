/**
 * `mailroom share` and `mailroom public` against the data directory of a running IMAP server: grants made on
 * the command line are what bob's IMAP session sees at once (LIST, MYRIGHTS, SELECT), listing prints the
 * entries, revoking and bad input (unknown rights, unknown owner or mailbox, the owner as grantee) fail with
 * a message and exit status 1.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { hashPassword } from '../src/auth/index.js';
import { RawClient, startImap, PASSWORD, message, type ImapFixture } from './imap-helpers.js';
import { ROOT } from './helpers/cli.js';

type CliResult = { code: number; out: string; err: string };

/**
 * Runs CLI invocations from source (no build needed) on the fixture's data directory, one after another in
 * one child process (starting tsx once, not per invocation), and returns each one's exit status and output.
 */
function cli(dataDir: string, runs: string[][]): Promise<CliResult[]> {
  const script = `
    const { main } = await import(${JSON.stringify(pathToFileURL(join(ROOT, 'src', 'cli', 'main.ts')).href)});
    for (const args of JSON.parse(process.argv[1])) {
      const code = await main([...args, '--data', process.argv[2]]);
      process.stdout.write('\\n@@' + code + '\\n');
      process.stderr.write('\\n@@' + code + '\\n');
    }`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, JSON.stringify(runs), dataDir], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (err += d.toString('utf8')));
    child.on('error', reject);
    child.on('close', () => {
      const outs = out.split(/\n@@-?\d+\n/);
      const errs = err.split(/\n@@-?\d+\n/);
      const codes = [...out.matchAll(/\n@@(-?\d+)\n/g)].map((m) => Number(m[1]));
      if (codes.length !== runs.length) reject(new Error(`CLI runner ended early: ${err}`));
      else resolve(codes.map((code, i) => ({ code, out: outs[i]!, err: errs[i]! })));
    });
  });
}

const SHARED = 'shared/alice@example.org/Projects';

describe('mailroom share / public', () => {
  let f: ImapFixture;
  let b: RawClient;

  before(async () => {
    f = await startImap();
    await f.store.directory.createUser('bob@example.org', await hashPassword(PASSWORD));
    await f.store.mail.createMailbox(f.user.id, 'Projects');
    await f.append(message('Plan', 'first'), [], 'Projects');
    b = await RawClient.connect(f.port);
    await b.login('bob@example.org');
  });
  after(async () => {
    b.close();
    await f.close();
  });

  test('share, list, change, remove; bob sees each step over IMAP', async () => {
    const [grant] = await cli(f.dataDir, [['share', 'alice@example.org', 'Projects', 'Bob@Example.org', 'lr']]);
    assert.deepEqual(grant, { code: 0, out: 'Projects of alice@example.org: bob@example.org has lr\n', err: '' });
    assert.equal(await b.cmd(`MYRIGHTS "${SHARED}"`, 'm'), `* MYRIGHTS ${SHARED} lr\r\nm OK Myrights completed.\r\n`);
    assert.match(await b.cmd(`SELECT "${SHARED}"`, 's'), /\* 1 EXISTS\r\n[\s\S]*s OK \[READ-ONLY\]/);
    await b.cmd('UNSELECT');

    const [add, anyone, list] = await cli(f.dataDir, [
      ['share', 'alice@example.org', 'Projects', 'bob@example.org', '+swi'],
      ['share', 'alice@example.org', 'Projects', 'anyone', 'c'],
      ['share', 'list', 'alice@example.org'],
    ]);
    assert.equal(add!.out, 'Projects of alice@example.org: bob@example.org has lrwsi\n');
    assert.equal(anyone!.out, 'Projects of alice@example.org: anyone has kxc\n');
    assert.equal(list!.out, 'Projects\tanyone\tkxc\nProjects\tbob@example.org\tlrwsi\n');
    assert.equal(await b.cmd(`MYRIGHTS "${SHARED}"`, 'm2'), `* MYRIGHTS ${SHARED} lrwsi\r\nm2 OK Myrights completed.\r\n`);

    const [removed, none] = await cli(f.dataDir, [
      ['share', 'remove', 'alice@example.org', 'Projects', 'bob@example.org'],
      ['share', 'alice@example.org', 'Projects', 'anyone', 'none'],
    ]);
    assert.equal(removed!.code, 0, removed!.err);
    assert.equal(none!.out, 'Projects of alice@example.org: anyone has no rights\n');
    assert.equal(await b.cmd(`MYRIGHTS "${SHARED}"`, 'm3'), 'm3 NO [NONEXISTENT] Mailbox does not exist\r\n');
    assert.doesNotMatch(await b.cmd('LIST "" "*"'), /shared/);
  });

  test('bad input: exit status 1 with a reason', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['share', 'alice@example.org', 'Projects', 'bob@example.org', 'lrz'], /invalid rights: lrz/],
      [['share', 'nobody@example.org', 'INBOX', 'bob@example.org', 'lr'], /no such user: nobody@example.org/],
      [['share', 'alice@example.org', 'Nope', 'bob@example.org', 'lr'], /no such mailbox: Nope/],
      [['share', 'alice@example.org', 'Projects', 'alice@example.org', 'lr'], /the owner always has every right/],
      [['share', 'alice@example.org', 'Projects', 'not an address', 'lr'], /invalid grantee/],
      [['share', 'remove', 'alice@example.org', 'Projects', 'bob@example.org'], /had no rights/],
      [['share', 'alice@example.org'], /usage: mailroom share/],
    ];
    const results = await cli(f.dataDir, cases.map(([args]) => args));
    results.forEach((r, i) => {
      assert.equal(r.code, 1, cases[i]![0].join(' '));
      assert.match(r.err, cases[i]![1], cases[i]![0].join(' '));
    });
  });

  test('public create: every user sees Public/NAME with the given rights', async () => {
    const [created, again, granted] = await cli(f.dataDir, [
      ['public', 'create', 'News'],
      ['public', 'create', 'News'],
      ['share', 'public', 'News', 'bob@example.org', 'lrswi'],
    ]);
    assert.equal(created!.out, 'created public folder News (anyone: lr)\n');
    assert.equal(again!.code, 1);
    assert.match(again!.err, /already exists/);
    assert.equal(granted!.code, 0, granted!.err);
    assert.match(await b.cmd('LIST "" "Public/*" RETURN (MYRIGHTS)', 'p'), /\* LIST \(\\HasNoChildren\) "\/" "Public\/News"\r\n\* MYRIGHTS Public\/News lrwsi\r\np OK/);
    assert.match(await b.cmd('APPEND Public/News {5+}\r\nHi!\r\n', 'a'), /^a OK \[APPENDUID \d+ 1\]/);
    const [list] = await cli(f.dataDir, [['public', 'list']]);
    assert.equal(list!.out, 'News\nNews\tanyone\tlr\nNews\tbob@example.org\tlrwsi\n');
  });
});
