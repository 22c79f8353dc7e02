/**
 * TLS (implicit and STARTTLS), COMPRESS=DEFLATE, authentication throttling, autologout, the per-user
 * connection cap and the SERVERBUG path (an unexpected store failure never takes the process down).
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import * as zlib from 'node:zlib';
import selfsigned from 'selfsigned';
import { ImapFlow } from 'imapflow';
import { startImap, RawClient, message, USER, PASSWORD, type ImapFixture } from './imap-helpers.js';
import { memoryLogger, type LogLine } from '../src/lib/logger.js';
import { createImapService } from '../src/imap-server/index.js';
import type { MailStore } from '../src/store/mail.js';
import { overrideMethods, withParts } from './helpers/store.js';

let tlsMaterial: { key: string; cert: string };

before(async () => {
  const pems = await selfsigned.generate([{ name: 'commonName', value: 'localhost' }], { keySize: 2048 });
  tlsMaterial = { key: pems.private, cert: pems.cert };
});

describe('TLS', () => {
  let f: ImapFixture;
  let tlsPort: number;
  before(async () => {
    f = await startImap({ tls: tlsMaterial });
    tlsPort = (await f.svc.listen({ host: '127.0.0.1', port: 0, implicitTls: true })).port;
    await f.append(message('secure'));
  });
  after(async () => {
    await f.close();
  });

  test('implicit TLS: login and fetch', async () => {
    const c = await RawClient.connect(tlsPort, { tls: true });
    const cap = await c.cmd('CAPABILITY');
    assert.doesNotMatch(cap, /STARTTLS/);
    await c.login();
    await c.cmd('EXAMINE INBOX');
    assert.match(await c.cmd('FETCH 1 BODY.PEEK[HEADER.FIELDS (Subject)]'), /Subject: secure/);
    c.close();
  });

  test('STARTTLS: advertised on the plain listener, discards pipelined plaintext, then works', async () => {
    const sock = netConnect({ host: '127.0.0.1', port: f.port });
    let buf = '';
    const onData = (d: Buffer): void => {
      buf += d.toString('latin1');
    };
    sock.on('data', onData);
    const until = async (re: RegExp): Promise<void> => {
      for (let i = 0; i < 200 && !re.test(buf); i++) await new Promise((r) => setTimeout(r, 10));
      assert.match(buf, re);
    };
    await until(/^\* OK \[CAPABILITY [^\]]*STARTTLS[^\]]*\]/);
    // An injected command after STARTTLS must not run.
    sock.write('s1 STARTTLS\r\ns2 LOGIN alice@example.org "correct horse"\r\n');
    await until(/s1 OK Begin TLS negotiation now\r\n/);
    assert.doesNotMatch(buf, /s2/);
    sock.off('data', onData);
    const tls = tlsConnect({ socket: sock, rejectUnauthorized: false });
    let tbuf = '';
    tls.on('data', (d: Buffer) => (tbuf += d.toString('latin1')));
    await new Promise<void>((r) => tls.once('secureConnect', () => r()));
    tls.write('t1 CAPABILITY\r\n');
    for (let i = 0; i < 200 && !/t1 OK/.test(tbuf); i++) await new Promise((r) => setTimeout(r, 10));
    assert.doesNotMatch(tbuf, /STARTTLS/);
    assert.doesNotMatch(tbuf, /s2 /);
    tls.write(`t2 LOGIN ${USER} "${PASSWORD}"\r\n`);
    for (let i = 0; i < 200 && !/t2 OK/.test(tbuf); i++) await new Promise((r) => setTimeout(r, 10));
    assert.match(tbuf, /t2 OK \[CAPABILITY/);
    tls.destroy();
  });

  test('imapflow upgrades with STARTTLS, then compresses inside TLS', async () => {
    const c = new ImapFlow({ host: '127.0.0.1', port: f.port, secure: false, tls: { rejectUnauthorized: false }, auth: { user: USER, pass: PASSWORD }, logger: false });
    await c.connect();
    try {
      assert.equal((c as unknown as { secureConnection: boolean }).secureConnection, true);
      assert.equal(c.capabilities.has('STARTTLS'), false);
      assert.ok((c as unknown as { _deflate?: unknown })._deflate, 'imapflow negotiated COMPRESS=DEFLATE');
      await c.mailboxOpen('INBOX');
      const m = await c.fetchOne('1', { envelope: true, source: true });
      assert.ok(m);
      assert.equal(m.envelope?.subject, 'secure');
    } finally {
      await c.logout();
    }
  });
});

/** The first bytes of a TLS ClientHello record (handshake, TLS 1.0 record version, 512 octets announced). */
const PARTIAL_CLIENT_HELLO = Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]);

