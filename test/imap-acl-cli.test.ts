/**
 * `mailroom share` and `mailroom public` against the data directory of a running IMAP server: grants made on
 * the command line are what bob's IMAP session sees at once (LIST, MYRIGHTS, SELECT), listing prints the
 * entries, revoking and bad input (unknown rights, unknown owner or mailbox, the owner as grantee) fail with
 * a message and exit status 1.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { hashPassword } from '../src/auth/index.js';
import { RawClient, startImap, PASSWORD, message, type ImapFixture } from './imap-helpers.js';
import { ROOT } from './helpers/cli.js';

type CliResult = { code: number; out: string; err: string };

const MARK = /\n@@(-?\d+)\n/;

/**
 * The CLI from source (no build needed) in one long-lived child process, so tsx starts once for the whole
 * file: each run is one JSON line of arguments on its stdin, run by main() on the fixture's data directory,
 * its output on stdout and stderr each followed by a "@@<exit status>" marker line.
 */
class CliRunner {
  readonly #child: ChildProcess;
  #out = '';
  #err = '';
  #wake: (() => void) | null = null;

  constructor(dataDir: string) {
    const script = `
      const { main } = await import(${JSON.stringify(pathToFileURL(join(ROOT, 'src', 'cli', 'main.ts')).href)});
      const { createInterface } = await import('node:readline');
      for await (const line of createInterface({ input: process.stdin })) {
        const code = await main([...JSON.parse(line), '--data', process.argv[1]]);
        process.stdout.write('\\n@@' + code + '\\n');
        process.stderr.write('\\n@@' + code + '\\n');
      }`;
    this.#child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, dataDir], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    this.#child.stdout!.on('data', (d: Buffer) => {
      this.#out += d.toString('utf8');
      this.#wake?.();
    });
    this.#child.stderr!.on('data', (d: Buffer) => {
      this.#err += d.toString('utf8');
      this.#wake?.();
    });
    this.#child.on('close', () => this.#wake?.());
  }

  /** Runs each argument list in turn; the results in the same order. */
  async run(runs: string[][]): Promise<CliResult[]> {
    const results: CliResult[] = [];
    for (const args of runs) {
      this.#child.stdin!.write(JSON.stringify(args) + '\n');
      const deadline = Date.now() + 40_000;
      while (!(MARK.test(this.#out) && MARK.test(this.#err))) {
        if (this.#child.exitCode !== null || Date.now() > deadline) throw new Error(`CLI runner stopped: ${this.#err}`);
        await new Promise<void>((resolve) => {
          this.#wake = resolve;
          setTimeout(resolve, 1000);
        });
      }
      const o = MARK.exec(this.#out)!;
      const e = MARK.exec(this.#err)!;
      results.push({ code: Number(o[1]), out: this.#out.slice(0, o.index), err: this.#err.slice(0, e.index) });
      this.#out = this.#out.slice(o.index + o[0].length);
      this.#err = this.#err.slice(e.index + e[0].length);
    }
    return results;
  }

  close(): void {
    this.#child.stdin!.end();
  }
}

const SHARED = 'shared/alice@example.org/Projects';

describe('mailroom share / public', () => {
  let f: ImapFixture;
  let b: RawClient;
  let runner: CliRunner;

  before(async () => {
    f = await startImap();
    await f.store.directory.createUser('bob@example.org', await hashPassword(PASSWORD));
    await f.store.mail.createMailbox(f.user.id, 'Projects');
    await f.append(message('Plan', 'first'), [], 'Projects');
    b = await RawClient.connect(f.port);
    await b.login('bob@example.org');
    runner = new CliRunner(f.dataDir);
  });
  after(async () => {
    runner.close();
    b.close();
    await f.close();
  });

  test('share, list, change, remove; bob sees each step over IMAP', async () => {
    const [grant] = await runner.run([['share', 'alice@example.org', 'Projects', 'Bob@Example.org', 'lr']]);
    assert.deepEqual(grant, { code: 0, out: 'Projects of alice@example.org: bob@example.org has lr\n', err: '' });
    assert.equal(await b.cmd(`MYRIGHTS "${SHARED}"`, 'm'), `* MYRIGHTS ${SHARED} lr\r\nm OK Myrights completed.\r\n`);
    assert.match(await b.cmd(`SELECT "${SHARED}"`, 's'), /\* 1 EXISTS\r\n[\s\S]*s OK \[READ-ONLY\]/);
    await b.cmd('UNSELECT');

    const [add, anyone, list] = await runner.run([
      ['share', 'alice@example.org', 'Projects', 'bob@example.org', '+swi'],
      ['share', 'alice@example.org', 'Projects', 'anyone', 'c'],
      ['share', 'list', 'alice@example.org'],
    ]);
    assert.equal(add!.out, 'Projects of alice@example.org: bob@example.org has lrwsi\n');
    assert.equal(anyone!.out, 'Projects of alice@example.org: anyone has kxc\n');
    assert.equal(list!.out, 'Projects\tanyone\tkxc\nProjects\tbob@example.org\tlrwsi\n');
    assert.equal(await b.cmd(`MYRIGHTS "${SHARED}"`, 'm2'), `* MYRIGHTS ${SHARED} lrwsi\r\nm2 OK Myrights completed.\r\n`);

    const [removed, none] = await runner.run([
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
    const results = await runner.run(cases.map(([args]) => args));
    results.forEach((r, i) => {
      assert.equal(r.code, 1, cases[i]![0].join(' '));
      assert.match(r.err, cases[i]![1], cases[i]![0].join(' '));
    });
  });

  test('public create: every user sees Public/NAME with the given rights', async () => {
    const [created, again, granted] = await runner.run([
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
    const [list] = await runner.run([['public', 'list']]);
    assert.equal(list!.out, 'News\nNews\tanyone\tlr\nNews\tbob@example.org\tlrwsi\n');
  });
});
