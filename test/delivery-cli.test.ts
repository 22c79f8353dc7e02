import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Command } from 'commander';
import { registerDomainCommands } from '../src/cli/domain.js';
import { openServerStore } from '../src/server/store.js';
import { describeError } from '../src/cli/common.js';
import { makeEnv } from './delivery/helpers.js';

/** Runs one command line in-process the way the mailroom main does: one line on error, exit code 1. */
async function run(dataDir: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const program = new Command('mailroom').exitOverride();
  registerDomainCommands(program, () => openServerStore({ dataDir }));
  let stdout = '';
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string | Uint8Array) => {
    stdout += chunk.toString();
    return true;
  }) as typeof process.stdout.write;
  try {
    await program.parseAsync(args, { from: 'user' });
    return { code: 0, stdout, stderr: '' };
  } catch (e) {
    return { code: 1, stdout, stderr: `mailroom: ${describeError(e)}\n` };
  } finally {
    process.stdout.write = write;
  }
}

test('domain, alias and queue commands', async () => {
  const env = await makeEnv([['alice@example.org', 'pw']]);
  const dir = env.dir;
  await env.store.queue.enqueue('alice@example.org', ['x@remote.test'], Buffer.from('Subject: q\r\n\r\nq\r\n'));
  await env.store.close();
  try {
    let r = await run(dir, ['domain', 'add', 'Example.NET']);
    assert.deepEqual(r, { code: 0, stdout: 'added domain example.net\n', stderr: '' });
    r = await run(dir, ['domain', 'add', 'example.net']);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'mailroom: domain example.net already exists\n');
    r = await run(dir, ['domain', 'add', 'bad domain']);
    assert.equal(r.stderr, 'mailroom: invalid domain: bad domain\n');
    r = await run(dir, ['domain', 'list']);
    assert.equal(r.stdout, 'example.net\nexample.org\n');

    r = await run(dir, ['alias', 'add', 'Info@example.org', 'alice@example.org']);
    assert.equal(r.stdout, 'added alias info@example.org -> alice@example.org\n');
    r = await run(dir, ['alias', 'add', '@example.net', 'info@example.org']);
    assert.equal(r.stdout, 'added alias @example.net -> info@example.org\n');
    r = await run(dir, ['alias', 'add', 'info@example.org', 'alice@example.org']);
    assert.equal(r.stderr, 'mailroom: alias info@example.org already exists (-> alice@example.org)\n');
    r = await run(dir, ['alias', 'add', 'x@nowhere.test', 'alice@example.org']);
    assert.equal(r.stderr, 'mailroom: nowhere.test is not a local domain (add it with: mailroom domain add nowhere.test)\n');
    r = await run(dir, ['alias', 'add', 'y@example.org', 'ghost@example.org']);
    assert.equal(r.stderr, 'mailroom: alias target ghost@example.org is not a user or alias\n');
    r = await run(dir, ['alias', 'add', 'alice@example.org', 'info@example.org']);
    assert.equal(r.stderr, 'mailroom: alice@example.org is a user; an alias cannot shadow it\n');
    r = await run(dir, ['alias', 'add', 'not-an-address', 'alice@example.org']);
    assert.equal(r.stderr, 'mailroom: invalid alias source: not-an-address\n');
    r = await run(dir, ['alias', 'list']);
    assert.equal(r.stdout, '@example.net -> info@example.org\ninfo@example.org -> alice@example.org\n');
    r = await run(dir, ['alias', 'remove', 'info@example.org']);
    assert.equal(r.stdout, 'removed alias info@example.org\n');
    r = await run(dir, ['alias', 'remove', 'info@example.org']);
    assert.deepEqual([r.code, r.stderr], [1, 'mailroom: no alias info@example.org\n']);

    r = await run(dir, ['queue', 'list']);
    assert.match(r.stdout, /^\S+\t<alice@example\.org>\tx@remote\.test\t\d+ bytes\tattempts 0\tnext \d{4}-/);
    const id = r.stdout.split('\t')[0]!;
    let store = await openServerStore({ dataDir: dir });
    const [m] = await store.queue.list();
    await store.queue.update(id, { recipients: m!.recipients, attempts: 2, nextAttemptAt: new Date(Date.now() + 3_600_000), lastError: '451 later' });
    await store.close();
    r = await run(dir, ['queue', 'retry', 'nope']);
    assert.deepEqual([r.code, r.stderr], [1, 'mailroom: no queued message nope\n']);
    r = await run(dir, ['queue', 'retry']);
    assert.equal(r.stdout, '1 message due now\n');
    store = await openServerStore({ dataDir: dir });
    assert.equal((await store.queue.due(new Date(Date.now() + 1000), 10)).length, 1);
    assert.equal((await store.queue.list())[0]!.attempts, 2, 'attempts are kept');
    await store.close();
    r = await run(dir, ['queue', 'remove', 'nope']);
    assert.deepEqual([r.code, r.stderr], [1, 'mailroom: no queued message nope\n']);
    r = await run(dir, ['queue', 'remove', id]);
    assert.equal(r.stdout, `removed ${id}\n`);
    r = await run(dir, ['queue', 'list']);
    assert.equal(r.stdout, 'queue is empty\n');
  } finally {
    await env.close();
  }
});
