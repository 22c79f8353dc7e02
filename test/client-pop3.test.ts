/**
 * POP3 client robustness against a scriptable fake server: a connection dropped mid-RETR loses and
 * duplicates nothing; servers without UIDL; APOP and SASL PLAIN; dot-stuffing and 8-bit bytes on the wire.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { startFakePop3 } from './helpers/fake-pop3.js';
import { tempProfile, engine, sampleMessage, assertMaildir, PASSWORD_ENV } from './helpers/client.js';
import { Pop3Client } from '../src/client/pop3/client.js';
import type { Pop3Report } from '../src/client/pop3/fetch.js';
import { ClientError } from '../src/client/errors.js';

const acct = (port: number, extra: Record<string, unknown> = {}) => ({
  name: 'fake',
  protocol: 'pop3' as const,
  host: '127.0.0.1',
  port,
  user: 'u',
  password: { kind: 'env' as const, name: PASSWORD_ENV },
  ...extra,
});

for (const pipelining of [false, true]) {
test(`connection dropped mid-RETR: nothing lost, nothing duplicated on the next run${pipelining ? ' (pipelined)' : ''}`, async () => {
  const msgs = [1, 2, 3, 4].map((i) => ({ uidl: `uid-${i}`, raw: sampleMessage(`m${i}`, { body: Buffer.from('.\r\n..x\r\n'.repeat(500 * i)) }) }));
  const srv = await startFakePop3({ user: 'u', password: 'pw', messages: msgs, dropInRetr: [3], pipelining });
  const p = tempProfile();
  const e = engine(p.dir, 'pw');
  try {
    e.addAccount(acct(srv.port));
    await assert.rejects(e.syncAccount('fake'), (err: ClientError) => err.code === 'NETWORK');
    // two messages were stored and recorded; their DELEs were never committed (no QUIT)
    assert.equal(e.list().length, 2);
    assert.equal(srv.messages.length, 4);
    assert.equal(assertMaildir(e.inbox.root), 2);
    const r = (await e.syncAccount('fake')) as Pop3Report;
    assert.equal(r.downloaded, 2, 'only the two not yet stored');
    assert.equal(r.deletedOnServer, 4, 'leftovers of the broken session are deleted now');
    assert.equal(srv.messages.length, 0);
    assert.deepEqual([...srv.retrCount.entries()].sort(), [
      ['uid-1', 1],
      ['uid-2', 1],
      ['uid-3', 2],
      ['uid-4', 1],
    ]);
    const rows = e.list();
    assert.deepEqual(rows.map((x) => x.summary.subject).sort(), ['m1', 'm2', 'm3', 'm4']);
    for (const row of rows) {
      const orig = msgs.find((m) => m.raw.includes(Buffer.from(`Subject: ${row.summary.subject}\r\n`)));
      assert.ok(orig && readFileSync(row.filePath as string).equals(orig.raw), 'dot-only body lines survive byte-exact');
    }
    assert.equal(assertMaildir(e.inbox.root), 4);
  } finally {
    e.close();
    p.cleanup();
    await srv.close();
  }
});
}

test('no UIDL and a connection dropped mid-RETR: the next run recognises what it stored (Message-ID + size)', async () => {
  const msgs = [1, 2, 3].map((i) => ({ uidl: `n${i}`, raw: sampleMessage(`nu${i}`) }));
  const srv = await startFakePop3({ user: 'u', password: 'pw', uidl: false, messages: msgs, dropInRetr: [3] });
  const p = tempProfile();
  const e = engine(p.dir, 'pw');
  try {
    e.addAccount(acct(srv.port));
    await assert.rejects(e.syncAccount('fake'));
    assert.equal(e.list().length, 2);
    const r = (await e.syncAccount('fake')) as Pop3Report;
    assert.equal(r.downloaded, 1);
    assert.equal(r.duplicatesSkipped, 2);
    assert.equal(r.deletedOnServer, 3);
    assert.deepEqual(e.list().map((x) => x.summary.subject).sort(), ['nu1', 'nu2', 'nu3']);
    assert.equal(srv.messages.length, 0);
  } finally {
    e.close();
    p.cleanup();
    await srv.close();
  }
});

test('no UIDL: download everything and delete; leave-a-copy is refused with the reason', async () => {
  const srv = await startFakePop3({ user: 'u', password: 'pw', uidl: false, messages: [{ uidl: 'x', raw: sampleMessage('only') }] });
  const p = tempProfile();
  const e = engine(p.dir, 'pw');
  try {
    e.addAccount(acct(srv.port, { name: 'keep', leaveOnServer: true }));
    await assert.rejects(e.syncAccount('keep'), (err: ClientError) => err.code === 'CAPABILITY' && /does not support UIDL/.test(err.message) && /leav/.test(err.message));
    assert.equal(srv.messages.length, 1);
    e.addAccount(acct(srv.port, { name: 'plain' }));
    const r = (await e.syncAccount('plain')) as Pop3Report;
    assert.equal(r.downloaded, 1);
    assert.equal(r.deletedOnServer, 1);
    assert.equal(srv.messages.length, 0);
  } finally {
    e.close();
    p.cleanup();
    await srv.close();
  }
});

test('authentication: APOP when offered on a plain connection, SASL PLAIN when listed, USER/PASS otherwise', async () => {
  for (const [opts, expect] of [
    [{ apop: true, saslPlain: true }, 'APOP'],
    [{ saslPlain: true }, 'PLAIN'],
    [{}, 'USER'],
  ] as const) {
    const srv = await startFakePop3({ user: 'u', password: 'pw', messages: [], ...opts });
    try {
      const c = await Pop3Client.connect({ host: '127.0.0.1', port: srv.port, security: 'plain' });
      assert.equal(await c.login('u', 'pw'), expect);
      assert.deepEqual(await c.stat(), { count: 0, size: 0 });
      await c.quit();
      const bad = await Pop3Client.connect({ host: '127.0.0.1', port: srv.port, security: 'plain' });
      await assert.rejects(bad.login('u', 'nope'), (err: ClientError) => err.code === 'AUTH');
      bad.close();
      assert.ok(!srv.log.some((l) => l.includes('pw')), 'the password is never logged in clear by the fake');
    } finally {
      await srv.close();
    }
  }
});

test('POP3 client commands: LIST, UIDL, TOP, RETR with 8-bit bytes and empty bodies', async () => {
  const eight = Buffer.concat([Buffer.from('Subject: 8bit\r\n\r\n'), Buffer.from([0x00, 0xff, 0x80, 0x0d, 0x0a]), Buffer.from('.\r\n..\r\nend\r\n')]);
  const srv = await startFakePop3({ user: 'u', password: 'pw', messages: [{ uidl: 'a', raw: eight }, { uidl: 'b', raw: Buffer.alloc(0) }] });
  try {
    const c = await Pop3Client.connect({ host: '127.0.0.1', port: srv.port, security: 'plain' });
    await c.login('u', 'pw');
    assert.deepEqual(await c.list(), [
      { msgno: 1, size: eight.length },
      { msgno: 2, size: 0 },
    ]);
    assert.deepEqual(await c.uidl(), [
      { msgno: 1, uidl: 'a' },
      { msgno: 2, uidl: 'b' },
    ]);
    assert.deepEqual(await c.retr(1), eight);
    assert.deepEqual(await c.retr(2), Buffer.alloc(0));
    assert.deepEqual((await c.top(1, 0)).toString(), 'Subject: 8bit\r\n\r\n');
    await assert.rejects(c.retr(9), (err: ClientError) => err.code === 'PROTOCOL' && /no such message/.test(err.message));
    await c.dele(1);
    await c.quit();
    assert.equal(srv.messages.length, 1);
  } finally {
    await srv.close();
  }
});