/** A raw TCP connection that resolves `closed` once the server closes it; `sent` is what came before. */
function rawTcp(port: number): { sock: ReturnType<typeof netConnect>; closed: Promise<string> } {
  const sock = netConnect({ host: '127.0.0.1', port });
  let got = '';
  sock.on('data', (d: Buffer) => (got += d.toString('latin1')));
  sock.on('error', () => undefined);
  return { sock, closed: new Promise((resolve) => sock.once('close', () => resolve(got))) };
}

// Before, a silent implicit-TLS client stayed for Node's 2-minute handshake timeout and then was not even
// closed; the test's own timeout turns a wait like that into a failure.
test('TLS handshakes have the login deadline: implicit TLS silent or stalled, STARTTLS then silence', { timeout: 60_000 }, async (t) => {
  const f = await startImap({ tls: tlsMaterial, loginTimeoutMs: 300, idleTimeoutMs: 10 * 60_000 });
  t.after(() => f.close());
  const port = (await f.svc.listen({ host: '127.0.0.1', port: 0, implicitTls: true })).port;
  const silent = rawTcp(port);
  const stalled = rawTcp(port);
  t.after(() => {
    silent.sock.destroy();
    stalled.sock.destroy();
  });
  stalled.sock.write(PARTIAL_CLIENT_HELLO);
  assert.equal(await silent.closed, '');
  assert.equal(await stalled.closed, '');
  const c = await RawClient.connect(f.port);
  assert.match(await c.cmd('STARTTLS', 's'), /^s OK/);
  await c.readUntil(() => c.closed, 30_000).catch(() => undefined);
  assert.ok(c.closed, 'a STARTTLS without a handshake is cut at the login deadline');
});

describe('COMPRESS=DEFLATE', () => {
  let f: ImapFixture;
  before(async () => {
    f = await startImap();
    await f.append(message('compressed', 'x'.repeat(5000)));
  });
  after(async () => {
    await f.close();
  });

  test('both directions are deflated after OK', async () => {
    const c = await RawClient.connect(f.port);
    await c.login();
    assert.equal(await c.cmd('COMPRESS DEFLATE', 'z'), 'z OK DEFLATE active\r\n');
    const inflate = zlib.createInflateRaw();
    const deflate = zlib.createDeflateRaw();
    let out = '';
    c.socket.removeAllListeners('data');
    c.socket.on('data', (d: Buffer) => inflate.write(d));
    inflate.on('data', (d: Buffer) => (out += d.toString('latin1')));
    deflate.on('data', (d: Buffer) => c.socket.write(d));
    const send = (s: string): void => {
      deflate.write(s);
      deflate.flush(zlib.constants.Z_SYNC_FLUSH);
    };
    send('c1 EXAMINE INBOX\r\nc2 FETCH 1 BODY.PEEK[TEXT]\r\nc3 COMPRESS DEFLATE\r\n');
    for (let i = 0; i < 300 && !/c3 /.test(out); i++) await new Promise((r) => setTimeout(r, 10));
    assert.match(out, /c1 OK \[READ-ONLY\]/);
    assert.match(out, /BODY\[TEXT\] \{5002\}\r\nx{5000}\r\n\)\r\nc2 OK/);
    assert.match(out, /c3 NO \[COMPRESSIONACTIVE\]/);
    // LOGOUT's BYE and tagged OK arrive compressed before the connection closes.
    send('c4 LOGOUT\r\n');
    for (let i = 0; i < 300 && !/c4 OK/.test(out); i++) await new Promise((r) => setTimeout(r, 10));
    assert.match(out, /\* BYE Logging out\r\nc4 OK Logout completed\r\n$/);
    c.close();
  });
});

