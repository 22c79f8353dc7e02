/**
 * Hostile input over raw POP3 sockets: each attack gets -ERR and the session goes on (or closes where
 * RFC 1939 leaves nothing else), and afterwards a normal client still logs in and reads its maildrop.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { generateSelfSigned } from '../src/server/tls.js';
import { hashPassword } from '../src/auth/hash.js';
import { startPop3, RawPop3, message, USER, PASSWORD, type Pop3Fixture } from './pop3-helpers.js';

async function stillServes(port: number): Promise<void> {
  const { c } = await RawPop3.open(port);
  try {
    assert.match(await c.login(), /^\+OK/);
    assert.match(await c.cmd('STAT'), /^\+OK 1 \d+$/);
    const r = await c.multi('RETR 1');
    assert.match(r.status, /^\+OK/);
    assert.match(r.body!.toString('utf8'), /Subject: kept/);
    assert.match(await c.cmd('QUIT'), /^\+OK/);
  } finally {
    c.destroy();
  }
}

describe('hostile POP3 input', () => {
  let f: Pop3Fixture;
  before(async () => {
    f = await startPop3();
    await f.append(message('kept'));
  });
  after(async () => {
    await f.close();
  });

  test('a line that never ends is answered -ERR before its end; framing resumes after its LF', async () => {
    const { c } = await RawPop3.open(f.port);
    c.send('USER ' + 'x'.repeat(1 << 20));
    assert.match(await c.line(), /^-ERR Line too long/);
    c.send('yyyy\r\n');
    assert.match(await c.cmd('NOOP'), /^-ERR/, 'NOOP before login');
    assert.match(await c.login(), /^\+OK/);
    assert.match(await c.cmd('STAT'), /^\+OK 1 /);
    c.destroy();
    await stillServes(f.port);
  });

  test('message numbers and line counts out of range are -ERR; commands before login are -ERR', async () => {
    const { c } = await RawPop3.open(f.port);
    for (const cmd of ['RETR 1', 'STAT', 'LIST', 'DELE 1', 'UIDL', 'TOP 1 1']) assert.match(await c.cmd(cmd), /^-ERR /, cmd);
    assert.match(await c.login(), /^\+OK/);
    for (const cmd of ['RETR 0', 'RETR -1', 'RETR 99999999999', 'RETR 1e3', 'LIST 99999999999999999999999', 'DELE 0', 'TOP 1 -1', 'TOP 1 +1', 'TOP 1']) {
      assert.match(await c.cmd(cmd), /^-ERR /, cmd);
    }
    assert.match(await c.cmd('STAT'), /^\+OK 1 /);
    c.destroy();
    await stillServes(f.port);
  });

  test('AUTH and APOP garbage is -ERR', async () => {
    const { c } = await RawPop3.open(f.port);
    assert.match(await c.cmd('AUTH PLAIN'), /^\+ /);
    assert.match(await c.cmd('!!!garbage'), /^-ERR /);
    assert.match(await c.cmd('AUTH PLAIN ===='), /^-ERR /);
    assert.match(await c.cmd('AUTH X-NONE'), /^-ERR /);
    assert.match(await c.cmd('APOP alice zzzz'), /^-ERR /);
    assert.match(await c.cmd('NO\0OP'), /^-ERR /);
    c.destroy();
    await stillServes(f.port);
  });

  test('message numbers with leading zeros name the message, however many zeros (as Dovecot reads them)', async () => {
    const { c } = await RawPop3.open(f.port);
    assert.match(await c.login(), /^\+OK/);
    assert.equal(await c.cmd('LIST 0000000001'), `+OK 1 ${(await f.store.mail.listMessages(f.inbox.id))[0]!.size}`);
    assert.match(await c.cmd('UIDL 00000000000000000000001'), /^\+OK 1 \S+$/);
    const r = await c.multi('RETR 0000000000001');
    assert.match(r.status, /^\+OK/);
    assert.match(r.body!.toString('utf8'), /Subject: kept/);
    assert.match(await c.cmd('LIST 00000000000'), /^-ERR There is no message 0/);
    assert.match(await c.cmd('LIST 0000000000012345678901'), /^-ERR /, 'ten significant digits');
    c.destroy();
    await stillServes(f.port);
  });

  test('TOP with a line count beyond any message (13 digits or more) sends the whole body', async () => {
    const { c } = await RawPop3.open(f.port);
    assert.match(await c.login(), /^\+OK/);
    const whole = await c.multi('RETR 1');
    for (const n of ['99999999999999', '18446744073709551615', '9'.repeat(200)]) {
      const r = await c.multi(`TOP 1 ${n}`);
      assert.match(r.status, /^\+OK/, n);
      assert.deepEqual(r.body, whole.body, n);
    }
    c.destroy();
    await stillServes(f.port);
  });

  test('keywords are ASCII: letters whose Unicode upper case is ASCII (dotless i, long s) do not spell a command', async () => {
    const { c } = await RawPop3.open(f.port);
    assert.match(await c.cmd(`u\u017fer ${USER}`), /^-ERR Unknown command/);
    assert.match(await c.cmd('\u017ftls'), /^-ERR Unknown command/);
    assert.match(await c.cmd('AUTH pla\u0131n'), /^-ERR Unsupported authentication mechanism/);
    assert.match(await c.cmd('AUTH plain'), /^\+ /);
    assert.match(await c.cmd('*'), /^-ERR Authentication cancelled/);
    assert.match(await c.login(), /^\+OK/);
    assert.match(await c.cmd('\u017ftat'), /^-ERR Unknown command/);
    assert.match(await c.cmd('dele 1'), /^\+OK/);
    assert.match(await c.cmd('qu\u0131t'), /^-ERR Unknown command/, 'not QUIT: nothing is committed');
    c.destroy();
    await stillServes(f.port);
  });
});

describe('hostile POP3 input: an AUTH initial response longer than the 255-octet command line', () => {
  // RFC 5034 section 4 asks clients to keep an AUTH initial response within RFC 2449's 255 octets; servers
  // see clients that do not (Dovecot takes them).
  const LONG = 'long password '.repeat(30);
  let f: Pop3Fixture;
  before(async () => {
    f = await startPop3({ passwordHash: await hashPassword(LONG) });
    await f.append(message('kept'));
  });
  after(async () => {
    await f.close();
  });

  test('AUTH PLAIN with a long initial response logs in', async () => {
    const { c } = await RawPop3.open(f.port);
    const line = `AUTH PLAIN ${Buffer.from(`\0${USER}\0${LONG}`).toString('base64')}`;
    assert.ok(line.length > 255);
    assert.match(await c.cmd(line), /^\+OK Logged in/);
    assert.match(await c.cmd('QUIT'), /^\+OK/);
    c.destroy();
  });

  test('PASS keeps the 255-octet limit: a long password goes through AUTH', async () => {
    const { c } = await RawPop3.open(f.port);
    assert.match(await c.cmd(`USER ${USER}`), /^\+OK/);
    assert.match(await c.cmd(`PASS ${LONG}`), /^-ERR Line too long/);
    assert.match(await c.cmd('AUTH PLAIN'), /^\+ /);
    assert.match(await c.cmd(Buffer.from(`\0${USER}\0${LONG}`).toString('base64')), /^\+OK Logged in/);
    c.destroy();
  });

  test('other commands keep the 255-octet limit, and AUTH the framer limit', async () => {
    const { c } = await RawPop3.open(f.port);
    assert.match(await c.cmd(`CAPA ${'x'.repeat(300)}`), /^-ERR Line too long/);
    assert.match(await c.cmd(`USER ${'x'.repeat(300)}`), /^-ERR Line too long/);
    assert.match(await c.cmd(`AUTH PLAIN ${'A'.repeat(9000)}`), /^-ERR Line too long/);
    assert.match(await c.cmd(`AUTH PLAIN ${Buffer.from(`\0${USER}\0${LONG}`).toString('base64')}`), /^\+OK Logged in/);
    c.destroy();
  });
});

describe('hostile POP3 clients cannot hold up the service close', () => {
  /** Resolves 'closed' when close() ends within ms, else 'hung' (close() goes on in the background). */
  async function closeWithin(f: Pop3Fixture, ms: number): Promise<string> {
    return Promise.race([f.svc.close().then(() => 'closed'), sleep(ms).then(() => 'hung')]);
  }

  test('a client that stopped reading in the middle of a RETR is cut off after the shutdown grace; nothing committed', async (t) => {
    const f = await startPop3({ idleTimeoutMs: 5000, shutdownGraceMs: 200 });
    t.after(() => f.close());
    await f.append(message('big', `${'s'.repeat(998)}\r\n`.repeat(8000)));
    await f.append(message('small'));
    const { c } = await RawPop3.open(f.port);
    t.after(() => c.destroy());
    assert.match(await c.login(), /^\+OK/);
    assert.match(await c.cmd('DELE 2'), /^\+OK/);
    c.socket.pause();
    c.send('RETR 1\r\n');
    await sleep(200);
    assert.equal(await closeWithin(f, 2000), 'closed');
    assert.equal((await f.store.mail.listMessages(f.inbox.id)).length, 2, 'the DELE was not committed');
  });

  test('a client that never completes the STLS handshake is cut off after the shutdown grace', async (t) => {
    const f = await startPop3({ idleTimeoutMs: 5000, shutdownGraceMs: 200, tls: await generateSelfSigned('pop.test') });
    t.after(() => f.close());
    const { c } = await RawPop3.open(f.port);
    t.after(() => c.destroy());
    assert.equal(await c.cmd('STLS'), '+OK Begin TLS negotiation now');
    await sleep(50);
    assert.equal(await closeWithin(f, 2000), 'closed');
  });

  test('an idle session still gets its -ERR at once', async (t) => {
    const f = await startPop3({ shutdownGraceMs: 5000 });
    t.after(() => f.close());
    await f.append(message('kept'));
    const { c } = await RawPop3.open(f.port);
    t.after(() => c.destroy());
    assert.match(await c.cmd(`USER ${USER}`), /^\+OK/);
    assert.match(await c.cmd(`PASS ${PASSWORD}`), /^\+OK/);
    const started = Date.now();
    assert.equal(await closeWithin(f, 2000), 'closed');
    assert.ok(Date.now() - started < 1000);
    assert.match(await c.closed(), /^-ERR \[SYS\/TEMP\] Server shutting down\r\n$/);
  });
});

describe('the login deadline', () => {
  test('a client kept busy without logging in (CAPA, NOOP) is disconnected at the login timeout; one that logs in is not', async (t) => {
    const f = await startPop3({ loginTimeoutMs: 600 });
    t.after(() => f.close());
    const { c } = await RawPop3.open(f.port);
    t.after(() => c.destroy());
    const late = (await RawPop3.open(f.port)).c;
    t.after(() => late.destroy());
    assert.match(await late.login(), /^\+OK/);
    for (let i = 0; i < 4; i++) {
      assert.match(await c.cmd('NOOP'), /^-ERR/, 'NOOP is not allowed before login, and the session goes on');
      await sleep(100);
    }
    assert.match(await c.closed(), /^-ERR Disconnected: no login within the time allowed\r\n$/);
    await sleep(300);
    assert.match(await late.cmd('STAT'), /^\+OK/, 'a logged-in session has no login deadline');
    assert.match(await late.cmd('QUIT'), /^\+OK/);
  });
});
