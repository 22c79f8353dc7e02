import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { CommandFramer, type Framed } from './framer.js';

const show = (items: Framed[]): unknown[] =>
  items.map((i) => (i.kind === 'command' ? i.tokens.map((t) => (t.kind === 'atom' ? t.value : `"${t.value.toString('utf8')}"${t.literal ? 'L' : ''}`)) : i));

function feed(input: string | Buffer, chunk: number, maxLine = 100, maxLiteral = 50): Framed[] {
  const f = new CommandFramer(maxLine, maxLiteral);
  const b = Buffer.isBuffer(input) ? input : Buffer.from(input, 'utf8');
  const out: Framed[] = [];
  for (let i = 0; i < b.length; i += chunk) out.push(...f.push(b.subarray(i, i + chunk)));
  return out;
}

const CASES: Array<[string, unknown[]]> = [
  ['CAPABILITY\r\n', [['CAPABILITY']]],
  ['putscript "a b" {5+}\r\nkeep;\r\n', [['putscript', '"a b"', '"keep;"L']]],
  ['PUTSCRIPT "x" {3}\r\nabc\r\nNOOP\r\n', [['PUTSCRIPT', '"x"', '"abc"L'], ['NOOP']]],
  ['GETSCRIPT "q\\"uo\\\\te"\r\n', [['GETSCRIPT', '"q"uo\\te"']]],
  ['HAVESPACE "x" 123\r\n', [['HAVESPACE', '"x"', '123']]],
  ['NOOP\n', [['NOOP']]],
  ['\r\nNOOP\r\n', [{ kind: 'bad', message: 'Empty command' }, ['NOOP']]],
  ['GETSCRIPT "bad\\n"\r\nNOOP\r\n', [{ kind: 'bad', message: 'Bad escape in quoted string' }, ['NOOP']]],
  ['GETSCRIPT {x}\r\nNOOP\r\n', [{ kind: 'bad', message: 'Bad literal' }, ['NOOP']]],
  ['A\rB\r\nNOOP\r\n', [{ kind: 'bad', message: 'Bare CR in command' }, ['NOOP']]],
  [`NOOP ${'x'.repeat(150)}\r\nNOOP\r\n`, [{ kind: 'bad', message: 'Line too long (the limit is 100 octets)' }, ['NOOP']]],
  [`PUTSCRIPT "big" {60+}\r\n${'y'.repeat(60)}\r\nNOOP\r\n`, [{ kind: 'too-big', atom: 'PUTSCRIPT', size: 60 }, ['NOOP']]],
];

test('framer: commands, strings, literals and bad input, fed in every chunk size', () => {
  for (const [input, want] of CASES) {
    for (const chunk of [1, 2, 3, 7, 1000]) assert.deepEqual(show(feed(input, chunk)), want, `${JSON.stringify(input)} in chunks of ${chunk}`);
  }
});

test('framer: a long line without CRLF is refused once, then the next line is read', () => {
  const f = new CommandFramer(100, 50);
  const out = [...f.push(Buffer.from('x'.repeat(300))), ...f.push(Buffer.from('y'.repeat(300))), ...f.push(Buffer.from('\r\nNOOP\r\n'))];
  assert.deepEqual(show(out), [{ kind: 'bad', message: 'Line too long (the limit is 100 octets)' }, ['NOOP']]);
});

test('framer: reset forgets what was buffered (STARTTLS)', () => {
  const f = new CommandFramer(100, 50);
  assert.deepEqual(f.push(Buffer.from('NOOP "x')), []);
  f.reset();
  assert.deepEqual(show(f.push(Buffer.from('LOGOUT\r\n'))), [['LOGOUT']]);
});

test('framer: arbitrary bytes never throw, and a NOOP after a line end is always found', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), fc.integer({ min: 1, max: 17 }), (bytes, chunk) => {
      const junk = Buffer.from(bytes).filter((b) => b !== 0x7b); // no literal headers: they could swallow what follows
      const items = feed(Buffer.concat([Buffer.from(junk), Buffer.from('\r\nNOOP\r\n')]), chunk, 1000, 50);
      const last = items[items.length - 1];
      return last?.kind === 'command' && last.tokens.length === 1 && last.tokens[0]!.kind === 'atom' && last.tokens[0]!.value === 'NOOP';
    }),
  );
});