describe('limits', () => {
  test('authentication failures are throttled with a growing delay', async () => {
    const f = await startImap({ failureDelayMs: 40 });
    try {
      const c = await RawClient.connect(f.port);
      const t0 = Date.now();
      await c.cmd('LOGIN alice@example.org bad1');
      const t1 = Date.now();
      await c.cmd('LOGIN alice@example.org bad2');
      const t2 = Date.now();
      await c.cmd('LOGIN alice@example.org bad3');
      const t3 = Date.now();
      // 40 ms, 80 ms, 160 ms: each failure waits at least the base delay times 2^(n-1).
      assert.ok(t1 - t0 >= 35 && t2 - t1 >= 75 && t3 - t2 >= 150, `${t1 - t0} ${t2 - t1} ${t3 - t2}`);
      assert.equal(f.auth.failures('127.0.0.1', USER), 3);
      await c.login();
      assert.equal(f.auth.failures('127.0.0.1', USER), 0);
      c.close();
    } finally {
      await f.close();
    }
  });

  test('autologout after the idle timeout', async () => {
    const f = await startImap({ idleTimeoutMs: 300 });
    try {
      const c = await RawClient.connect(f.port);
      assert.equal(await c.cmd('NOOP', 'n'), 'n OK NOOP completed\r\n');
      const s = await c.readUntil((x) => x.includes('BYE'), 3000);
      assert.equal(s, '* BYE Autologout; idle for too long\r\n');
      await c.readUntil(() => c.closed, 3000).catch(() => undefined);
      assert.ok(c.closed);
    } finally {
      await f.close();
    }
  });

  test('a client kept busy without logging in is disconnected at the login timeout; a logged-in one is not', async () => {
    const f = await startImap({ loginTimeoutMs: 500 });
    try {
      const c = await RawClient.connect(f.port);
      const in_ = await RawClient.connect(f.port);
      await in_.login();
      for (let i = 0; i < 3; i++) {
        assert.equal(await c.cmd('NOOP', `n${i}`), `n${i} OK NOOP completed\r\n`);
        await new Promise((r) => setTimeout(r, 100));
      }
      const s = await c.readUntil((x) => x.includes('BYE'), 3000);
      assert.equal(s, '* BYE Disconnected: no login within the time allowed\r\n');
      await c.readUntil(() => c.closed, 3000).catch(() => undefined);
      assert.ok(c.closed);
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(await in_.cmd('NOOP', 'm'), 'm OK NOOP completed\r\n', 'a logged-in session has no login deadline');
      in_.close();
    } finally {
      await f.close();
    }
  });

  test('per-user-and-address connection cap', async () => {
    const f = await startImap({ maxConnectionsPerUser: 1 });
    try {
      const a = await RawClient.connect(f.port);
      await a.login();
      const b = await RawClient.connect(f.port);
      assert.equal(await b.cmd(`LOGIN ${USER} "${PASSWORD}"`, 'x'), 'x NO [LIMIT] Maximum number of connections for this user exceeded\r\n');
      // The limit is per user and address: the same user from another address is admitted.
      const other = await RawClient.connect(f.port, { localAddress: '127.0.0.2' });
      assert.match(await other.cmd(`LOGIN ${USER} "${PASSWORD}"`, 'o'), /^o OK /);
      other.close();
      await a.cmd('LOGOUT');
      a.close();
      await new Promise((r) => setTimeout(r, 50));
      assert.match(await b.cmd(`LOGIN ${USER} "${PASSWORD}"`, 'y'), /^y OK /);
      b.close();
    } finally {
      await f.close();
    }
  });

  test('an unexpected store failure is NO [SERVERBUG] with a logged request id; the session goes on', async () => {
    const f = await startImap();
    const lines: LogLine[] = [];
    const broken = withParts(f.store, {
      mail: overrideMethods<MailStore>(f.store.mail, { status: () => Promise.reject(new TypeError('disk on fire')) }),
    });
    const svc = createImapService({ store: broken, auth: f.auth, logger: memoryLogger(lines) });
    const { port } = await svc.listen({ host: '127.0.0.1', port: 0, implicitTls: false });
    try {
      const c = await RawClient.connect(port);
      await c.login();
      const r = await c.cmd('STATUS INBOX (MESSAGES)', 's');
      const m = /^s NO \[SERVERBUG\] Internal error occurred\. Refer to server log for more information\. \[([0-9a-f]+)\]\r\n$/.exec(r);
      assert.ok(m, r);
      const logged = lines.find((l) => l.fields.rid === m[1]);
      assert.equal(logged?.fields.err, 'disk on fire');
      assert.equal(await c.cmd('NOOP', 'n'), 'n OK NOOP completed\r\n');
      c.close();
    } finally {
      await svc.close();
      await f.close();
    }
  });

  test('a user only ever reaches their own mailboxes', async () => {
    const f = await startImap();
    try {
      const bob = await f.store.directory.createUser('bob@example.org', (await f.store.directory.getUser(USER))!.passwordHash);
      const secret = await f.store.mail.createMailbox(bob.id, 'Secret');
      await f.store.mail.append(secret.id, Buffer.from(message('bob only')));
      const c = await RawClient.connect(f.port);
      await c.login();
      assert.match(await c.cmd('SELECT Secret', 'a'), /^a NO \[NONEXISTENT\]/);
      assert.match(await c.cmd('STATUS Secret (MESSAGES)', 'b'), /^b NO \[NONEXISTENT\]/);
      assert.doesNotMatch(await c.cmd('LIST "" "*"'), /Secret/);
      assert.match(await c.cmd('SELECT "../bob@example.org/Secret"', 'c'), /^c NO \[NONEXISTENT\]/);
      c.close();
    } finally {
      await f.close();
    }
  });
});

