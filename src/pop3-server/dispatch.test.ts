import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { COMMANDS, splitCommand } from './dispatch.js';
import { formatLines, formatStatus, err, ok } from './reply.js';
import { oneMsg, optionalMsg } from './command.js';

function parse(line: string): 'unknown' | { ok: boolean; error?: string } {
  const { keyword, args } = splitCommand(line);
  const cmd = COMMANDS.get(keyword);
  if (!cmd) return 'unknown';
  const p = cmd.prepare(args);
  return p.ok ? { ok: true } : { ok: false, error: p.error };
}

test('dispatch table: every RFC 1939/2449/2595/5034 command, with its states', () => {
  const states = Object.fromEntries([...COMMANDS.values()].map((c) => [c.name, c.states.join(',')]));
  assert.deepEqual(states, {
    APOP: 'authorization',
    AUTH: 'authorization',
    CAPA: 'authorization,transaction',
    DELE: 'transaction',
    LIST: 'transaction',
    NOOP: 'transaction',
    PASS: 'authorization',
    QUIT: 'authorization,transaction',
    RETR: 'transaction',
    RSET: 'transaction',
    STAT: 'transaction',
    STLS: 'authorization',
    TOP: 'transaction',
    UIDL: 'transaction',
    USER: 'authorization',
  });
});

test('keywords are case-insensitive; arguments follow the first space', () => {
  assert.deepEqual(splitCommand('retr 1'), { keyword: 'RETR', args: '1' });
  assert.deepEqual(splitCommand('PASS  two  spaces '), { keyword: 'PASS', args: ' two  spaces ' });
  assert.deepEqual(splitCommand('Stat'), { keyword: 'STAT', args: '' });
  assert.equal(parse('XYZZY'), 'unknown');
  assert.equal(parse(''), 'unknown');
});

test('argument parsers: good and bad forms', () => {
  const good = ['STAT', 'LIST', 'LIST 1', 'list 12', 'UIDL', 'UIDL 3', 'RETR 1', 'DELE 7', 'TOP 1 0', 'TOP 2 10', 'NOOP', 'RSET', 'QUIT', 'CAPA', 'STLS',
    'USER alice@example.org', 'PASS secret with spaces', 'APOP bob c4c9334bac560ecc979e58001b3e22fb', 'AUTH', 'AUTH PLAIN', 'AUTH plain AGEAYg==', 'AUTH LOGIN'];
  for (const line of good) assert.deepEqual(parse(line), { ok: true }, line);
  const badLines = ['STAT 1', 'LIST x', 'LIST 1 2', 'LIST -1', 'RETR', 'RETR 1 2', 'RETR abc', 'RETR 1234567890', 'DELE', 'TOP 1', 'TOP 1 x', 'TOP x 1',
    'NOOP now', 'RSET 1', 'QUIT please', 'USER', 'USER a b', 'PASS', 'APOP bob', 'APOP bob nothex', 'AUTH PLAIN a b'];
  for (const line of badLines) {
    const r = parse(line);
    assert.ok(r !== 'unknown' && !r.ok && typeof r.error === 'string' && r.error.length > 0, line);
  }
});

test('reply formatting: status lines, response codes, no CR/LF injection, dot-stuffed lines', () => {
  assert.equal(formatStatus(ok('1 2')), '+OK 1 2\r\n');
  assert.equal(formatStatus(ok('')), '+OK\r\n');
  assert.equal(formatStatus(err('locked', 'IN-USE')), '-ERR [IN-USE] locked\r\n');
  assert.equal(formatStatus(err('a\r\nb')), '-ERR a  b\r\n');
  assert.equal(formatLines(['1 10', '.dot']), '1 10\r\n..dot\r\n.\r\n');
  assert.equal(formatLines([]), '.\r\n');
});

test('the parser never throws on arbitrary lines (fast-check)', () => {
  const keywords = [...COMMANDS.keys(), 'XTND', 'retr', 'Top'];
  const line = fc.oneof(
    fc.string({ maxLength: 300 }),
    fc.tuple(fc.constantFrom(...keywords), fc.array(fc.oneof(fc.string({ maxLength: 12 }), fc.nat().map(String), fc.constantFrom('', ' ', '-1', '0', '=', '*')), { maxLength: 4 })).map(([k, a]) => [k, ...a].join(' ')),
  );
  fc.assert(
    fc.property(line, (l) => {
      const r = parse(l);
      assert.ok(r === 'unknown' || typeof r.ok === 'boolean');
    }),
    { numRuns: 2000 },
  );
});

test('message-number arguments: bare digits and spaced forms give the same number; leading zeros are dropped; more than nine significant digits or anything else is refused', () => {
  for (const parse of [oneMsg, optionalMsg]) {
    assert.deepEqual(parse('7'), { ok: true, value: { msg: 7 } });
    assert.deepEqual(parse('007'), { ok: true, value: { msg: 7 } });
    assert.deepEqual(parse('  7  '), { ok: true, value: { msg: 7 } });
    assert.deepEqual(parse('123456789'), { ok: true, value: { msg: 123456789 } });
    assert.deepEqual(parse('0000000000123456789'), { ok: true, value: { msg: 123456789 } });
    assert.deepEqual(parse(' 00000000000 '), { ok: true, value: { msg: 0 } });
    for (const bad of ['1234567890', '01234567890', '+1', '-1', '1.5', 'x', '1 2', '\u0661']) assert.equal(parse(bad).ok, false, bad);
  }
  assert.equal(oneMsg('').ok, false);
  assert.deepEqual(optionalMsg(''), { ok: true, value: { msg: null } });
});
