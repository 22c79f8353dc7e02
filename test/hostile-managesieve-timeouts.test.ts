/**
 * ManageSieve deadlines: a connection has loginTimeoutMs to log in however busy it keeps itself (NOOP,
 * CAPABILITY, a SASL exchange left hanging), an idle one is logged out at idleTimeoutMs, and a STARTTLS
 * handshake that never starts is cut at tlsHandshakeTimeoutMs. Logged-in sessions have no login deadline.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect as netConnect } from 'node:net';
import { createManageSieveService, type ManageSieveService } from '../src/managesieve/index.js';
import { startServerFixture, PASSWORD, USER, type ServerFixture } from './helpers/server-fixture.js';
import { testTls } from './delivery/helpers.js';
import { plain, sieveConnect, type SieveClient } from './managesieve-helpers.js';

let f: ServerFixture<ManageSieveService>;
let idle: ServerFixture<ManageSieveService>;

before(async () => {
  const tls = await testTls();
  f = await startServerFixture({ prefix: 'mailroom-msieve-deadline-', fsync: false }, (store, auth) =>
    createManageSieveService({ store, auth, tls, loginTimeoutMs: 600, tlsHandshakeTimeoutMs: 400 }),
  );
  idle = await startServerFixture({ prefix: 'mailroom-msieve-idle-', fsync: false }, (store, auth) =>
    createManageSieveService({ store, auth, idleTimeoutMs: 300 }),
  );
});
after(async () => {
  await f.close();
  await idle.close();
});

/** Everything the server sends until it closes the connection. */
async function rest(c: SieveClient): Promise<string> {
  const lines: string[] = [];
  for (;;) {
    try {
      lines.push(await c.fullLine());
    } catch {
      return lines.join('\n');
    }
  }
}

test('a client kept busy with NOOP and CAPABILITY without logging in gets BYE at the login deadline; a logged-in one stays', async () => {
  const { c } = await sieveConnect(f.port);
  const { c: logged } = await sieveConnect(f.port);
  assert.match((await logged.cmd(`AUTHENTICATE "PLAIN" "${plain(USER, PASSWORD)}"`)).status, /^OK/);
  const closed = c.closed();
  let answered = 0;
  let open = true;
  void closed.then(() => (open = false));
  while (open && answered < 200) {
    const r = await c.cmd(answered % 2 ? 'NOOP' : 'CAPABILITY').catch(() => null);
    if (!r) break;
    if (/^BYE/.test(r.status)) {
      assert.match(r.status, /^BYE "Disconnected: no login within the time allowed\."$/);
      break;
    }
    assert.match(r.status, /^OK/);
    answered++;
    await sleep(50);
  }
  await closed;
  assert.ok(answered < 200, 'the unauthenticated connection was closed');
  await sleep(300);
  assert.match((await logged.cmd('LISTSCRIPTS')).status, /^OK/, 'a logged-in session has no login deadline');
  logged.socket.destroy();
});

test('a SASL exchange left hanging does not outlive the login deadline', async () => {
  const { c } = await sieveConnect(f.port);
  c.socket.write('AUTHENTICATE "PLAIN"\r\n');
  assert.equal(await c.line(), '""');
  assert.match(await rest(c), /^BYE "Disconnected: no login within the time allowed\."$/m);
});

test('after UNAUTHENTICATE the login deadline runs again', async () => {
  const { c } = await sieveConnect(f.port);
  await sleep(400);
  assert.match((await c.cmd(`AUTHENTICATE "PLAIN" "${plain(USER, PASSWORD)}"`)).status, /^OK/);
  await sleep(400);
  assert.match((await c.cmd('UNAUTHENTICATE')).status, /^OK/);
  assert.match((await c.cmd('NOOP')).status, /^OK/, 'the old deadline passed while logged in; a new one started');
  assert.match(await rest(c), /^BYE "Disconnected: no login within the time allowed\."$/m);
});

test('STARTTLS whose handshake never starts is cut at the handshake deadline', async () => {
  const { c } = await sieveConnect(f.port);
  assert.match((await c.cmd('STARTTLS')).status, /^OK/);
  // No ClientHello: the server must not wait for one forever (nor for the login deadline alone).
  await c.closed();
  assert.equal(c.ended, true);
});

test('an idle connection, logged in or not, is logged out at the idle timeout with BYE', async () => {
  const { c } = await sieveConnect(idle.port);
  assert.match(await rest(c), /^BYE "Disconnected for inactivity\."$/m);
  const { c: d } = await sieveConnect(idle.port);
  assert.match((await d.cmd(`AUTHENTICATE "PLAIN" "${plain(USER, PASSWORD)}"`)).status, /^OK/);
  assert.match(await rest(d), /^BYE "Disconnected for inactivity\."$/m);
});

test('implicit TLS: a client that never sends a ClientHello, or stalls in it, is closed at the handshake deadline', { timeout: 60_000 }, async (t) => {
  const port = (await f.svc.listen({ host: '127.0.0.1', port: 0, implicitTls: true })).port;
  const partialHello = Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]);
  const closes = [Buffer.alloc(0), partialHello].map((first) => {
    const s = netConnect({ host: '127.0.0.1', port });
    t.after(() => s.destroy());
    s.on('error', () => undefined);
    if (first.length) s.write(first);
    let got = 0;
    s.on('data', (d: Buffer) => (got += d.length));
    return new Promise<number>((resolve) => s.once('close', () => resolve(got)));
  });
  assert.deepEqual(await Promise.all(closes), [0, 0], 'both closed with nothing sent');
});
