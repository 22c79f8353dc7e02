/**
 * LIST pattern matching stays cheap and exact: characters outside the Basic Multilingual Plane, a load of
 * long names and long patterns that must not hold up other sessions, the patterns-per-command bound and the
 * mailboxes-per-user bound of CREATE.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { patternMatcher } from './list.js';
import { RawClient, startImap, type ImapFixture } from '../../../test/imap-helpers.js';

/** The bounds under test (list-pattern.ts). */
const MAX_LIST_PATTERNS = 32;
const MAX_MAILBOXES_PER_USER = 10_000;
const MAX_SUBSCRIPTIONS_PER_USER = 10_000;

test('LIST patterns with characters outside the BMP match like any other character', () => {
  const names = ['\u{1F600}', '\u{1F600}/child', '\u{1F600}x', 'a\u{1D11E}b', 'a\u{1D11E}b/\u{1F600}', 'ab'];
  const hits = (p: string): string[] => names.filter(patternMatcher(p));
  assert.deepEqual(hits('\u{1F600}'), ['\u{1F600}']);
  assert.deepEqual(hits('\u{1F600}*'), ['\u{1F600}', '\u{1F600}/child', '\u{1F600}x']);
  assert.deepEqual(hits('\u{1F600}%'), ['\u{1F600}', '\u{1F600}x']);
  assert.deepEqual(hits('%/\u{1F600}'), ['a\u{1D11E}b/\u{1F600}']);
  assert.deepEqual(hits('a%b'), ['a\u{1D11E}b', 'ab']);
  assert.deepEqual(hits('*\u{1F600}'), ['\u{1F600}', 'a\u{1D11E}b/\u{1F600}']);
  // A lone surrogate (modified UTF-7 can spell one) matches no well-formed name.
  assert.deepEqual(hits('\uD83D*'), []);
});

test('LIST patterns match the letters INBOX of INBOX and its children in any case, other names exactly', () => {
  const names = ['INBOX', 'INBOX/Sub', 'INBOXES', 'inboxes', 'Inbox2/x', 'box'];
  const hits = (p: string): string[] => names.filter(patternMatcher(p));
  assert.deepEqual(hits('i*'), ['INBOX', 'INBOX/Sub', 'inboxes']);
  assert.deepEqual(hits('i%'), ['INBOX', 'inboxes']);
  assert.deepEqual(hits('*box'), ['INBOX', 'box']);
  assert.deepEqual(hits('InBoX/S*'), ['INBOX/Sub']);
  assert.deepEqual(hits('InBoX/s*'), []);
  assert.deepEqual(hits('%/Sub'), ['INBOX/Sub']);
  assert.deepEqual(hits('inbox/sub'), [], 'below INBOX, names match exactly');
  assert.deepEqual(hits('*X*'), ['INBOX', 'INBOX/Sub', 'INBOXES']);
});

test('LIST matching agrees with a code-point regular expression, astral characters included', () => {
  const ch = fc.constantFrom('a', 'b', '/', '\u{1F600}', '\u00e9');
  const pat = fc.array(fc.oneof(ch, fc.constantFrom('*', '%')), { maxLength: 10 }).map((a) => a.join(''));
  const name = fc.array(ch, { maxLength: 10 }).map((a) => a.join(''));
  fc.assert(
    fc.property(pat, name, (p, n) => {
      const re = new RegExp('^' + [...p].map((c) => (c === '*' ? '.*' : c === '%' ? '[^/]*' : c)).join('') + '$', 'su');
      assert.equal(patternMatcher(p)(n), re.test(n), `${p} ${n}`);
    }),
    { numRuns: 3000 },
  );
});

/** The reference: a (pattern x name) table over characters (a regular expression backtracks for ages here). */
function tableMatch(pattern: string[], name: string[]): boolean {
  let cur = name.map(() => false);
  cur.unshift(true);
  for (const c of pattern) {
    const next: boolean[] = [];
    for (let j = 0; j <= name.length; j++) {
      if (c === '*') next[j] = cur[j]! || (j > 0 && next[j - 1]!);
      else if (c === '%') next[j] = cur[j]! || (j > 0 && name[j - 1] !== '/' && next[j - 1]!);
      else next[j] = j > 0 && cur[j - 1]! && name[j - 1] === c;
    }
    cur = next;
  }
  return cur[name.length]!;
}

