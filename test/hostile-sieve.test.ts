/**
 * Sieve scripts and messages that made delivery take minutes: a :matches rule of a few stars against a
 * sender's megabyte Subject (regex backtracking), and a script that includes the same script thousands
 * of times (read from the store each time). Both deliveries now finish, with the rule's result or with the
 * message kept; :matches keeps the captures a lazy regex gives.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { createMailroom, type Mailroom } from '../src/server/mailroom.js';
import { compileSieve, runSieve, type CompiledScript } from '../src/sieve/index.js';
import { globMatch, parseGlob } from '../src/sieve/glob.js';
import { mailboxContents, RawSmtp } from './delivery/helpers.js';
import { literal, plain, sieveConnect } from './managesieve-helpers.js';

const ALICE = 'alice@example.org';

function compiled(src: string): CompiledScript {
  const r = compileSieve(src);
  assert.ok(r.ok, JSON.stringify(r));
  return r.script;
}
let m: Mailroom;
before(async () => {
  m = createMailroom({ ports: { lmtp: 0, managesieve: 0 }, auth: { failureDelayMs: 0 }, hostname: 'mx.example.org' });
  await m.start();
  await m.addUser(ALICE, 'pw');
});
after(async () => {
  await m.stop();
});

async function activate(scripts: Record<string, string>, active: string): Promise<void> {
  const { c } = await sieveConnect(m.ports.managesieve!);
  assert.match((await c.cmd(`AUTHENTICATE "PLAIN" "${plain(ALICE, 'pw')}"`)).status, /^OK/);
  for (const [name, text] of Object.entries(scripts)) assert.match((await c.cmd(`PUTSCRIPT "${name}" ${literal(text)}`)).status, /^OK/);
  assert.match((await c.cmd(`SETACTIVE "${active}"`)).status, /^OK/);
  c.socket.destroy();
}

async function lmtp(raw: string): Promise<string> {
  const { client: c } = await RawSmtp.open(m.ports.lmtp!);
  try {
    await c.cmd('LHLO client.test');
    assert.equal((await c.cmd('MAIL FROM:<bob@example.net>')).code, 250);
    assert.equal((await c.cmd(`RCPT TO:<${ALICE}>`)).code, 250);
    const r = await c.data(raw);
    return r.lines[r.lines.length - 1]!;
  } finally {
    c.close();
  }
}

test(':matches "*money*now*" against a 1 MB Subject of "money" repeated: delivered (to INBOX), and a matching one is filed', async () => {
  await activate({ rules: 'require ["fileinto", "mailbox", "variables"];\r\nif header :matches "subject" "*money*now*" { fileinto :create "Offers.${2}"; stop; }\r\n' }, 'rules');
  const before = (await mailboxContents(m.store, ALICE)).length;
  // As a regex, (.*?)money(.*?)now(.*?) backtracks over every pair of "money" positions: O(n^2).
  assert.match(await lmtp(`Subject: ${'money'.repeat(200_000)}\r\n\r\nbody\r\n`), /^250 /);
  assert.equal((await mailboxContents(m.store, ALICE)).length, before + 1);
  assert.match(await lmtp('Subject: easy money fast now please\r\n\r\nbody\r\n'), /^250 /);
  assert.equal((await mailboxContents(m.store, ALICE, 'Offers. fast ')).length, 1);
});

test('a script that includes one script 9 000 times reads it once; more than 255 different includes keep the message', async () => {
  const big = `# ${'x'.repeat(200_000)}\r\nrequire "fileinto";\r\n`;
  await activate({ big, fan: 'require "include";\r\n' + 'include :personal "big";\r\n'.repeat(9_000) }, 'fan');
  const before = (await mailboxContents(m.store, ALICE)).length;
  assert.match(await lmtp('Subject: fan-out\r\n\r\nbody\r\n'), /^250 /);
  assert.equal((await mailboxContents(m.store, ALICE)).length, before + 1);

  // The interpreter asks its environment once per distinct script.
  const loads: string[] = [];
  const include = async (name: string): Promise<CompiledScript | null> => {
    loads.push(name);
    return name.startsWith('opt') ? null : compiled('require "fileinto";\r\nfileinto "x";\r\n');
  };
  const env = { message: Buffer.from('Subject: s\r\n\r\nb\r\n'), envelope: { from: 'bob@example.net', to: ALICE }, include, mailboxExists: async () => true };
  const r = await runSieve(compiled('require "include";\r\n' + 'include "one";\r\n'.repeat(5000)), env);
  assert.deepEqual(r.errors, []);
  assert.deepEqual(loads, ['one']);
  loads.length = 0;
  const many = 'require "include";\r\n' + Array.from({ length: 300 }, (_, i) => `include :optional "opt${i}";\r\n`).join('');
  const refused = await runSieve(compiled(many), env);
  assert.match(refused.errors[0] ?? '', /more than 255 different scripts/);
  assert.deepEqual(refused.actions, [{ type: 'keep', flags: [] }]);
  assert.equal(loads.length, 255);
});

test('addheader run 5000 times through include, or with a field over 2048 octets, keeps the message as it came', async () => {
  const field = 'y'.repeat(1900);
  await activate({ hdr: `require "editheader";\r\naddheader "X-Added" "${field}";\r\n`, many: 'require "include";\r\n' + 'include :personal "hdr";\r\n'.repeat(5000) }, 'many');
  const raw = 'Subject: grow\r\nMessage-ID: <grow@example.net>\r\n\r\nbody\r\n';
  assert.match(await lmtp(raw), /^250 /);
  const stored = (await mailboxContents(m.store, ALICE)).find((b) => b.includes('<grow@example.net>'))!;
  // Unbounded, 5000 fields of 1900 octets (some 10 MB) were added to the stored copy.
  assert.ok(stored.length < 10_000, String(stored.length));
  assert.ok(!stored.includes('X-Added'));

  const env = { message: Buffer.from(raw), envelope: { from: 'bob@example.net', to: ALICE }, mailboxExists: async () => true };
  const big = await runSieve(compiled(`require "editheader";\r\naddheader "X-Big" "${'z'.repeat(3000)}";\r\n`), env);
  assert.match(big.errors[0] ?? '', /larger than 2048/);
  assert.deepEqual(big.message, env.message);
  const fine = await runSieve(compiled(`require "editheader";\r\naddheader "X-Ok" "${'z'.repeat(1000)}";\r\n`), env);
  assert.deepEqual(fine.errors, []);
  assert.ok(fine.message.toString().startsWith('X-Ok: '));
});

test('a script setting 300 different variables stops at 255 per scope and keeps the message; 255 are fine', async () => {
  const env = { message: Buffer.from('Subject: v\r\n\r\nb\r\n'), envelope: { from: 'bob@example.net', to: ALICE }, mailboxExists: async () => true };
  const script = (n: number): CompiledScript =>
    compiled('require ["variables", "fileinto"];\r\nset "big" "' + 'q'.repeat(4000) + '";\r\n' + Array.from({ length: n }, (_, i) => `set "v${i}" "\${big}";\r\n`).join('') + 'fileinto "Vars";\r\n');
  const over = await runSieve(script(300), env);
  assert.match(over.errors[0] ?? '', /more than 255 variables/);
  assert.deepEqual(over.actions, [{ type: 'keep', flags: [] }]);
  const within = await runSieve(script(254), env);
  assert.deepEqual(within.errors, []);
  assert.equal(within.actions[0]?.type, 'fileinto');
  // Setting one name again and again is one variable.
  const again = await runSieve(compiled('require "variables";\r\n' + 'set "x" "y";\r\n'.repeat(1000)), env);
  assert.deepEqual(again.errors, []);
});

test(':matches captures are those of the lazy regex (RFC 5229 3.2), escapes and surrogate pairs included', () => {
  const alphabet = fc.constantFrom('a', 'b', '*', '?', '😀');
  fc.assert(
    fc.property(fc.array(alphabet, { maxLength: 8 }), fc.array(alphabet, { maxLength: 12 }), (p, s) => {
      const pattern = p.join('');
      const subject = s.join('');
      const re = new RegExp('^' + [...pattern].map((c) => (c === '*' ? '(.*?)' : c === '?' ? '(.)' : c.replace(/[*?]/g, '\\$&'))).join('') + '$', 'sdu');
      const m = re.exec(subject);
      const want = m ? Array.from(m.indices!).slice(1).map((r) => (r ? subject.slice(r[0], r[1]) : '')) : null;
      const got = globMatch(parseGlob(pattern), subject, () => undefined);
      assert.deepEqual(got && got.map(([a, b]) => subject.slice(a, b)), want, `${pattern} / ${subject}`);
    }),
    { numRuns: 3000 },
  );
  // A backslash quotes the wildcard.
  assert.deepEqual(globMatch(parseGlob('a\\*b*'), 'a*bcd', () => undefined), [[3, 5]]);
  assert.equal(globMatch(parseGlob('a\\*b*'), 'axbcd', () => undefined), null);
  // The work is counted: a step function that throws stops a long match.
  assert.throws(() => globMatch(parseGlob('*a*b'), 'a'.repeat(100_000), () => { throw new Error('limit'); }), /limit/);
});