describe('backpressure', () => {
  test('a client that pipelines without reading stalls itself; the server then catches up in order', async () => {
    const f = await startImap();
    try {
      await f.append(message('big', 'y'.repeat(60_000)));
      const c = await RawClient.connect(f.port);
      await c.login();
      await c.cmd('EXAMINE INBOX');
      c.socket.pause();
      let cmds = '';
      for (let i = 0; i < 40; i++) cmds += `b${i} FETCH 1 BODY.PEEK[]\r\n`;
      c.write(cmds);
      await new Promise((r) => setTimeout(r, 200));
      c.socket.resume();
      const all = await c.readUntil((s) => s.includes('b39 OK'), 10_000);
      const tags = [...all.matchAll(/^(b\d+) OK/gm)].map((m) => m[1]);
      assert.deepEqual(tags, Array.from({ length: 40 }, (_, i) => `b${i}`));
      c.close();
    } finally {
      await f.close();
    }
  });
});

describe('literal memory across connections', () => {
  test('a literal the shared budget cannot hold is NO [UNAVAILABLE] before it is sent; the budget frees as APPENDs end or clients leave', async () => {
    const f = await startImap({ maxBufferedLiterals: 10_000 });
    try {
      const body = (tag: string, n: number): string => message(tag, 'b'.repeat(n));
      const a = await RawClient.connect(f.port);
      await a.login();
      const b = await RawClient.connect(f.port, { localAddress: '127.0.0.2' });
      await b.login();
      // a announces a synchronizing literal of 7,000 octets: the "+" reserves them.
      const big = body('a-big', 6_800);
      a.write(`a1 APPEND INBOX {${big.length}}\r\n`);
      assert.match(await a.readUntil((x) => x.includes('+ '), 3000), /^\+ /);
      // b's synchronizing literal does not fit: refused at once, no "+"; the session goes on.
      const mid = body('b-mid', 4_000);
      assert.match(await b.cmd(`APPEND INBOX {${mid.length}}`, 'b1'), /^b1 NO \[UNAVAILABLE\] /m);
      assert.match(await b.cmd('NOOP', 'b2'), /^b2 OK /m);
      // A non-synchronizing one (LITERAL+) is read and dropped with the rest of its command.
      assert.match(await b.cmd(`APPEND INBOX {${mid.length}+}\r\n${mid}`, 'b3'), /^b3 NO \[UNAVAILABLE\] /m);
      assert.match(await b.cmd('NOOP', 'b4'), /^b4 OK /m);
      // a sends its literal: stored; its reservation is given back, so b's APPEND now goes through.
      a.write(`${big}\r\n`);
      assert.match(await a.waitTagged('a1'), /^a1 OK \[APPENDUID /m);
      assert.match(await b.cmd(`APPEND INBOX {${mid.length}+}\r\n${mid}`, 'b5'), /^b5 OK \[APPENDUID /m);
      // A client that leaves halfway through its literal gives its reservation back too.
      const c = await RawClient.connect(f.port, { localAddress: '127.0.0.3' });
      await c.login();
      c.write(`c1 APPEND INBOX {${big.length}+}\r\n${big.slice(0, 1000)}`);
      await new Promise((r) => setTimeout(r, 100));
      assert.match(await b.cmd(`APPEND INBOX {${mid.length}}`, 'b6'), /^b6 NO \[UNAVAILABLE\] /m);
      c.close();
      await new Promise((r) => setTimeout(r, 100));
      assert.match(await b.cmd(`APPEND INBOX {${mid.length}+}\r\n${mid}`, 'b7'), /^b7 OK \[APPENDUID /m);
      assert.match(await b.cmd('STATUS INBOX (MESSAGES)', 'b8'), /MESSAGES 3\)/);
      a.close();
      b.close();
    } finally {
      await f.close();
    }
  });
});

describe('shutdown', () => {
  test('close() says BYE to every session and resolves once they are gone', async () => {
    const f = await startImap();
    const a = await RawClient.connect(f.port);
    const b = await RawClient.connect(f.port);
    await b.login();
    await b.cmd('SELECT INBOX');
    b.write('i IDLE\r\n');
    await b.readUntil((s) => s.includes('+ idling'));
    b.take();
    await f.svc.close();
    assert.equal(await a.readUntil((s) => s.includes('\r\n')), '* BYE Server shutting down\r\n');
    assert.equal(await b.readUntil((s) => s.includes('\r\n')), '* BYE Server shutting down\r\n');
    a.close();
    b.close();
    await f.close();
  });
});
