/**
 * POP3 and TLS: STLS (RFC 2595), the implicit-TLS listener, the cleartext rule off loopback, and the
 * STLS plaintext-injection rule.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { generateSelfSigned } from '../src/server/tls.js';
import type { TlsMaterial } from '../src/lib/service.js';
import { RawPop3, startPop3, memoryConnection, message, USER, PASSWORD } from './pop3-helpers.js';

let tls: TlsMaterial;
before(async () => {
  tls = await generateSelfSigned('pop.test');
});

async function upgrade(c: RawPop3): Promise<RawPop3> {
  c.socket.removeAllListeners('data');
  const s: TLSSocket = tlsConnect({ socket: c.socket as import('node:net').Socket, rejectUnauthorized: false, servername: 'localhost' });
  await new Promise<void>((resolve, reject) => {
    s.once('secureConnect', () => resolve());
    s.once('error', reject);
  });
  return new RawPop3(s);
}

test('STLS: advertised, upgrades, then not advertised again; login over TLS works', async (t) => {
  const f = await startPop3({ tls });
  t.after(() => f.close());
  await f.append(message('secret'));
  const { c } = await RawPop3.open(f.port);
  assert.ok((await c.lines('CAPA')).lines.includes('STLS'));
  assert.equal(await c.cmd('STLS'), '+OK Begin TLS negotiation now');
  const s = await upgrade(c);
  const caps = (await s.lines('CAPA')).lines;
  assert.ok(!caps.includes('STLS'));
  assert.ok(caps.includes('USER'));
  assert.equal(await s.cmd('STLS'), '-ERR Already using TLS');
  assert.match(await s.login(), /^\+OK Logged in; maildrop has 1 message/);
  const r = await s.multi('RETR 1');
  assert.match(r.body!.toString(), /Subject: secret/);
  assert.match(await s.cmd('QUIT'), /^\+OK/);
  await s.closed();
});

test('STLS: commands pipelined after STLS in plaintext are discarded, not run', async (t) => {
  const f = await startPop3({ tls });
  t.after(() => f.close());
  const { c } = await RawPop3.open(f.port);
  c.send(`STLS\r\nUSER ${USER}\r\n`);
  assert.equal(await c.line(), '+OK Begin TLS negotiation now');
  const s = await upgrade(c);
  // Had the injected USER run, PASS would succeed; it must be refused.
  assert.equal(await s.cmd(`PASS ${PASSWORD}`), '-ERR PASS must follow a successful USER');
  await s.cmd('QUIT');
});

test('STLS followed by garbage instead of a TLS handshake: the connection is dropped, the service lives on', async (t) => {
  const f = await startPop3({ tls });
  t.after(() => f.close());
  const { c } = await RawPop3.open(f.port);
  assert.equal(await c.cmd('STLS'), '+OK Begin TLS negotiation now');
  c.send('USER alice\r\nPASS secret\r\n' + 'x'.repeat(5000) + '\r\n');
  await c.closed();
  const { c: c2 } = await RawPop3.open(f.port, { tls: false });
  assert.equal(await c2.cmd('STLS'), '+OK Begin TLS negotiation now');
  c2.destroy();
  const { c: c3 } = await RawPop3.open(f.port);
  assert.equal(await c3.cmd('NOOP'), '-ERR NOOP is not allowed before login');
  await c3.cmd('QUIT');
  // Dropped right after a completed handshake, mid-session.
  const { c: c4 } = await RawPop3.open(f.port);
  await c4.cmd('STLS');
  const s4 = await upgrade(c4);
  assert.match(await s4.login(), /^\+OK Logged in/);
  s4.destroy();
  // close() (in t.after) must not wait for any of these half-upgraded sockets.
});

/** The first bytes of a TLS ClientHello record (handshake, TLS 1.0 record version, 512 octets announced). */
const PARTIAL_CLIENT_HELLO = Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]);

