/** The benchmark's POP3 driver: replies matched in order and bodies unstuffed, however the bytes are split. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dotStuffAll } from '../../src/lib/dotstuff.js';
import { ExpectBytes, ReplyReader, type Pop3Reply } from './pop3.js';

const BODIES = [
  'Subject: x\r\n\r\nplain\r\n',
  '.starts with a dot\r\n..two dots\r\n.\r\nmiddle\r\n...\r\n',
  '',
  '.\rnot the end\r\nlast line has a dot\r\n.',
  'no final CRLF',
  'a\r\n.\r\r\n.x\r\n',
];

/** The bytes a server sends for: greeting, then RETR of every body, a -ERR RETR, NOOP, RETR of a body. */
function wire(): Buffer {
  const parts: Buffer[] = [Buffer.from('+OK ready\r\n')];
  for (const b of BODIES) parts.push(Buffer.from(`+OK ${b.length} octets\r\n`), dotStuffAll([Buffer.from(b)]));
  parts.push(Buffer.from('-ERR no such message\r\n+OK\r\n+OK follows\r\n'), dotStuffAll([Buffer.from(BODIES[1]!)]));
  return Buffer.concat(parts);
}

/** What a body arrives as: a last line without CRLF gets one before the terminating line. */
function received(b: string): string {
  return b === '' || b.endsWith('\r\n') ? b : `${b}\r\n`;
}

/** Expects the replies of wire() (sinks for the RETRs, collecting for the last), feeds `data` in pieces. */
async function run(data: Buffer, cuts: number[]): Promise<{ replies: Pop3Reply[]; sinks: ExpectBytes[] }> {
  const r = new ReplyReader();
  const sinks = BODIES.map((b) => new ExpectBytes(Buffer.from(received(b), 'latin1')));
  const pending: Array<Promise<Pop3Reply>> = [r.expect(false, null)];
  for (const s of sinks) pending.push(r.expect(true, s));
  pending.push(r.expect(true, null), r.expect(false, null), r.expect(true, null));
  let from = 0;
  for (const cut of [...cuts, data.length]) {
    // A reused read buffer: the reader must not keep views of what it was fed.
    const scratch = Buffer.from(data.subarray(from, cut));
    r.feed(scratch);
    scratch.fill(0x58);
    from = cut;
  }
  return { replies: await Promise.all(pending), sinks };
}

function checkReplies(replies: Pop3Reply[], sinks: ExpectBytes[], where: string): void {
  assert.equal(replies[0]!.text, 'ready', where);
  for (let k = 0; k < BODIES.length; k++) {
    const got = replies[k + 1]!;
    assert.ok(got.ok && got.body === null, where);
    assert.ok(sinks[k]!.matches, `${where}: body ${k}`);
    assert.equal(got.size, sinks[k]!.expected.length, `${where}: size ${k}`);
  }
  const [bad, noop, last] = replies.slice(BODIES.length + 1);
  assert.deepEqual([bad!.ok, bad!.text, bad!.body], [false, 'no such message', null], where);
  assert.deepEqual([noop!.ok, noop!.text], [true, ''], where);
  assert.equal(last!.body?.toString('latin1'), BODIES[1], where);
}

test('POP3 driver: replies and unstuffed bodies, split at every byte and byte by byte', async () => {
  const data = wire();
  for (let cut = 0; cut <= data.length; cut++) {
    const { replies, sinks } = await run(data, [cut]);
    checkReplies(replies, sinks, `cut at ${cut}`);
  }
  const { replies, sinks } = await run(data, Array.from({ length: data.length }, (_, i) => i));
  checkReplies(replies, sinks, 'byte by byte');
});

test('POP3 driver: the body sink catches a changed, missing or extra byte', async () => {
  const body = Buffer.from('line one\r\n.dot line\r\n');
  const wrong = [Buffer.from('line one\r\n.dot linE\r\n'), body.subarray(0, 10), Buffer.concat([body, Buffer.from('x\r\n')])];
  for (const w of wrong) {
    const r = new ReplyReader();
    const sink = new ExpectBytes(body);
    const p = r.expect(true, sink);
    r.feed(Buffer.concat([Buffer.from('+OK\r\n'), dotStuffAll([w])]));
    const reply = await p;
    assert.equal(reply.size, w.length);
    assert.equal(sink.matches, false, w.toString());
  }
  const ok = new ExpectBytes(body);
  ok.data(body.subarray(0, 5));
  ok.data(body.subarray(5));
  assert.equal(ok.matches, true);
});

test('POP3 driver: bytes before the command that waits for them, and a dropped connection', async () => {
  const r = new ReplyReader();
  r.feed(Buffer.from('+OK early\r\n+OK 3\r\nabc\r\n.\r\n'));
  const first = await r.expect(false, null);
  const second = await r.expect(true, null);
  assert.equal(first.text, 'early');
  assert.equal(second.body?.toString(), 'abc\r\n');
  const third = r.expect(true, null);
  r.feed(Buffer.from('+OK\r\npartial'));
  r.fail(new Error('connection closed'));
  await assert.rejects(third, /connection closed/);
  await assert.rejects(r.expect(false, null), /connection closed/);
});
