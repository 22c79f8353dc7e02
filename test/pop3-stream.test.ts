/**
 * POP3 connection mechanics over in-memory streams: input one byte at a time, a client that stops reading
 * (write stall -> disconnect, nothing committed), autologout during an AUTH exchange, input backpressure.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Duplex, PassThrough } from 'node:stream';
import { memoryConnection, message, RawPop3, startPop3, unstuff, USER, PASSWORD } from './pop3-helpers.js';
import { hashPassword } from '../src/auth/hash.js';

test('a whole session sent one byte at a time gets the same replies', async (t) => {
  const f = await startPop3();
  t.after(() => f.close());
  await f.append(message('bytewise', '.dot\r\n'));
  const { c, done } = memoryConnection(f, '127.0.0.1');
  assert.match(await c.line(), /^\+OK/);
  const send = async (s: string): Promise<void> => {
    for (const b of Buffer.from(s)) {
      c.send(Buffer.from([b]));
      await new Promise((r) => setImmediate(r));
    }
  };
  await send(`USER ${USER}\r\nPASS ${PASSWORD}\r\nRETR 1\r\nDELE 1\r\nQUIT\r\n`);
  assert.equal(await c.line(), '+OK Send PASS');
  assert.match(await c.line(), /^\+OK Logged in/);
  assert.match(await c.line(), /^\+OK \d+ octets$/);
  assert.equal((await c.body()).toString(), message('bytewise', '..dot\r\n'));
  assert.equal(await c.line(), '+OK Message 1 deleted');
  assert.match(await c.line(), /\(1 message deleted\)$/);
  c.socket.end();
  await done;
  assert.equal((await f.store.mail.listMessages(f.inbox.id)).length, 0);
});

test('a client that stops reading during RETR is disconnected after the idle timeout; nothing committed', async (t) => {
  const f = await startPop3({ idleTimeoutMs: 300 });
  t.after(() => f.close());
  await f.append(message('stall', `${'s'.repeat(998)}\r\n`.repeat(2000)));
  await f.append(message('other'));
  const toServer = new PassThrough();
  const toClient = new PassThrough({ highWaterMark: 1024 });
  const done = f.svc.handle(Duplex.from({ readable: toServer, writable: toClient }), { remoteAddress: '127.0.0.1', secure: false });
  // Nobody reads toClient: the server's writes back up after a few KiB.
  toServer.write(`USER ${USER}\r\nPASS ${PASSWORD}\r\nDELE 2\r\nRETR 1\r\n`);
  const started = Date.now();
  await done;
  assert.ok(Date.now() - started >= 250, 'the server waited for the idle timeout before giving up');
  assert.ok(toClient.readableLength < 2_000_000 / 2, 'the message was not buffered whole');
  assert.equal((await f.store.mail.listMessages(f.inbox.id)).length, 2, 'the DELE was not committed');
  const { c } = await RawPop3.open(f.port);
  assert.match(await c.login(), /^\+OK Logged in/, 'the maildrop lock was released');
  await c.cmd('QUIT');
});

test('autologout while the server waits for an AUTH continuation', async (t) => {
  const f = await startPop3({ idleTimeoutMs: 1000 });
  t.after(() => f.close());
  const { c } = await RawPop3.open(f.port);
  assert.equal(await c.cmd('AUTH PLAIN'), '+ ');
  assert.equal(await c.line(), '-ERR Autologout; idle for too long');
  assert.equal(await c.closed(), '');
});

test('a flood of pipelined commands is read with backpressure and answered in full', async (t) => {
  const f = await startPop3();
  t.after(() => f.close());
  await f.append(message('flood'));
  const { c } = await RawPop3.open(f.port);
  await c.login();
  const n = 3000;
  c.send('NOOP\r\n'.repeat(n) + 'STAT\r\n');
  for (let i = 0; i < n; i++) assert.equal(await c.line(), '+OK');
  assert.match(await c.line(), /^\+OK 1 \d+$/);
  await c.cmd('QUIT');
});

test('a long pipelined run of distinct commands is answered in the order sent, across the compaction of the line queue', async (t) => {
  const f = await startPop3();
  t.after(() => f.close());
  for (const s of ['one', 'two', 'three']) await f.append(message(s));
  const { c } = await RawPop3.open(f.port);
  await c.login();
  const sizes = (await f.store.mail.listMessages(f.inbox.id)).sort((a, b) => a.uid - b.uid).map((m) => m.size);
  // More lines than the connection queues before it stops reading, each with its own answer; some invalid.
  const n = 700;
  const lines = Array.from({ length: n }, (_, i) => (i % 97 === 5 ? 'LIST 9' : `LIST ${(i % 3) + 1}`));
  c.send(lines.map((l) => `${l}\r\n`).join(''));
  for (let i = 0; i < n; i++) {
    const k = (i % 3) + 1;
    assert.equal(await c.line(), i % 97 === 5 ? '-ERR There is no message 9' : `+OK ${k} ${sizes[k - 1]}`, `reply ${i}`);
  }
  await c.cmd('QUIT');
});

test('close() while the server waits for an AUTH continuation ends the exchange with one -ERR', async (t) => {
  const f = await startPop3();
  t.after(() => f.close());
  const { c } = await RawPop3.open(f.port);
  assert.equal(await c.cmd('AUTH LOGIN'), `+ ${Buffer.from('Username:').toString('base64')}`);
  const closing = f.svc.close();
  assert.equal(await c.line(), '-ERR [SYS/TEMP] Server shutting down');
  assert.equal(await c.closed(), '');
  await closing;
});

test('pipelined RETR and TOP of many sizes over two connections return exactly the stored bytes (read buffers are reused)', async (t) => {
  const f = await startPop3();
  t.after(() => f.close());
  const second = await f.store.directory.createUser('bob@example.org', await hashPassword(PASSWORD));
  const bobInbox = (await f.store.mail.getMailbox(second.id, 'INBOX'))!;
  // Sizes around the 256 KiB read chunk, with dot lines everywhere (also right at the chunk boundaries).
  const bodies: Buffer[] = [];
  for (let k = 0; k < 14; k++) {
    const target = [300, 5000, 262_100, 262_144, 262_200, 600_000, 40][k % 7]! + k;
    const lines: string[] = [];
    let len = 0;
    for (let i = 0; len < target; i++) {
      const line = i % 3 === 0 ? `.${'d'.repeat((i * 37 + k) % 90)}` : `${'x'.repeat((i * 53 + k) % 120)}.end`;
      lines.push(line);
      len += line.length + 2;
    }
    bodies.push(Buffer.from(message(`sized ${k}`, lines.join('\r\n') + '\r\n')));
  }
  for (const b of bodies) {
    await f.append(b);
    await f.store.mail.append(bobInbox.id, Buffer.from(b.toString('latin1').replace('sized', 'other'), 'latin1'));
  }
  const run = async (user: string, expected: Buffer[]): Promise<void> => {
    const { c } = await RawPop3.open(f.port);
    assert.match(await c.login(user), /^\+OK/);
    let batch = '';
    for (let k = 1; k <= expected.length; k++) batch += `RETR ${k}\r\nTOP ${k} 3\r\n`;
    c.send(batch);
    for (let k = 0; k < expected.length; k++) {
      assert.match(await c.line(), /^\+OK \d+ octets$/);
      assert.deepEqual(unstuff(await c.body()), expected[k], `RETR ${k + 1}`);
      assert.match(await c.line(), /^\+OK/);
      const raw = expected[k]!.toString('latin1');
      const headerEnd = raw.indexOf('\r\n\r\n') + 4;
      const top = raw.slice(0, headerEnd) + /^(?:[^\n]*\n){0,3}/.exec(raw.slice(headerEnd))![0];
      assert.equal(unstuff(await c.body()).toString('latin1'), top, `TOP ${k + 1} 3`);
    }
    await c.cmd('QUIT');
  };
  const bobs = bodies.map((b) => Buffer.from(b.toString('latin1').replace('sized', 'other'), 'latin1'));
  await Promise.all([run(USER, bodies), run('bob@example.org', bobs)]);
});

test('one pipelined write mixing RETRs (inline and file, dot lines at chunk starts), a deleted and out-of-range numbers, garbage and an over-long line is answered in order, byte-exact', async (t) => {
  const f = await startPop3();
  t.after(() => f.close());
  // A small message kept in the database, one whose first body line and last line start with ".", and one
  // larger than a read buffer with a dot line exactly at the 256 KiB boundary.
  const small = Buffer.from(message('small', '.first\r\nmiddle\r\n.last\r\n'));
  const headLen = Buffer.byteLength(message('big', ''));
  const filler = 'y'.repeat(98);
  const lines: string[] = [];
  let len = headLen;
  while (len < 262_144 - 100) {
    lines.push(filler);
    len += 100;
  }
  lines.push('z'.repeat(262_144 - len - 2));
  lines.push('.at the boundary', '..two dots', 'end');
  const big = Buffer.from(message('big', lines.join('\r\n') + '\r\n'));
  assert.equal(big[262_144], 0x2e, 'a "." starts the second read chunk');
  const noCrlf = Buffer.from(message('tail', 'no final line end'));
  for (const m of [small, big, noCrlf]) await f.append(m);
  const { c } = await RawPop3.open(f.port);
  assert.match(await c.login(), /^\+OK/);
  c.send(`DELE 1\r\nRETR 1\r\nRETR 2\r\nRETR 0\r\nRETR 4\r\nRETR 99999999999\r\nRETR -1\r\nRETR 2 extra\r\nXYZZY\r\n\x00\xff\r\nRETR ${'9'.repeat(300)}\r\nRETR 3\r\nRSET\r\nRETR 1\r\nSTAT\r\n`);
  assert.match(await c.line(), /^\+OK/, 'DELE 1');
  assert.match(await c.line(), /^-ERR .*deleted/i, 'RETR of a message marked deleted');
  assert.equal(await c.line(), `+OK ${big.length} octets`);
  assert.deepEqual(unstuff(await c.body()), big);
  for (const what of ['RETR 0', 'RETR 4', 'RETR 99999999999', 'RETR -1', 'RETR 2 extra', 'XYZZY', 'binary garbage', 'over-long RETR']) {
    assert.match(await c.line(), /^-ERR /, what);
  }
  assert.equal(await c.line(), `+OK ${noCrlf.length} octets`);
  const tail = await c.body();
  assert.deepEqual(tail, Buffer.concat([noCrlf, Buffer.from('\r\n')]), 'a CRLF is added before the terminator, counted nowhere');
  assert.match(await c.line(), /^\+OK/, 'RSET');
  assert.equal(await c.line(), `+OK ${small.length} octets`);
  const stuffed = await c.body();
  assert.ok(stuffed.includes(Buffer.from('\r\n..first\r\n')) && stuffed.includes(Buffer.from('\r\n..last\r\n')), 'leading dots are doubled');
  assert.deepEqual(unstuff(stuffed), small);
  assert.equal(await c.line(), `+OK 3 ${small.length + big.length + noCrlf.length}`);
  assert.match(await c.cmd('QUIT'), /^\+OK/);
});
