/**
 * ManageSieve (RFC 5804) over raw loopback sockets: greeting capabilities, AUTHENTICATE PLAIN (initial
 * response and continuation, failures), every command with its response codes, literals {n+} and {n},
 * scripts with errors refused with the parser's message and not stored, quotas, STARTTLS with the
 * capabilities re-sent, cleartext refused off loopback, and bad input answered NO with the connection going on.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { createManageSieveService, type ManageSieveService } from '../src/managesieve/index.js';
import { startServerFixture, PASSWORD, USER, type ServerFixture } from './helpers/server-fixture.js';
import { testTls } from './delivery/helpers.js';
import { literal, plain, sieveConnect, SieveClient } from './managesieve-helpers.js';
import { connectLoopback } from './helpers/server-fixture.js';

let f: ServerFixture<ManageSieveService>;

before(async () => {
  const tls = await testTls();
  f = await startServerFixture({ prefix: 'mailroom-msieve-', fsync: false }, (store, auth) =>
    createManageSieveService({ store, auth, tls, quota: { maxScripts: 3, maxScriptSize: 2000, maxStorage: 5000 }, maxLine: 1024 }),
  );
});
after(async () => {
  await f.close();
});

async function login(): Promise<SieveClient> {
  const { c } = await sieveConnect(f.port);
  const r = await c.cmd(`AUTHENTICATE "PLAIN" "${plain(USER, PASSWORD)}"`);
  assert.match(r.status, /^OK/);
  return c;
}

const GOOD = 'require ["fileinto", "imap4flags"];\r\nif header :contains "subject" "report" {\r\n  fileinto :flags "\\\\Flagged" "Reports";\r\n}\r\n';

test('greeting: IMPLEMENTATION, SASL PLAIN on loopback, SIEVE extensions, STARTTLS, MAXREDIRECTS, VERSION, then OK', async () => {
  const { c, greeting } = await sieveConnect(f.port);
  const caps = greeting.lines.join('\n');
  assert.match(caps, /^"IMPLEMENTATION" "mailroom"$/m);
  assert.match(caps, /^"SASL" "PLAIN"$/m);
  assert.match(caps, /^"SIEVE" "[^"]*\bfileinto\b[^"]*\bvacation\b[^"]*"$/m);
  assert.match(caps, /^"STARTTLS"$/m);
  assert.match(caps, /^"MAXREDIRECTS" "4"$/m);
  assert.match(caps, /^"VERSION" "1.0"$/m);
  assert.match(greeting.status, /^OK /);
  const again = await c.cmd('capability');
  assert.deepEqual(again.lines, greeting.lines, 'CAPABILITY answers the same list, commands are case-insensitive');
  assert.match((await c.cmd('LOGOUT')).status, /^OK/);
  await c.closed();
});

test('AUTHENTICATE: initial response, continuation, cancel, bad credentials, bad mechanism; commands before login are refused', async () => {
  const { c } = await sieveConnect(f.port);
  assert.match((await c.cmd('LISTSCRIPTS')).status, /^NO "Authenticate first"/);
  assert.match((await c.cmd('AUTHENTICATE "DIGEST-MD5"')).status, /^NO .*mechanism/i);
  assert.match((await c.cmd(`AUTHENTICATE "PLAIN" "${plain(USER, 'wrong')}"`)).status, /^NO "Authentication failed\."/);
  assert.match((await c.cmd('AUTHENTICATE "PLAIN" "!!notbase64"')).status, /^NO /);
  // Continuation: the server sends an empty challenge, the client answers with a string.
  c.socket.write('AUTHENTICATE "PLAIN"\r\n');
  assert.equal(await c.line(), '""');
  assert.match((await c.cmd('"*"')).status, /^NO "Authentication cancelled\."/);
  c.socket.write('AUTHENTICATE "PLAIN"\r\n');
  assert.equal(await c.line(), '""');
  const lit = plain(USER, PASSWORD);
  assert.match((await c.cmd(`{${lit.length}+}\r\n${lit}`)).status, /^OK "Logged in\."/);
  assert.match((await c.cmd(`AUTHENTICATE "PLAIN" "${plain(USER, PASSWORD)}"`)).status, /^NO /, 'no second login');
  assert.match((await c.cmd('STARTTLS')).status, /^NO /, 'no STARTTLS after login');
  const caps = await c.cmd('CAPABILITY');
  assert.match(caps.lines.join('\n'), /^"OWNER" "alice@example\.org"$/m);
  assert.doesNotMatch(caps.lines.join('\n'), /STARTTLS/);
  assert.match((await c.cmd('UNAUTHENTICATE')).status, /^OK/);
  assert.match((await c.cmd('LISTSCRIPTS')).status, /^NO /, 'back to the unauthenticated state');
  await c.cmd('LOGOUT');
});

test('PUTSCRIPT/LISTSCRIPTS/SETACTIVE/GETSCRIPT/RENAMESCRIPT/DELETESCRIPT with their response codes', async () => {
  const c = await login();
  assert.match((await c.cmd(`PUTSCRIPT "work" ${literal(GOOD)}`)).status, /^OK/);
  assert.match((await c.cmd(`PUTSCRIPT "other" ${literal('keep;\r\n', true)}`)).status, /^OK/, 'a synchronising literal {n} is accepted too');
  assert.match((await c.cmd('PUTSCRIPT "quoted" "discard;"')).status, /^OK/);
  let list = await c.cmd('LISTSCRIPTS');
  assert.deepEqual(list.lines.sort(), ['"other"', '"quoted"', '"work"']);
  assert.match((await c.cmd('SETACTIVE "work"')).status, /^OK/);
  list = await c.cmd('LISTSCRIPTS');
  assert.ok(list.lines.includes('"work" ACTIVE'));
  const got = await c.cmd('GETSCRIPT "work"');
  assert.deepEqual(got.lines, [GOOD], 'GETSCRIPT returns the script as a literal, byte for byte');
  assert.match((await c.cmd('GETSCRIPT "nope"')).status, /^NO \(NONEXISTENT\)/);
  assert.match((await c.cmd('SETACTIVE "nope"')).status, /^NO \(NONEXISTENT\)/);
  assert.match((await c.cmd('DELETESCRIPT "work"')).status, /^NO \(ACTIVE\)/);
  assert.match((await c.cmd('DELETESCRIPT "nope"')).status, /^NO \(NONEXISTENT\)/);
  assert.match((await c.cmd('RENAMESCRIPT "other" "quoted"')).status, /^NO \(ALREADYEXISTS\)/);
  assert.match((await c.cmd('RENAMESCRIPT "nope" "x"')).status, /^NO \(NONEXISTENT\)/);
  assert.match((await c.cmd('RENAMESCRIPT "work" "main"')).status, /^OK/);
  list = await c.cmd('LISTSCRIPTS');
  assert.ok(list.lines.includes('"main" ACTIVE'), 'the active flag follows the rename');
  assert.match((await c.cmd('SETACTIVE ""')).status, /^OK/);
  assert.ok(!(await c.cmd('LISTSCRIPTS')).lines.some((l) => l.endsWith('ACTIVE')), 'SETACTIVE "" deactivates');
  assert.match((await c.cmd('DELETESCRIPT "main"')).status, /^OK/);
  assert.match((await c.cmd('NOOP "tag-42"')).status, /^OK \(TAG "tag-42"\)/);
  assert.match((await c.cmd('NOOP')).status, /^OK/);
  // The store sees the same scripts.
  assert.deepEqual((await f.store.sieve.listScripts(f.user.id)).map((s) => s.name).sort(), ['other', 'quoted']);
  await c.cmd('DELETESCRIPT "other"');
  await c.cmd('DELETESCRIPT "quoted"');
  await c.cmd('LOGOUT');
});

test('scripts with errors are refused with the parser message and not stored; CHECKSCRIPT; WARNINGS stay OK', async () => {
  const c = await login();
  const bad = 'require "fileinto";\r\nif header :contains "subject" "x" {\r\n  fileinto "A"\r\n}\r\n';
  const r = await c.cmd(`PUTSCRIPT "broken" ${literal(bad)}`);
  assert.match(r.status, /^NO /);
  assert.match(r.status, /line 3, column \d+: .*semicolon/, 'the message carries the position of the error');
  assert.equal(await f.store.sieve.getScript(f.user.id, 'broken'), null);
  assert.match((await c.cmd(`PUTSCRIPT "unknown" ${literal('frobnicate;\r\n')}`)).status, /^NO .*line 1/);
  assert.match((await c.cmd(`CHECKSCRIPT ${literal(GOOD)}`)).status, /^OK/);
  assert.match((await c.cmd(`CHECKSCRIPT ${literal(bad)}`)).status, /^NO .*line 3/);
  assert.match((await c.cmd(`CHECKSCRIPT ${literal('require "nosuchext";\r\n')}`)).status, /^NO /);
  const notUtf8 = Buffer.concat([Buffer.from('CHECKSCRIPT {2+}\r\n'), Buffer.from([0xff, 0xfe]), Buffer.from('\r\n')]);
  assert.match((await c.cmd(notUtf8)).status, /^NO "Script is not valid UTF-8"/);
  assert.deepEqual(await f.store.sieve.listScripts(f.user.id), []);
  // Warnings do not refuse the script: OK (WARNINGS) with the message, and it is stored.
  const warn = 'require "vacation";\r\nvacation :days 0 "Away.";\r\n';
  assert.match((await c.cmd(`CHECKSCRIPT ${literal(warn)}`)).status, /^OK \(WARNINGS\) "line 2, column \d+: .*minimum/);
  assert.match((await c.cmd(`PUTSCRIPT "warned" ${literal(warn)}`)).status, /^OK \(WARNINGS\) /);
  assert.equal((await f.store.sieve.getScript(f.user.id, 'warned'))?.content, warn);
  assert.match((await c.cmd('DELETESCRIPT "warned"')).status, /^OK/);
  await c.cmd('LOGOUT');
});

test('quotas: HAVESPACE and PUTSCRIPT answer QUOTA/MAXSIZE, QUOTA/MAXSCRIPTS and QUOTA', async () => {
  const c = await login();
  assert.match((await c.cmd('HAVESPACE "a" 100')).status, /^OK/);
  assert.match((await c.cmd('HAVESPACE "a" 2001')).status, /^NO \(QUOTA\/MAXSIZE\)/);
  assert.match((await c.cmd('HAVESPACE "a" "x"')).status, /^NO /, 'size must be a number');
  const big = `# ${'x'.repeat(2100)}\r\nkeep;\r\n`;
  assert.match((await c.cmd(`PUTSCRIPT "big" ${literal(big)}`)).status, /^NO \(QUOTA\/MAXSIZE\)/);
  const filler = (n: string): string => `# ${n.repeat(1800)}\r\nkeep;\r\n`;
  for (const n of ['a', 'b']) assert.match((await c.cmd(`PUTSCRIPT "${n}" ${literal(filler(n))}`)).status, /^OK/);
  assert.match((await c.cmd(`PUTSCRIPT "c" ${literal(filler('c'))}`)).status, /^NO \(QUOTA\)/, 'total storage');
  assert.match((await c.cmd('PUTSCRIPT "c" "keep;"')).status, /^OK/);
  assert.match((await c.cmd('PUTSCRIPT "d" "keep;"')).status, /^NO \(QUOTA\/MAXSCRIPTS\)/);
  assert.match((await c.cmd('HAVESPACE "d" 5')).status, /^NO \(QUOTA\/MAXSCRIPTS\)/);
  assert.match((await c.cmd('HAVESPACE "c" 5')).status, /^OK/, 'replacing an existing script');
  // A literal far over the limit is read and thrown away; the connection goes on.
  const huge = 'x'.repeat(100_000);
  assert.match((await c.cmd(`PUTSCRIPT "huge" {${huge.length}+}\r\n${huge}`)).status, /^NO \(QUOTA\/MAXSIZE\)/);
  assert.match((await c.cmd('NOOP')).status, /^OK/);
  for (const n of ['a', 'b', 'c']) await c.cmd(`DELETESCRIPT "${n}"`);
  await c.cmd('LOGOUT');
});

test('bad input: unknown commands, bad arguments, bad literals and quoted strings, long lines get NO and the connection goes on', async () => {
  const c = await login();
  assert.match((await c.cmd('FROB')).status, /^NO "Unknown command FROB"/);
  assert.match((await c.cmd('PUTSCRIPT "x"')).status, /^NO .*arguments/);
  assert.match((await c.cmd('PUTSCRIPT x "keep;"')).status, /^NO .*string/);
  assert.match((await c.cmd('GETSCRIPT "bad\\q"')).status, /^NO .*escape/i);
  assert.match((await c.cmd('GETSCRIPT {abc}')).status, /^NO "Bad literal"/);
  assert.match((await c.cmd(`GETSCRIPT "${'y'.repeat(1100)}"`)).status, /^NO /);
  assert.match((await c.cmd(`NOOP ${'z'.repeat(2000)}`)).status, /^NO .*too long/i);
  assert.match((await c.cmd('SETACTIVE "a\u0001b"')).status, /^NO /);
  assert.match((await c.cmd('"quoted-first"')).status, /^NO /);
  assert.match((await c.cmd('NOOP')).status, /^OK/, 'still serving');
  // Pipelined commands are answered in order.
  c.socket.write('NOOP "1"\r\nNOOP "2"\r\n');
  assert.match((await c.response()).status, /TAG "1"/);
  assert.match((await c.response()).status, /TAG "2"/);
  await c.cmd('LOGOUT');
});

test('too many bad commands end with BYE', async () => {
  const { c } = await sieveConnect(f.port);
  c.socket.write('BOGUS\r\n'.repeat(20));
  for (let i = 0; i < 20; i++) assert.match((await c.response()).status, /^NO "Unknown command BOGUS"/);
  assert.match(await c.line(), /^BYE "Too many invalid commands\."/);
  await c.closed();
});

test('STARTTLS: capabilities are sent again after the handshake (without STARTTLS), then login over TLS', async () => {
  const { c } = await sieveConnect(f.port);
  assert.match((await c.cmd('STARTTLS')).status, /^OK/);
  const t = await c.startTls();
  const caps = await t.response();
  assert.match(caps.status, /^OK/);
  assert.match(caps.lines.join('\n'), /^"SASL" "PLAIN"$/m);
  assert.doesNotMatch(caps.lines.join('\n'), /STARTTLS/);
  assert.match((await t.cmd(`AUTHENTICATE "PLAIN" "${plain(USER, PASSWORD)}"`)).status, /^OK/);
  assert.match((await t.cmd('LISTSCRIPTS')).status, /^OK/);
  assert.match((await t.cmd('STARTTLS')).status, /^NO /);
  await t.cmd('LOGOUT');
});

test('off loopback, cleartext AUTHENTICATE is refused until STARTTLS (SASL capability empty)', async () => {
  // The service runs a session on a socket that claims a remote address (as a listener on a public address would).
  const relay: Server = createServer((s) => void f.svc.handle(s, { remoteAddress: '192.0.2.7', secure: false }));
  await new Promise<void>((r) => relay.listen(0, '127.0.0.1', () => r()));
  try {
    const c = new SieveClient(await connectLoopback((relay.address() as { port: number }).port));
    const g = await c.response();
    assert.match(g.lines.join('\n'), /^"SASL" ""$/m);
    assert.match((await c.cmd(`AUTHENTICATE "PLAIN" "${plain(USER, PASSWORD)}"`)).status, /^NO \(ENCRYPT-NEEDED\)/);
    assert.match((await c.cmd('STARTTLS')).status, /^OK/);
    const t = await c.startTls();
    assert.match((await t.response()).lines.join('\n'), /^"SASL" "PLAIN"$/m);
    assert.match((await t.cmd(`AUTHENTICATE "PLAIN" "${plain(USER, PASSWORD)}"`)).status, /^OK/);
    await t.cmd('LOGOUT');
  } finally {
    await new Promise<void>((r) => relay.close(() => r()));
  }
});