// Before, these waited for the 10-minute idle timeout: the test's own timeout turns that into a failure.
test('STLS and then silence, or a handshake stalled midway: cut at the login deadline, long before the idle timeout', { timeout: 60_000 }, async (t) => {
  const f = await startPop3({ tls, idleTimeoutMs: 10 * 60_000, loginTimeoutMs: 300 });
  t.after(() => f.close());
  const { c } = await RawPop3.open(f.port);
  t.after(() => c.destroy());
  assert.equal(await c.cmd('STLS'), '+OK Begin TLS negotiation now');
  assert.equal(await c.closed(), '');
  const { c: c2 } = await RawPop3.open(f.port);
  t.after(() => c2.destroy());
  assert.equal(await c2.cmd('STLS'), '+OK Begin TLS negotiation now');
  c2.send(PARTIAL_CLIENT_HELLO);
  assert.equal(await c2.closed(), '');
});

test('implicit TLS: a client that never sends a ClientHello, or stalls in the handshake, is cut at the login timeout', { timeout: 60_000 }, async (t) => {
  const f = await startPop3({ tls, implicitTls: true, idleTimeoutMs: 10 * 60_000, loginTimeoutMs: 300 });
  t.after(() => f.close());
  const silent = await RawPop3.connect(f.port, { tls: false });
  t.after(() => silent.destroy());
  const stalled = await RawPop3.connect(f.port, { tls: false });
  t.after(() => stalled.destroy());
  stalled.send(PARTIAL_CLIENT_HELLO);
  assert.equal(await silent.closed(), '');
  assert.equal(await stalled.closed(), '');
});

test('implicit TLS listener: no STLS offered, cleartext login allowed; refused without TLS material', async (t) => {
  const f = await startPop3({ tls, implicitTls: true });
  t.after(() => f.close());
  const { c, greeting } = await RawPop3.open(f.port, { tls: true });
  assert.match(greeting, /^\+OK /);
  const caps = (await c.lines('CAPA')).lines;
  assert.ok(!caps.includes('STLS') && caps.includes('USER') && caps.includes('SASL PLAIN LOGIN'));
  assert.match(await c.login(), /^\+OK Logged in/);
  await c.cmd('QUIT');
  const g = await startPop3();
  t.after(() => g.close());
  await assert.rejects(g.svc.listen({ host: '127.0.0.1', port: 0, implicitTls: true }), /needs TLS material/);
});

test('off loopback without TLS: USER, PASS and AUTH PLAIN/LOGIN are refused with [AUTH] and not advertised', async (t) => {
  const f = await startPop3({ tls });
  t.after(() => f.close());
  const { c, done } = memoryConnection(f, '192.0.2.7');
  assert.match(await c.line(), /^\+OK /);
  assert.deepEqual((await c.lines('CAPA')).lines, ['TOP', 'UIDL', 'RESP-CODES', 'AUTH-RESP-CODE', 'PIPELINING', 'STLS', 'EXPIRE NEVER', 'IMPLEMENTATION mailroom']);
  const refused = '-ERR [AUTH] Plaintext authentication disallowed on non-secure connections; use STLS first';
  assert.equal(await c.cmd(`USER ${USER}`), refused);
  assert.equal(await c.cmd(`PASS ${PASSWORD}`), refused);
  assert.equal(await c.cmd('AUTH PLAIN AGFsaWNlQGV4YW1wbGUub3JnAGNvcnJlY3QgaG9yc2U='), refused);
  assert.equal(await c.cmd('AUTH LOGIN'), refused);
  assert.deepEqual(await c.lines('AUTH'), { status: '+OK Supported SASL mechanisms follow', lines: [] });
  assert.match(await c.cmd('QUIT'), /^\+OK/);
  c.socket.end();
  await done;
});

test('off loopback: allowPlaintextAuthOffLoopback permits USER/PASS; without TLS material the hint names TLS', async (t) => {
  const f = await startPop3({ allowPlaintextAuthOffLoopback: true });
  t.after(() => f.close());
  const { c, done } = memoryConnection(f, '198.51.100.1');
  await c.line();
  assert.ok((await c.lines('CAPA')).lines.includes('USER'));
  assert.match(await c.login(), /^\+OK Logged in/);
  await c.cmd('QUIT');
  c.socket.end();
  await done;
  const g = await startPop3();
  t.after(() => g.close());
  const m = memoryConnection(g, '198.51.100.1');
  await m.c.line();
  assert.equal(await m.c.cmd(`USER ${USER}`), '-ERR [AUTH] Plaintext authentication disallowed on non-secure connections; connect over TLS');
  await m.c.cmd('QUIT');
  m.c.socket.end();
  await m.done;
});
