/**
 * THREAD / UID THREAD: raw-socket transcripts (REFERENCES, ORDEREDSUBJECT, REFS, search keys, bad input) and
 * the thread-list rendering (placeholders, chains, nesting, deep chains without recursion).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { RawClient, startImap } from '../../../test/imap-helpers.js';
import type { ImapFixture } from '../../../test/imap-helpers.js';
import type { ThreadNode } from '../../mailsort/index.js';
import { renderThreads } from './thread.js';

function msg(subject: string, day: number, id: string, refs: string | null): string {
  return [
    'From: a@example.org',
    `Subject: ${subject}`,
    `Date: ${day} Jan 2021 10:00:00 +0000`,
    `Message-ID: <${id}@example.org>`,
    ...(refs ? [`References: ${refs}`] : []),
    '',
    'x',
    '',
  ].join('\r\n');
}

describe('THREAD raw transcripts', () => {
  let f: ImapFixture;
  before(async () => {
    f = await startImap();
    await f.append(msg('Plan', 1, 'root', null));
    await f.append(msg('Re: Plan', 2, 'r1', '<root@example.org>'));
    await f.append(msg('Lunch', 3, 'lunch', null));
    await f.append(msg('Re: Plan', 4, 'r2', '<root@example.org>'));
    await f.append(msg('Re: Plan', 5, 'r3', '<root@example.org> <r2@example.org>'));
  });
  after(async () => {
    await f.close();
  });

  test('REFERENCES, ORDEREDSUBJECT and REFS', async () => {
    const c = await RawClient.connect(f.port);
    await c.login();
    await c.cmd('EXAMINE INBOX');
    assert.equal(await c.cmd('THREAD REFERENCES UTF-8 ALL', 'a'), '* THREAD (1 (2)(4 5))(3)\r\na OK Thread completed\r\n');
    assert.equal(await c.cmd('THREAD ORDEREDSUBJECT US-ASCII ALL', 'b'), '* THREAD (1 (2)(4)(5))(3)\r\nb OK Thread completed\r\n');
    assert.equal(await c.cmd('THREAD REFS UTF-8 ALL', 'c'), '* THREAD (3)(1 (2)(4 5))\r\nc OK Thread completed\r\n');
    // Without the root, its replies hang under a placeholder (REFERENCES step 3 keeps a dummy with two children).
    assert.equal(await c.cmd('UID THREAD REFERENCES UTF-8 2:5', 'd'), '* THREAD ((2)(4 5))(3)\r\nd OK Thread completed\r\n');
    assert.equal(await c.cmd('THREAD REFERENCES UTF-8 SUBJECT nothing-matches', 'e'), '* THREAD\r\ne OK Thread completed\r\n');
    c.close();
  });

  test('bad input gets BAD or NO and the connection goes on', async () => {
    const c = await RawClient.connect(f.port);
    await c.login();
    assert.equal(await c.cmd('THREAD REFERENCES UTF-8 ALL', 'a'), 'a BAD No mailbox selected\r\n');
    await c.cmd('EXAMINE INBOX');
    assert.equal(await c.cmd('THREAD FOO UTF-8 ALL', 'b'), 'b BAD Unknown thread algorithm FOO\r\n');
    assert.match(await c.cmd('THREAD REFERENCES', 'c'), /^c BAD /);
    assert.equal(await c.cmd('THREAD REFERENCES UTF-8', 'd'), 'd BAD Missing search criteria\r\n');
    assert.equal(await c.cmd('THREAD REFERENCES X-BOGUS-9 ALL', 'e'), 'e NO [BADCHARSET (UTF-8 US-ASCII)] Unsupported charset\r\n');
    assert.equal(await c.cmd('NOOP', 'f'), 'f OK NOOP completed\r\n');
    c.close();
  });
});

describe('renderThreads', () => {
  const leaf = (uid: number): ThreadNode => ({ uid, children: [] });
  test('chains, nested replies and placeholders (RFC 5256 section 4 examples)', () => {
    const forest: ThreadNode[] = [
      { uid: 2, children: [leaf(83)] },
      { uid: 46, children: [] },
      { uid: null, children: [leaf(3), leaf(5)] },
      { uid: 1, children: [{ uid: 2, children: [leaf(3), { uid: 4, children: [leaf(5)] }] }] },
    ];
    assert.equal(renderThreads(forest, (u) => u).toString(), '(2 83)(46)((3)(5))(1 2 (3)(4 5))');
    assert.equal(renderThreads([], (u) => u).toString(), '');
    assert.equal(renderThreads([leaf(7)], (u) => u * 10).toString(), '(70)');
  });

  test('a chain of 200,000 replies renders without recursion', () => {
    const root: ThreadNode = { uid: 1, children: [] };
    let n = root;
    for (let i = 2; i <= 200_000; i++) {
      const next: ThreadNode = { uid: i, children: [] };
      n.children.push(next);
      n = next;
    }
    const out = renderThreads([root], (u) => u).toString();
    assert.ok(out.startsWith('(1 2 3 ') && out.endsWith(' 200000)'));
  });
});
