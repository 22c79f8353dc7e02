/**
 * POP3 under store failures and shutdown: every failure becomes -ERR [SYS/TEMP] (or a dropped connection
 * once a body is half sent), nothing is committed that should not be, and maildrop locks are never leaked.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Store } from '../src/store/handle.js';
import { StoreError } from '../src/store/types.js';
import { memoryLogger, type LogLine } from '../src/lib/logger.js';
import { READ_CHUNK } from '../src/pop3-server/message-stream.js';
import type { MessageReader } from '../src/store/maildrop.js';
import { RawPop3, faultyStore, startPop3, message, withoutOpenMessage, type StoreFaults } from './pop3-helpers.js';

/**
 * A fixture whose POP3 service sees the store through `faults` (mutable: tests switch faults on and off).
 * RETR reads through MailStore.readBytes (the PostgreSQL path) unless `syncReads`: then through
 * Maildrop.openMessage (SQLite), where `faults.openMessage` applies.
 */
async function withFaults(faults: StoreFaults, logLines: LogLine[] = [], syncReads = false) {
  return startPop3({ wrapStore: (s: Store) => faultyStore(syncReads ? s : withoutOpenMessage(s), faults), logger: memoryLogger(logLines) });
}

/** A reader that passes `real` through until `failAt` bytes were handed out, then throws; counts closes. */
function failingReader(real: MessageReader, failAt: () => number, closes: { n: number }): MessageReader {
  let pos = 0;
  return {
    size: real.size,
    inMemory: real.inMemory,
    next(into: Buffer, end?: number): Buffer {
      if (pos >= failAt()) throw new Error('blob vanished');
      const b = real.next(into, end);
      pos += b.length;
      return b;
    },
    close(): void {
      closes.n++;
      real.close();
    },
  };
}

test('a temporary store failure during RETR is -ERR [SYS/TEMP] and the session goes on', async (t) => {
  const faults: StoreFaults = {};
  const f = await withFaults(faults);
  t.after(() => f.close());
  await f.append(message('t1'));
  const { c } = await RawPop3.open(f.port);
  await c.login();
  faults.readBytes = async () => {
    throw new StoreError('TEMPORARY', 'database is locked');
  };
  assert.equal(await c.cmd('RETR 1'), '-ERR [SYS/TEMP] Temporary server failure; try again later');
  delete faults.readBytes;
  assert.equal(await c.cmd('NOOP'), '+OK');
  assert.match((await c.multi('RETR 1')).status, /^\+OK \d+ octets$/);
  await c.cmd('QUIT');
});

test('an unexpected failure at login is logged with an id and answered -ERR [SYS/TEMP]; the lock is released', async (t) => {
  const logLines: LogLine[] = [];
  const faults: StoreFaults = {
    listMessages: async () => {
      throw new Error('disk on fire');
    },
  };
  const f = await withFaults(faults, logLines);
  t.after(() => f.close());
  await f.append(message('t2'));
  const { c } = await RawPop3.open(f.port);
  const reply = await c.login();
  const id = /^-ERR \[SYS\/TEMP\] Internal server error \(id ([0-9a-f]{8})\); try again later$/.exec(reply)?.[1];
  assert.ok(id, reply);
  const logged = logLines.find((l) => l.level === 'error' && l.fields.errorId === id);
  assert.ok(logged && logged.fields.err instanceof Error && logged.fields.err.message === 'disk on fire');
  delete faults.listMessages;
  assert.match(await c.login(), /^\+OK Logged in; maildrop has 1 message/, 'no lock was leaked');
  await c.cmd('QUIT');
});

test('a read failure while streaming: -ERR if nothing was sent yet, else the connection drops; nothing marked retrieved', async (t) => {
  const faults: StoreFaults = {};
  const f = await withFaults(faults);
  t.after(() => f.close());
  const big = message('big', `${'z'.repeat(78)}\r\n`.repeat(Math.ceil((READ_CHUNK * 3) / 80)));
  await f.append(big);
  const real = f.store.mail.readBytes.bind(f.store.mail);
  let failFrom = READ_CHUNK;
  faults.readBytes = async (mailboxId, uid, range) => {
    if (range && range.start >= failFrom) throw new Error('blob vanished');
    return real(mailboxId, uid, range);
  };
  const { c } = await RawPop3.open(f.port);
  await c.login();
  // The second chunk fails while the first is still held back: the client gets a clean -ERR.
  assert.equal(await c.cmd('RETR 1'), '-ERR [SYS/TEMP] Could not read the message; try again later');
  // The third chunk fails after the status line and the first chunk went out: only dropping is honest.
  failFrom = 2 * READ_CHUNK;
  c.send('RETR 1\r\n');
  const rest = await c.closed();
  assert.match(rest, /^\+OK \d+ octets\r\nFrom: /, 'the +OK and the first part went out');
  assert.ok(!rest.endsWith('\r\n.\r\n'), 'no terminator: the client cannot mistake it for a whole message');
  delete faults.readBytes;
  const { c: c2 } = await RawPop3.open(f.port);
  assert.match(await c2.login(), /^\+OK Logged in/);
  await c2.cmd('QUIT');
  assert.deepEqual((await f.store.mail.listMessages(f.inbox.id)).map((m) => m.flags), [[]]);
});