test('LIST matching of patterns longer than one 32-bit word of automaton states', () => {
  // Names made from the pattern itself (wildcards filled in), sometimes with one character changed.
  const part = fc.constantFrom('a', 'a', 'b', '/', '%', '*', '\u{1F600}');
  const fill = fc.array(fc.constantFrom('a', 'b', '/'), { maxLength: 3 }).map((a) => a.join(''));
  const arb = fc
    .array(part, { minLength: 30, maxLength: 90 })
    .chain((ps) => fc.tuple(fc.constant(ps), fc.array(fill, { minLength: ps.length, maxLength: ps.length }), fc.nat(120)));
  fc.assert(
    fc.property(arb, ([ps, fills, flip]) => {
      const p = ps.join('');
      const chars = ps.map((c, i) => (c === '*' ? fills[i]! : c === '%' ? fills[i]!.replace(/\//g, 'a') : c));
      if (flip < chars.length) chars[flip] = chars[flip] === 'a' ? 'b' : 'a';
      const n = chars.join('');
      assert.equal(patternMatcher(p)(n), tableMatch(ps, [...n]), `${p} ${n}`);
    }),
    { numRuns: 2000 },
  );
});

describe('LIST and CREATE bounds on a server', () => {
  let f: ImapFixture;
  before(async () => {
    f = await startImap({ maxLineLength: 64 * 1024 });
  });
  after(async () => {
    await f.close();
  });

  test("200 long names and 5 long patterns do not hold up another session's NOOP", async () => {
    // Names of ~1000 octets, each differing only at the end, so every pattern has to look at all of it.
    for (let i = 0; i < 200; i++) await f.store.mail.createMailbox(f.user.id, `${'a'.repeat(480)}/${'a'.repeat(500)}${i}`);
    const patterns = ['*a'.repeat(500) + 'b', '%a'.repeat(500) + 'b', 'a*'.repeat(400) + 'b', '*a%'.repeat(330) + 'b', 'a'.repeat(479) + '%' + '*a'.repeat(260)];
    const a = await RawClient.connect(f.port);
    const b = await RawClient.connect(f.port);
    await a.login();
    await b.login();
    const quoted = patterns.map((p) => `"${p}"`).join(' ');
    // Client and server share this process's event loop, so a LIST that hogged the loop would hold up the
    // NOOP's answer and the LISTs' own by seconds (the quadratic matcher took ~2 s per pattern here).
    const t0 = Date.now();
    a.write(`l1 LIST "" (${quoted})\r\nl2 LIST "" (${quoted})\r\n`);
    b.write('n1 NOOP\r\n');
    assert.match(await b.waitTagged('n1', 120_000), /^n1 OK/m);
    const waited = Date.now() - t0;
    assert.match(await a.waitTagged('l2', 120_000), /^l2 OK LIST completed\r\n$/m);
    const total = Date.now() - t0;
    assert.ok(waited < 2000, `NOOP of another session waited ${waited} ms behind LIST`);
    assert.ok(total < 4000, `two LISTs of 5 patterns over 200 names took ${total} ms`);
    // And the answer is right: "*a...b" matches nothing, "%a%a..." nothing (every name has a "/").
    assert.equal((await a.cmd(`LIST "" "${'a'.repeat(480)}/*9"`, 'l4')).split('\r\n').filter((l) => l.startsWith('* LIST')).length, 20);
    a.close();
    b.close();
  });

  test(`LIST takes at most ${MAX_LIST_PATTERNS} patterns`, async () => {
    const c = await RawClient.connect(f.port);
    await c.login();
    const many = (n: number): string => Array.from({ length: n }, (_, i) => `"x${i}"`).join(' ');
    assert.match(await c.cmd(`LIST "" (${many(MAX_LIST_PATTERNS)})`, 'ok'), /^ok OK LIST completed\r\n$/);
    assert.match(await c.cmd(`LIST "" (${many(MAX_LIST_PATTERNS + 1)})`, 'big'), /^big BAD .*patterns/);
    assert.match(await c.cmd('NOOP', 'n'), /^n OK/, 'the connection goes on');
    c.close();
  });

  test(`CREATE answers NO [LIMIT] beyond ${MAX_MAILBOXES_PER_USER} mailboxes`, async () => {
    const have = (await f.store.mail.listMailboxes(f.user.id)).length;
    for (let i = have; i < MAX_MAILBOXES_PER_USER; i++) await f.store.mail.createMailbox(f.user.id, `m${i}`);
    const c = await RawClient.connect(f.port);
    await c.login();
    assert.equal(await c.cmd('CREATE one-more', 'c1'), 'c1 NO [LIMIT] Too many mailboxes\r\n');
    const last = `m${MAX_MAILBOXES_PER_USER - 1}`;
    assert.equal(await c.cmd(`CREATE ${last}`, 'c2'), 'c2 NO [ALREADYEXISTS] Mailbox already exists\r\n');
    assert.match(await c.cmd(`DELETE ${last}`, 'd'), /^d OK/);
    assert.match(await c.cmd('CREATE fits', 'c3'), /^c3 OK/);
    assert.equal(await c.cmd('CREATE x/y', 'c4'), 'c4 NO [LIMIT] Too many mailboxes\r\n', 'a missing parent counts too');
    assert.equal(await c.cmd('RENAME fits x/fits', 'r1'), 'r1 NO [LIMIT] Too many mailboxes\r\n', 'so does one of RENAME');
    assert.match(await c.cmd('RENAME fits fits2', 'r2'), /^r2 OK/);
    c.close();
  });

  test(`SUBSCRIBE answers NO [LIMIT] beyond ${MAX_SUBSCRIPTIONS_PER_USER} subscriptions`, async () => {
    // Subscriptions outlive DELETE, so they are bounded apart from the mailboxes.
    const have = (await f.store.mail.listSubscriptions(f.user.id)).length;
    for (let i = have; i < MAX_SUBSCRIPTIONS_PER_USER; i++) await f.store.mail.setSubscribed(f.user.id, `gone${i}`, true);
    const c = await RawClient.connect(f.port);
    await c.login();
    assert.equal(await c.cmd('SUBSCRIBE fits2', 's1'), 's1 NO [LIMIT] Too many subscriptions\r\n');
    assert.match(await c.cmd(`UNSUBSCRIBE gone${MAX_SUBSCRIPTIONS_PER_USER - 1}`, 'u'), /^u OK/);
    assert.match(await c.cmd('SUBSCRIBE fits2', 's2'), /^s2 OK/);
    assert.match(await c.cmd('SUBSCRIBE fits2', 's3'), /^s3 OK/, 'an existing subscription is no new one');
    c.close();
  });
});
