/**
 * Fuzzing whole POP3 sessions (fast-check): random and mutated command lines, before and after login,
 * fed in random chunks over an in-memory stream. Whatever arrives, the session must end cleanly, nothing
 * may be logged as an internal error, every framed line must get exactly one well-formed reply in order,
 * and the service must stay usable.
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

/**
 * Replays the session against the output: the server must answer the lines it framed (split at LF) in
 * order, one reply each ("+ " continuations take the next line as their answer), multi-line replies
 * exactly where RFC 1939/2449 say, and stop only after a reply that ends the session.
 */
function checkReplies(input: Buffer, output: Buffer): void {
  const text = output.toString('latin1');
  let pos = 0;
  const readLine = (): string | null => {
    const i = text.indexOf('\r\n', pos);
    if (i === -1) return null;
    const l = text.slice(pos, i);
    pos = i + 2;
    return l;
  };
  const readBody = (): void => {
    if (text.startsWith('.\r\n', pos)) {
      pos += 3;
      return;
    }
    const i = text.indexOf('\r\n.\r\n', pos);
    assert.ok(i !== -1, `unterminated multi-line reply at ${pos}`);
    pos = i + 5;
  };
  const greeting = readLine();
  assert.match(greeting ?? '', /^\+OK /, 'greeting first');
  const framed = input.toString('latin1').split('\n');
  framed.pop(); // bytes after the last LF never form a line
  let inAuth = false;
  for (const raw of framed) {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    const status = readLine();
    if (status === null) {
      assert.equal(pos, text.length, 'no partial reply at the end');
      return; // the server closed earlier, after a closing reply (checked below)
    }
    assert.match(status, /^(\+OK|-ERR|\+ )/, `reply to ${JSON.stringify(line)}`);
    if (status.startsWith('+ ')) {
      inAuth = true;
      continue; // the next framed line answers the challenge
    }
    const wasAuthAnswer = inAuth;
    inAuth = false;
    const sp = line.indexOf(' ');
    const keyword = (sp === -1 ? line : line.slice(0, sp)).toUpperCase();
    const noArgs = sp === -1 || line.slice(sp + 1).trim() === '';
    const multi = !wasAuthAnswer && status.startsWith('+OK') && line.length + 2 <= 255 &&
      (keyword === 'CAPA' || keyword === 'RETR' || keyword === 'TOP' || (noArgs && (keyword === 'LIST' || keyword === 'UIDL' || keyword === 'AUTH')));
    if (multi) readBody();
    if (/signing off|closing|Autologout|shutting down|Connection closed/.test(status) || (keyword === 'STLS' && status.startsWith('+OK'))) {
      assert.equal(pos, text.length, `nothing after the closing reply ${JSON.stringify(status)}`);
      return;
    }
  }
  if (inAuth) {
    // Input ended while a challenge was open: one -ERR ends the exchange and the session.
    assert.match(readLine() ?? '', /^-ERR /);
  }
  assert.equal(pos, text.length, 'no reply without a command');
}

test('fuzz: random and mutated command lines in random chunks never break a session', async (t) => {
  const logLines: LogLine[] = [];
  const f = await startPop3({ logger: memoryLogger(logLines) });
  t.after(() => f.close());
  // Plain bodies (no bare CR/LF): every line of output must then be CRLF-terminated.
  for (let i = 0; i < 3; i++) await f.append(message(`fuzz${i}`, '.dot\r\nbody\r\n'));
  await f.store.directory.setPasswordHash(USER, `{PLAIN}${PASSWORD}`);
  await fc.assert(
    fc.asyncProperty(session, async ({ login, lines, ending, cuts }) => {
      const count = (await f.store.mail.listMessages(f.inbox.id)).length;
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
      checkReplies(input, await c.closedBytes());
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
