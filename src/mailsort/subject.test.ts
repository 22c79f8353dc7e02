import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { baseSubject } from './subject.js';
import { casemap } from './casemap.js';

function base(s: string | null): string {
  return baseSubject(s).subject;
}

test('base subject: Re/Fw/Fwd leaders, any case, repeated, with blobs inside and before them', () => {
  const cases: Array<[string, string, boolean]> = [
    ['Hello', 'Hello', false],
    ['Re: Hello', 'Hello', true],
    ['RE: re: Re:Hello', 'Hello', true],
    ['Fw: Hello', 'Hello', true],
    ['FWD: Hello', 'Hello', true],
    ['fwd:Hello', 'Hello', true],
    ['Re[2]: Hello', 'Hello', true],
    ['Re [2] : Hello', 'Hello', true],
    ['Re : Hello', 'Hello', true],
    ['[PATCH] Re: Hello', 'Hello', true],
    ['[list] [tag] Re: [list] Fwd: Hello', 'Hello', true],
    ['Reply to all', 'Reply to all', false],
    ['Re Hello', 'Re Hello', false],
    ['Fwdd: Hello', 'Fwdd: Hello', false],
    ['Ref: Hello', 'Ref: Hello', false],
    ['Hello Re: there', 'Hello Re: there', false],
  ];
  for (const [raw, want, rf] of cases) {
    assert.deepEqual(baseSubject(raw), { subject: want, replyOrForward: rf }, raw);
  }
});

test('base subject: whitespace is collapsed, leading and trailing blanks and (fwd) trailers removed', () => {
  assert.equal(base('  Hello \t  world  '), 'Hello world');
  assert.equal(base('Hello\r\n world'), 'Hello world');
  assert.deepEqual(baseSubject('Hello (fwd)'), { subject: 'Hello', replyOrForward: true });
  assert.equal(base('Hello (FWD) (fwd)  (Fwd)'), 'Hello');
  assert.equal(base('Hello(fwd)'), 'Hello');
  assert.equal(base('Hello (fwd) there'), 'Hello (fwd) there');
  assert.equal(base('(fwd)'), '');
});

test('base subject: a leading blob goes only when something is left after it', () => {
  assert.equal(base('[blob]'), '[blob]');
  assert.equal(base('[blob]   '), '[blob]');
  assert.equal(base('[a] [b]'), '[b]');
  assert.equal(base('[a][b][c] text'), 'text');
  assert.equal(base('Re: [blob]'), '[blob]');
  assert.equal(base('[blob] (fwd)'), '[blob]');
  assert.equal(base('[unclosed text'), '[unclosed text');
  assert.equal(base('[a [b] c'), '[a [b] c');
  assert.equal(base('[] x'), 'x');
});

test('base subject: [fwd: ...] wrappers, nested and mixed with leaders and trailers', () => {
  assert.deepEqual(baseSubject('[fwd: Hello]'), { subject: 'Hello', replyOrForward: true });
  assert.equal(base('[FWD: Hello]'), 'Hello');
  assert.equal(base('[fwd: [fwd: Hello]]'), 'Hello');
  assert.equal(base('Re: [fwd: Re: Hello (fwd)]'), 'Hello');
  assert.equal(base('[fwd: Re: [fwd: Fw: Hello]] (fwd)'), 'Hello');
  assert.equal(base('[fwd:]'), '');
  // A wrapper that does not span the whole subject is a blob.
  assert.equal(base('[fwd: a] b'), 'b');
  assert.equal(base('[fwd: Hello] (fwd)'), 'Hello');
  // Unwrapping can expose a blob that now has something after it.
  assert.equal(base('[fwd: [tag] Hello]'), 'Hello');
});

test('base subject: what is left may be empty', () => {
  assert.equal(base('Re:'), '');
  assert.equal(base('Re: Fwd:  '), '');
  assert.equal(base('[x] Re:'), '');
  assert.equal(base(''), '');
  assert.equal(base(null), '');
  assert.equal(base('   '), '');
});

test('base subject: RFC 2047 encoded words are decoded first, including encoded prefixes', () => {
  assert.equal(base('=?UTF-8?B?UmU6IEjDqWxsbw==?='), 'Héllo');
  assert.equal(base('Re: =?ISO-8859-1?Q?Caf=E9?= =?ISO-8859-1?Q?_ol=E9?='), 'Café olé');
  assert.equal(base('=?utf-8?q?Fwd=3A?= [list] =?utf-8?q?x?='), 'x');
  assert.equal(base('=?bogus?X?zzz?= text'), '=?bogus?X?zzz?= text');
});

test('base subject: RFC 5256 examples compare equal through i;unicode-casemap', () => {
  const forms = ['Re: hello', 'RE: Hello', 're: HELLO', 'Fwd: hello', '[fwd: hello]', 'hello (fwd)', 'Re: [list] hello'];
  const keys = new Set(forms.map((f) => casemap(base(f))));
  assert.deepEqual([...keys], ['HELLO']);
});

test('base subject: extraction is idempotent and never leaves outer blanks (property)', () => {
  const piece = fc.constantFrom('Re:', 'RE', 'fw', 'Fwd:', '[', ']', '[x]', '(fwd)', ' ', '\t', ':', 'a', 'Zz', '[fwd:', 'é');
  fc.assert(
    fc.property(fc.array(piece, { maxLength: 14 }), (parts) => {
      const once = base(parts.join(''));
      assert.equal(base(once), once);
      assert.ok(!once.startsWith(' ') && !once.endsWith(' '));
      assert.ok(!/\s{2}/.test(once));
    }),
    { numRuns: 2000 },
  );
});
