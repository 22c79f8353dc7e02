/**
 * FETCH of a message larger than STREAM_PIECE: BODY[], its partials and RFC822 are read and sent in pieces
 * (render.ts streamLiteral) with the same bytes as a whole read; a message whose bytes end before its size
 * closes the connection once part of the literal is out.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { RawClient, startImap, type ImapFixture } from '../../../test/imap-helpers.js';
import { parseFetchAtt, type FetchItem } from '../../imap/grammar/fetch.js';
import { renderMessage, streamedSpan, STREAM_PIECE, type RenderContext, type RenderRecord } from './render.js';
import { StoreError, type MessageMeta } from '../../store/types.js';

/** A message of about `size` bytes whose every line differs (a misplaced piece changes the output). */
function bigMessage(size: number): Buffer {
  const lines = ['From: a@example.org', 'To: b@example.org', 'Subject: big', 'Message-ID: <big@example.org>', ''];
  for (let i = 0; lines.join('\r\n').length < size; i++) lines.push(`line ${String(i).padStart(7, '0')} ${'abcdefghijklmnopqrstuvwxyz'.repeat(2)}`);
  return Buffer.from(lines.join('\r\n') + '\r\n', 'latin1');
}

function item(text: string): FetchItem {
  return parseFetchAtt(text);
}

describe('FETCH of a large message streamed in pieces', () => {
  let f: ImapFixture;
  const msg = bigMessage(3 * STREAM_PIECE + 12_345);
  const text = msg.toString('latin1');
  before(async () => {
    f = await startImap();
    const inbox = (await f.store.mail.getMailbox(f.user.id, 'INBOX'))!;
    await f.store.mail.append(inbox.id, msg, {});
  });
  after(async () => {
    await f.close();
  });

  test('BODY[] and RFC822 are byte-identical to the stored message', async () => {
    const c = await RawClient.connect(f.port);
    await c.login();
    await c.cmd('SELECT INBOX');
    assert.equal(await c.cmd('FETCH 1 (RFC822.SIZE BODY.PEEK[])', 'a'), `* 1 FETCH (RFC822.SIZE ${msg.length} BODY[] {${msg.length}}\r\n${text})\r\na OK Fetch completed\r\n`);
    assert.equal(await c.cmd('UID FETCH 1 (BODY.PEEK[] UID)', 'b'), `* 1 FETCH (UID 1 BODY[] {${msg.length}}\r\n${text})\r\nb OK Fetch completed\r\n`);
    // RFC822 sets \Seen: FLAGS follow the literal.
    const r = await c.cmd('FETCH 1 RFC822', 'c');
    const head = `* 1 FETCH (RFC822 {${msg.length}}\r\n${text} FLAGS (`;
    assert.equal(r.slice(0, head.length), head);
    assert.match(r.slice(head.length), /^\\Seen( \\Recent)?\)\)\r\nc OK Fetch completed\r\n$/);
    c.close();
  });

  test('partials across piece boundaries, past the end and two streamed items in one response', async () => {
    const c = await RawClient.connect(f.port);
    await c.login();
    await c.cmd('EXAMINE INBOX');
    const cases: Array<[number, number]> = [
      [0, STREAM_PIECE + 1],
      [STREAM_PIECE - 7, STREAM_PIECE * 2 + 14],
      [1, msg.length],
      [msg.length - STREAM_PIECE - 2, 10 * STREAM_PIECE],
      [100, STREAM_PIECE], // exactly one piece: read whole
      [msg.length, 5], // past the end: empty
    ];
    for (const [start, len] of cases) {
      const want = text.slice(start, start + len);
      assert.equal(await c.cmd(`FETCH 1 BODY.PEEK[]<${start}.${len}>`, 'p'), `* 1 FETCH (BODY[]<${start}> {${want.length}}\r\n${want})\r\np OK Fetch completed\r\n`, `<${start}.${len}>`);
    }
    const a = text.slice(5, 5 + 2 * STREAM_PIECE);
    assert.equal(
      await c.cmd(`FETCH 1 (BODY.PEEK[]<5.${2 * STREAM_PIECE}> RFC822.SIZE BODY.PEEK[HEADER.FIELDS (SUBJECT)] BODY.PEEK[])`, 'q'),
      `* 1 FETCH (BODY[]<5> {${a.length}}\r\n${a} RFC822.SIZE ${msg.length} BODY[HEADER.FIELDS (SUBJECT)] {16}\r\nSubject: big\r\n\r\n BODY[] {${msg.length}}\r\n${text})\r\nq OK Fetch completed\r\n`,
    );
    c.close();
  });
});

