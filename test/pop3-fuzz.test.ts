/**
 * Fuzzing whole POP3 sessions (fast-check): random and mutated command lines, before and after login,
 * fed in random chunks over an in-memory stream. Whatever arrives, the session must end cleanly, nothing
 * may be logged as an internal error, replies must be well-formed, and the service must stay usable.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { memoryLogger, type LogLine } from '../src/lib/logger.js';
import { memoryConnection, message, RawPop3, startPop3, USER, PASSWORD } from './pop3-helpers.js';

const TEMPLATES = [
  'STAT', 'LIST', 'LIST 1', 'LIST 2', 'UIDL', 'UIDL 1', 'RETR 1', 'RETR 2', 'RETR 3', 'TOP 1 0', 'TOP 2 5', 'DELE 1', 'DELE 2', 'RSET', 'NOOP',
  'CAPA', 'AUTH', 'AUTH PLAIN', 'AUTH LOGIN', 'AUTH PLAIN AGFsaWNlQGV4YW1wbGUub3JnAHdyb25n', '*', `USER ${USER}`, 'PASS wrong', 'APOP x 0123456789abcdef0123456789abcdef', 'STLS', 'QUIT',
];

const mutated = fc.tuple(fc.constantFrom(...TEMPLATES), fc.nat({ max: 6 }), fc.string({ maxLength: 8 }), fc.integer({ min: -5, max: 1_000_000_000_000 })).map(([tpl, how, junk, num]) => {
  switch (how) {
    case 0:
      return tpl;
    case 1:
      return tpl.toLowerCase();
    case 2:
      return tpl.replace(/ /g, '   ');
    case 3:
      return `${tpl.split(' ')[0]} ${num}`;
    case 4:
      return tpl + junk;
    case 5:
      return tpl.slice(0, Math.max(1, tpl.length - junk.length));
    default:
      return `${tpl} ${num} ${num}`;
  }
});

const line = fc.oneof({ weight: 6, arbitrary: mutated }, { weight: 1, arbitrary: fc.string({ maxLength: 40 }) }, { weight: 1, arbitrary: fc.uint8Array({ maxLength: 60 }).map((a) => Buffer.from(a).toString('latin1')) }, { weight: 1, arbitrary: fc.constant('x'.repeat(300)) });

const session = fc.record({
  login: fc.boolean(),
  lines: fc.array(line, { maxLength: 25 }),
  ending: fc.constantFrom('\r\n', '\n'),
  cuts: fc.array(fc.nat({ max: 64 }), { maxLength: 10 }),
});

/** Checks the reply stream: status lines, continuation lines, and dot-terminated bodies only. */
function wellFormed(out: Buffer): void {
  const text = out.toString('latin1');
  const lines = text.split('\r\n');
  assert.equal(lines.pop(), '', 'output ends with CRLF');
  for (const l of lines) assert.ok(!l.includes('\n') && !l.includes('\r'), 'no bare CR or LF outside message bodies');
  assert.match(lines[0] ?? '', /^\+OK /, 'greeting first');
}

test('fuzz: random and mutated command lines in random chunks never break a session', async (t) => {
  const logLines: LogLine[] = [];
  const f = await startPop3({ logger: memoryLogger(logLines) });
  t.after(() => f.close());
  // Plain bodies (no bare CR/LF): every line of output must then be CRLF-terminated.
  for (let i = 0; i < 3; i++) await f.append(message(`fuzz${i}`, '.dot\r\nbody\r\n'));
  await f.store.setPasswordHash(USER, `{PLAIN}${PASSWORD}`);
  await fc.assert(
    fc.asyncProperty(session, async ({ login, lines, ending, cuts }) => {
      const count = (await f.store.listMessages(f.inbox.id)).length;
      for (let i = count; i < 3; i++) await f.append(message(`refill${i}`, '.dot\r\nbody\r\n'));
      const all = (login ? [`USER ${USER}`, `PASS ${PASSWORD}`] : []).concat(lines);
      const input = Buffer.from(all.map((l) => l + ending).join(''), 'latin1');
      const { c, done } = memoryConnection(f, '127.0.0.1');
      let pos = 0;
      for (const n of cuts) {
        c.send(input.subarray(pos, pos + n));
        pos = Math.min(input.length, pos + n);
        await new Promise((r) => setImmediate(r));
      }
      c.send(input.subarray(pos));
      c.socket.end();
      await done;
      wellFormed(Buffer.from(await c.closed(), 'utf8'));
      const errors = logLines.filter((l) => l.level === 'error');
      assert.deepEqual(errors, [], 'no internal errors');
    }),
    { numRuns: 120 },
  );
  // The service still works and no maildrop lock was leaked.
  const { c } = await RawPop3.open(f.port);
  assert.match(await c.login(), /^\+OK Logged in/);
  assert.match(await c.cmd('QUIT'), /^\+OK/);
});
