/**
 * Mutation fuzzing of ManageSieve sessions (fast-check, fixed seed): valid commands with bytes flipped,
 * noise inserted, parts repeated or cut, literals of wrong sizes, 8-bit and NUL bytes, sent in random chunks
 * before and after login. After each session nothing is logged as an internal error, a fresh connection
 * is greeted and answers NOOP, and a known active script reads back byte-identical.
 * FUZZ_RUNS=n runs more sessions and FUZZ_SEED=n others, when run by hand.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { createManageSieveService, type ManageSieveService } from '../src/managesieve/index.js';
import { memoryLogger, type LogLine } from '../src/lib/logger.js';
import { startServerFixture, PASSWORD, USER, type ServerFixture } from './helpers/server-fixture.js';
import { literal, plain, sieveConnect } from './managesieve-helpers.js';
import { sendChunks, chunkArbitrary } from './imap-fuzz-gen.js';

const KNOWN = 'require "fileinto";\r\nif header :contains "Subject" "known" { fileinto "INBOX"; }\r\nkeep;\r\n';
const AUTH = `AUTHENTICATE "PLAIN" "${plain(USER, PASSWORD)}"`;

const COMMANDS = [
  'CAPABILITY',
  'NOOP',
  'NOOP "tag"',
  'LISTSCRIPTS',
  'GETSCRIPT "known"',
  'GETSCRIPT "fuzz"',
  `PUTSCRIPT "fuzz" ${literal('keep;\r\n')}`,
  `PUTSCRIPT {4+}\r\nfuzz "discard;"`,
  'PUTSCRIPT "fuzz" "require \\"vacation\\"; vacation :days 3 \\"away\\";"',
  `CHECKSCRIPT ${literal('require ["variables", "regex"]; set "a" "${b}"; if header :regex "Subject" "(a+)+$" { stop; }')}`,
  'CHECKSCRIPT "if anyof (true, false) { keep; }"',
  'HAVESPACE "fuzz" 1000',
  'HAVESPACE "fuzz" 99999999999',
  'RENAMESCRIPT "fuzz" "fuzz2"',
  'DELETESCRIPT "fuzz2"',
  'SETACTIVE "fuzz"',
  'SETACTIVE ""',
  'SETACTIVE "known"',
  'UNAUTHENTICATE',
  AUTH,
  'AUTHENTICATE "PLAIN"',
  'STARTTLS',
  'LOGOUT',
];
const NOISE = ['{', '}', '"', '\\', '{5+}', '{99999999+}', '{3}', '{-1+}', '{4294967296+}', '\0', '\xff', '\xc3\xa9', '\r', '\n', ' ', '(', ')', '*', '18446744073709551616', 'NIL'];

/** A valid command, mutated: noise inserted or replacing a byte, a bit flipped, a slice repeated, the end cut. */
const command = fc
  .tuple(fc.constantFrom(...COMMANDS), fc.array(fc.tuple(fc.nat({ max: 4 }), fc.nat(), fc.constantFrom(...NOISE), fc.integer({ min: 2, max: 40 })), { maxLength: 3 }))
  .map(([cmd, muts]) => {
    let s = Buffer.from(cmd, 'latin1');
    for (const [how, pos, noise, n] of muts) {
      const p = pos % (s.length + 1);
      const junk = Buffer.from(noise, 'latin1');
      if (how === 0) s = Buffer.concat([s.subarray(0, p), junk, s.subarray(p)]);
      else if (how === 1) s = Buffer.concat([s.subarray(0, p), junk, s.subarray(p + 1)]);
      else if (how === 2 && s.length > 0) s[p % s.length] = s[p % s.length]! ^ (1 << n % 8);
      else if (how === 3) s = Buffer.concat([s.subarray(0, p), ...Array<Buffer>(n).fill(s.subarray(p, p + 8)), s.subarray(p)]);
      else s = s.subarray(0, p);
    }
    return s;
  });

let f: ServerFixture<ManageSieveService>;
const lines: LogLine[] = [];
before(async () => {
  f = await startServerFixture({ prefix: 'mailroom-fuzz-msieve-', fsync: false, passwordHash: `{PLAIN}${PASSWORD}` }, (store, auth) =>
    createManageSieveService({ store, auth, logger: memoryLogger(lines), quota: { maxScripts: 5, maxScriptSize: 4000, maxStorage: 20000 } }),
  );
  const { c } = await sieveConnect(f.port);
  assert.match((await c.cmd(AUTH)).status, /^OK/);
  assert.match((await c.cmd(`PUTSCRIPT "known" ${literal(KNOWN)}`)).status, /^OK/);
  assert.match((await c.cmd('SETACTIVE "known"')).status, /^OK/);
  c.socket.destroy();
});
after(async () => {
  await f.close();
});

/** A fresh session is greeted, answers NOOP, and reads the known script back byte for byte. */
async function stillServes(): Promise<void> {
  const { c, greeting } = await sieveConnect(f.port);
  try {
    assert.match(greeting.status, /^OK/);
    assert.match((await c.cmd('NOOP')).status, /^OK/);
    assert.match((await c.cmd(AUTH)).status, /^OK/);
    const got = await c.cmd('GETSCRIPT "known"');
    assert.match(got.status, /^OK/);
    assert.equal(got.lines.join('\r\n').trim(), KNOWN.trim());
  } finally {
    c.socket.destroy();
  }
}

test('mutated ManageSieve commands in random chunks never break the server or the stored scripts', async () => {
  await fc.assert(
    fc.asyncProperty(fc.boolean(), fc.array(command, { minLength: 1, maxLength: 10 }), chunkArbitrary(), async (login, cmds, chunks) => {
      const { c } = await sieveConnect(f.port);
      if (login) await c.cmd(AUTH);
      await sendChunks(c.socket as never, Buffer.concat(cmds.flatMap((x) => [x, Buffer.from('\r\n')])), chunks);
      await new Promise((r) => setTimeout(r, 5));
      c.socket.destroy();
      await stillServes();
      const bugs = lines.filter((l) => l.level === 'error');
      assert.deepEqual(bugs.map((b) => [b.msg, b.fields]), []);
    }),
    { numRuns: Number(process.env['FUZZ_RUNS'] ?? 120), seed: Number(process.env['FUZZ_SEED'] ?? 20261208) },
  );
});