test('a failed commit at QUIT deletes nothing, says so, and releases the lock', async (t) => {
  const faults: StoreFaults = {
    commit: async () => {
      throw new StoreError('TEMPORARY', 'disk full');
    },
  };
  const f = await withFaults(faults);
  t.after(() => f.close());
  await f.append(message('q1'));
  const { c } = await RawPop3.open(f.port);
  await c.login();
  assert.equal(await c.cmd('DELE 1'), '+OK Message 1 deleted');
  assert.equal(await c.cmd('QUIT'), '-ERR [SYS/TEMP] Could not commit the changes; no messages were deleted');
  await c.closed();
  assert.equal((await f.store.mail.listMessages(f.inbox.id)).length, 1);
  delete faults.commit;
  const { c: c2 } = await RawPop3.open(f.port);
  assert.match(await c2.login(), /^\+OK Logged in; maildrop has 1 message/);
  await c2.cmd('QUIT');
});

test('close() during a command: the command finishes, then -ERR shutting down, nothing committed', async (t) => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const faults: StoreFaults = {};
  const f = await withFaults(faults);
  t.after(() => f.close());
  await f.append(message('s1'));
  await f.append(message('s2'));
  const real = f.store.mail.readBytes.bind(f.store.mail);
  const { c } = await RawPop3.open(f.port);
  await c.login();
  assert.equal(await c.cmd('DELE 1'), '+OK Message 1 deleted');
  let entered!: () => void;
  const inRead = new Promise<void>((r) => (entered = r));
  faults.readBytes = async (mailboxId, uid, range) => {
    entered();
    await gate;
    return real(mailboxId, uid, range);
  };
  c.send('RETR 2\r\n');
  await inRead;
  const closing = f.svc.close();
  release();
  assert.match(await c.line(), /^\+OK \d+ octets$/);
  assert.match((await c.body()).toString(), /Subject: s2/);
  assert.equal(await c.line(), '-ERR [SYS/TEMP] Server shutting down');
  await c.closed();
  await closing;
  assert.equal((await f.store.mail.listMessages(f.inbox.id)).length, 2, 'the DELE was not committed');
});

test('synchronous reads: a temporary failure opening the message is -ERR [SYS/TEMP]; a reader failing before the first byte is -ERR', async (t) => {
  const faults: StoreFaults = {};
  const f = await withFaults(faults, [], true);
  t.after(() => f.close());
  await f.append(message('o1'));
  const real = f.store.maildrop.openMessage!.bind(f.store.maildrop);
  const { c } = await RawPop3.open(f.port);
  await c.login();
  faults.openMessage = () => {
    throw new StoreError('TEMPORARY', 'database is locked');
  };
  assert.equal(await c.cmd('RETR 1'), '-ERR [SYS/TEMP] Temporary server failure; try again later');
  const closes = { n: 0 };
  faults.openMessage = (mailboxId, uid) => {
    const r = real(mailboxId, uid);
    return r && failingReader(r, () => 0, closes);
  };
  assert.equal(await c.cmd('RETR 1'), '-ERR [SYS/TEMP] Could not read the message; try again later');
  assert.equal(closes.n, 1, 'the reader was closed');
  delete faults.openMessage;
  assert.match((await c.multi('RETR 1')).status, /^\+OK \d+ octets$/);
  await c.cmd('QUIT');
});

test('synchronous reads: a reader failing after the first chunk drops the connection; nothing marked retrieved, the reader closed', async (t) => {
  const faults: StoreFaults = {};
  const f = await withFaults(faults, [], true);
  t.after(() => f.close());
  // Larger than the store keeps inline and than one read buffer: a file read in several pieces.
  const big = message('big', `${'z'.repeat(78)}\r\n`.repeat(Math.ceil((READ_CHUNK * 3) / 80)));
  await f.append(big);
  const real = f.store.maildrop.openMessage!.bind(f.store.maildrop);
  const closes = { n: 0 };
  faults.openMessage = (mailboxId, uid) => {
    const r = real(mailboxId, uid);
    return r && failingReader(r, () => READ_CHUNK, closes);
  };
  const { c } = await RawPop3.open(f.port);
  await c.login();
  c.send('RETR 1\r\n');
  const rest = await c.closed();
  assert.match(rest, /^\+OK \d+ octets\r\nFrom: /, 'the +OK and the first part went out');
  assert.ok(!rest.endsWith('\r\n.\r\n'), 'no terminator: the client cannot mistake it for a whole message');
  assert.equal(closes.n, 1, 'the reader was closed');
  delete faults.openMessage;
  const { c: c2 } = await RawPop3.open(f.port);
  assert.match(await c2.login(), /^\+OK Logged in/);
  const whole = await c2.multi('RETR 1');
  assert.equal(whole.status, `+OK ${big.length} octets`);
  await c2.cmd('QUIT');
  assert.deepEqual((await f.store.mail.listMessages(f.inbox.id)).map((m) => m.flags), [['\\Seen']], 'only the whole RETR counted');
});
