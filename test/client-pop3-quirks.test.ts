/**
 * The POP3 client against servers that are legal but unusual, on loopback: no TOP (RFC 1939 makes it
 * optional), message numbers that change order between sessions, and RETR responses cut at odd places
 * (the streaming reader must remove dot-stuffing across chunk boundaries).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startFakePop3 } from './helpers/fake-pop3.js';
import { tempProfile, engine, sampleMessage, assertMaildir, PASSWORD_ENV } from './helpers/client.js';
import { Pop3Client } from '../src/client/pop3/client.js';
import type { Pop3Report } from '../src/client/pop3/fetch.js';

const acct = (port: number, extra: Record<string, unknown> = {}) => ({
  name: 'fake',
  protocol: 'pop3' as const,
  host: '127.0.0.1',
  port,
  user: 'u',
  password: { kind: 'env' as const, name: PASSWORD_ENV },
  ...extra,
});

test('no TOP: an oversized message is skipped with a warning instead of failing the whole run', async () => {
  const big = sampleMessage('too big', { body: Buffer.from('y'.repeat(5000) + '\r\n') });
  const small = sampleMessage('fits');
  const srv = await startFakePop3({ user: 'u', password: 'pw', top: false, messages: [{ uidl: 'big', raw: big }, { uidl: 'small', raw: small }] });
  const p = tempProfile();
  const e = engine(p.dir, 'pw');
  try {
    e.addAccount(acct(srv.port, { maxSize: 2000, oversize: 'headers' }));
    const r = (await e.syncAccount('fake')) as Pop3Report;
    assert.equal(r.downloaded, 1);
    assert.equal(r.headersOnly, 0);
    assert.ok(r.warnings.some((w) => /big/.test(w) && /TOP/.test(w)), r.warnings.join(' | '));
    assert.deepEqual(e.list().map((x) => x.summary.subject), ['fits']);
    assert.equal(srv.messages.length, 1, 'the oversized message stays on the server');
    assert.ok(!srv.log.some((l) => l.startsWith('TOP')), 'TOP is not tried when CAPA does not list it');
    const again = (await e.syncAccount('fake')) as Pop3Report;
    assert.equal(again.downloaded, 0);
    assert.equal(again.warnings.length, 1, 'still reported, still not fetched');
  } finally {
    e.close();
    p.cleanup();
    await srv.close();
  }
});

test('leave a copy: UIDLs tracked across runs while the server renumbers the maildrop', async () => {
  const msgs = [1, 2, 3].map((i) => ({ uidl: `r${i}`, raw: sampleMessage(`order ${i}`) }));
  const srv = await startFakePop3({ user: 'u', password: 'pw', reverse: true, messages: msgs });
  const p = tempProfile();
  const e = engine(p.dir, 'pw');
  try {
    e.addAccount(acct(srv.port, { leaveOnServer: true }));
    assert.equal(((await e.syncAccount('fake')) as Pop3Report).downloaded, 3);
    srv.messages.push({ uidl: 'r4', raw: sampleMessage('order 4') }); // now message 1 in the reversed numbering
    srv.messages.splice(1, 1); // r2 deleted by another client
    const r = (await e.syncAccount('fake')) as Pop3Report;
    assert.equal(r.downloaded, 1);
    assert.equal(r.forgotten, 1, 'the UIDL of the message gone from the server is forgotten');
    assert.deepEqual(e.list().map((x) => x.summary.subject).sort(), ['order 1', 'order 2', 'order 3', 'order 4']);
    assert.equal([...srv.retrCount.values()].reduce((a, b) => a + b, 0), 4, 'each message was fetched once');
    assert.equal(((await e.syncAccount('fake')) as Pop3Report).downloaded, 0);
    assert.equal(srv.messages.length, 3, 'nothing was deleted on the server');
  } finally {
    e.close();
    p.cleanup();
    await srv.close();
  }
});

test('streamed RETR: dot-stuffing, bare CR, long lines and the terminator split across chunks, byte-exact', async () => {
  const tricky = Buffer.concat([
    Buffer.from('Subject: tricky\r\n\r\n.\r\n..\r\n...x\r\nbare\rCR\r\n\r\n.', 'latin1'),
    Buffer.from('z'.repeat(70_000) + '\r\n', 'latin1'),
    Buffer.from([0x00, 0xff, 0x2e, 0x0d, 0x0a, 0x2e, 0x2e, 0x0d, 0x0a]),
  ]);
  for (const splitWrites of [1, 3, 7, 4096]) {
    const srv = await startFakePop3({ user: 'u', password: 'pw', splitWrites, messages: [{ uidl: 't', raw: tricky }, { uidl: 'e', raw: Buffer.alloc(0) }] });
    try {
      const c = await Pop3Client.connect({ host: '127.0.0.1', port: srv.port, security: 'plain' });
      await c.login('u', 'pw');
      const parts: Buffer[] = [];
      await c.retrStream(1, async (chunk) => {
        parts.push(Buffer.from(chunk));
      });
      assert.ok(Buffer.concat(parts).equals(tricky), `byte-exact with writes of ${splitWrites}`);
      const empty: Buffer[] = [];
      await c.retrStream(2, async (chunk) => {
        empty.push(chunk);
      });
      assert.equal(Buffer.concat(empty).length, 0);
      assert.deepEqual(await c.stat(), { count: 2, size: tricky.length }, 'the connection is in step after the terminator');
      await c.quit();
    } finally {
      await srv.close();
    }
  }
});

test('a big message through the whole run is streamed and stored byte-exact (odd chunk boundaries)', async () => {
  const lines: string[] = [];
  for (let i = 0; i < 60_000; i++) lines.push((i % 5 === 0 ? '.' : '') + `l${i} ` + 'q'.repeat(i % 50));
  const big = sampleMessage('streamed', { body: Buffer.from(lines.join('\r\n') + '\r\n', 'latin1') });
  assert.ok(big.length > 1024 * 1024);
  const srv = await startFakePop3({ user: 'u', password: 'pw', splitWrites: 65_521, messages: [{ uidl: 'b', raw: big }] });
  const p = tempProfile();
  const e = engine(p.dir, 'pw');
  try {
    e.addAccount(acct(srv.port));
    const r = (await e.syncAccount('fake')) as Pop3Report;
    assert.equal(r.downloaded, 1);
    const { raw } = await e.read((e.list()[0] as { id: number }).id, { peek: true });
    assert.ok(raw.equals(big));
    assert.equal(e.list()[0]?.summary.subject, 'streamed');
    assert.equal(assertMaildir(e.inbox.root), 1);
    assert.equal(srv.messages.length, 0);
  } finally {
    e.close();
    p.cleanup();
    await srv.close();
  }
});