describe('streamedSpan', () => {
  const size = 2 * STREAM_PIECE;
  const span = (t: string, n = size): ReturnType<typeof streamedSpan> => streamedSpan(item(t), n);
  test('whole-message literals larger than a piece only', () => {
    assert.deepEqual(span('BODY.PEEK[]'), { start: 0, end: size });
    assert.deepEqual(span('BODY[]'), { start: 0, end: size });
    assert.deepEqual(span('RFC822'), { start: 0, end: size });
    assert.equal(span('BODY.PEEK[]', STREAM_PIECE), null);
    assert.equal(span('RFC822', 1000), null);
    for (const t of ['BODY.PEEK[TEXT]', 'BODY.PEEK[1]', 'BODY.PEEK[HEADER]', 'RFC822.TEXT', 'BINARY.PEEK[]', 'RFC822.SIZE', 'FLAGS']) assert.equal(span(t), null, t);
  });
  test('partials are clamped to the message', () => {
    assert.deepEqual(span('BODY.PEEK[]<10.400000>'), { start: 10, end: 400_010 });
    assert.deepEqual(span(`BODY.PEEK[]<10.${10 * STREAM_PIECE}>`), { start: 10, end: size });
    assert.equal(span(`BODY.PEEK[]<${size}.${STREAM_PIECE * 2}>`), null);
    assert.equal(span(`BODY.PEEK[]<${STREAM_PIECE + 1}.${STREAM_PIECE * 2}>`), null);
  });
});

describe('a streamed message with fewer bytes than its size', () => {
  const size = 3 * STREAM_PIECE;
  function context(available: number, ended: { n: number }): RenderContext {
    const store = {
      readBytes: async (_mb: number, _uid: number, r?: { start: number; end: number }): Promise<Buffer> => {
        if (available < 0) throw new StoreError('NOT_FOUND', 'no such message');
        const end = Math.min(r!.end, available);
        return Buffer.alloc(Math.max(0, end - r!.start), 0x61);
      },
    };
    const session = { utf8: false, logger: { warn: () => undefined }, end: () => void ended.n++ };
    return {
      store,
      session,
      view: { mailbox: { id: 1 } },
      items: [item('BODY.PEEK[]')],
      opts: { uid: false, modseq: false, flagsChanged: new Set() },
      fieldSets: new Map(),
    } as unknown as RenderContext;
  }
  const rec = (): RenderRecord => ({ seq: 1, meta: { uid: 7, size } as MessageMeta, index: null, envelopeText: null, envelope: null, header: null });

  test('short after the first piece: the connection is closed', async () => {
    const ended = { n: 0 };
    const sent: Buffer[] = [];
    await assert.rejects(
      renderMessage(context(STREAM_PIECE + 10, ended), rec(), async (c) => void sent.push(...c)),
      (e: Error) => e.name === 'ConnectionClosedError',
    );
    assert.equal(ended.n, 1);
    assert.equal(Buffer.concat(sent).toString('latin1'), `* 1 FETCH (BODY[] {${size}}\r\n${'a'.repeat(STREAM_PIECE)}`);
  });

  test('short within the first piece: sent as read; gone: NOT_FOUND with nothing sent', async () => {
    const ended = { n: 0 };
    const sent: Buffer[] = [];
    const out = await renderMessage(context(100, ended), rec(), async (c) => void sent.push(...c));
    assert.equal(Buffer.concat(out).toString('latin1'), `* 1 FETCH (BODY[] {100}\r\n${'a'.repeat(100)})\r\n`);
    await assert.rejects(renderMessage(context(-1, ended), rec(), async (c) => void sent.push(...c)), (e: unknown) => e instanceof StoreError && e.code === 'NOT_FOUND');
    assert.equal(sent.length, 0);
    assert.equal(ended.n, 0);
  });
});
