/**
 * Hostile input over raw POP3 sockets: each attack gets -ERR and the session goes on (or closes where
 * RFC 1939 leaves nothing else), and afterwards a normal client still logs in and reads its maildrop.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startPop3, RawPop3, message, type Pop3Fixture } from './pop3-helpers.js';

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
    for (const cmd of ['RETR 0', 'RETR -1', 'RETR 99999999999', 'RETR 1e3', 'LIST 99999999999999999999999', 'DELE 0', 'TOP 1 99999999999999', 'TOP 1 -1', 'TOP 1']) {
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
});
