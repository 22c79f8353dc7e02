/**
 * One FETCH asking for the body of a big message many times (BODY.PEEK[] repeated, distinct partial ranges)
 * must not hold every item in memory at once: the response goes out in parts as it is rendered, so the
 * server reads the next item only once the client takes the previous ones. Over raw sockets: while the
 * client does not read, the server stops reading the store; once it reads, every literal is exact.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { RawClient, startImap, type ImapFixture } from './imap-helpers.js';

const ITEMS = 24;
let f: ImapFixture;
let big: Buffer;

before(async () => {
  f = await startImap({ appendLimit: 16 * 1024 * 1024 });
  const line = 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-_=+!?\r\n';
  const body = line.repeat(Math.ceil((2 * 1024 * 1024) / line.length));
  big = Buffer.from(`From: a@example.org\r\nTo: b@example.org\r\nSubject: big\r\n\r\n${body}`, 'latin1');
  await f.append(big);
});
after(async () => {
  await f.close();
});

/** Parses the literals of one FETCH response, in order. */
function literals(resp: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let i = 0;
  for (;;) {
    const open = resp.indexOf('{', i);
    if (open < 0) return out;
    const close = resp.indexOf('}\r\n', open);
    const n = Number(resp.subarray(open + 1, close).toString('latin1'));
    out.push(resp.subarray(close + 3, close + 3 + n));
    i = close + 3 + n;
  }
}

test('FETCH of a 2 MB body 24 times: the store is read as the client takes the response, and every literal is exact', { timeout: 60_000 }, async () => {
  // Bytes read from the store (a big body may be read in pieces: calls are not items).
  let reads = 0;
  const readBytes = f.store.mail.readBytes.bind(f.store.mail);
  f.store.mail.readBytes = (async (...args: Parameters<typeof readBytes>) => {
    const b = await readBytes(...args);
    reads += b.length;
    return b;
  }) as typeof f.store.mail.readBytes;
  const want = (i: number): Buffer => (i % 3 === 2 ? big.subarray(i * 1000, i * 1000 + 50_000 + i) : big);
  const total = Array.from({ length: ITEMS }, (_, i) => want(i).length).reduce((a, b) => a + b, 0);
  const c = await RawClient.connect(f.port);
  try {
    await c.login();
    assert.match(await c.cmd('SELECT INBOX'), /OK/);
    const items = Array.from({ length: ITEMS }, (_, i) => (i % 3 === 2 ? `BODY.PEEK[]<${i * 1000}.${50_000 + i}>` : 'BODY.PEEK[]')).join(' ');
    reads = 0;
    c.socket.pause();
    c.write(`f1 FETCH 1 (${items})\r\n`);
    // Give the server time to fill the socket buffers; it must then wait for the client, not read on.
    let last = -1;
    for (let i = 0; i < 40 && reads !== last; i++) {
      last = reads;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(reads < total / 2, `the server read ${reads} of ${total} bytes while the client read nothing`);
    c.socket.resume();
    // Collected as bytes (tens of megabytes: no string of the whole buffer per chunk).
    const parts: Buffer[] = [];
    let tail = '';
    for (let waited = 0; !/\r\nf1 (OK|NO|BAD)[^\r\n]*\r\n$/.test(tail); waited += 20) {
      if (waited > 30_000) throw new Error(`no tagged reply; the response ends with ${JSON.stringify(tail)}`);
      await new Promise((r) => setTimeout(r, 20));
      const b = c.takeBytes();
      if (b.length === 0) continue;
      parts.push(b);
      tail = (tail + b.subarray(Math.max(0, b.length - 200)).toString('latin1')).slice(-200);
    }
    const resp = Buffer.concat(parts);
    assert.match(resp.subarray(resp.length - 200).toString('latin1'), /\r\nf1 OK/);
    const got = literals(resp);
    assert.equal(got.length, ITEMS);
    for (let i = 0; i < ITEMS; i++) assert.ok(got[i]!.equals(want(i)), `item ${i + 1}: ${got[i]!.length} bytes, want ${want(i).length}`);
    // Each byte of each item was read once.
    assert.equal(reads, total);
    // The session goes on.
    assert.match(await c.cmd('NOOP'), /OK/);
  } finally {
    f.store.mail.readBytes = readBytes;
    c.close();
  }
});
