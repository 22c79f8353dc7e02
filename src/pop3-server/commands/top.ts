/**
 * TOP msg n (RFC 1939 section 7): the header, the blank line after it, and the first n body lines.
 * The header/body boundary comes from the MIME index stored at delivery (root.bodyStart); TOP does not
 * count as retrieval.
 */
import { parseCount, parseMsgNumber, tokens, transactionCommand, type Parsed } from '../command.js';
import { firstLines, openRange } from '../message-stream.js';
import { err, ok } from '../reply.js';
import { lookupError } from './lookup.js';

export const top = transactionCommand({
  name: 'TOP',
  parse: (args): Parsed<{ msg: number; lines: number }> => {
    const t = tokens(args);
    if (t.length !== 2) return { ok: false, error: 'Usage: TOP msg lines' };
    const msg = parseMsgNumber(t[0]);
    if (msg === null) return { ok: false, error: 'Invalid message number' };
    // Any count beyond the message's lines means "the whole body" (Dovecot takes up to 2^64 - 1).
    const lines = parseCount(t[1]);
    if (lines === null) return { ok: false, error: 'Invalid line count' };
    return { ok: true, value: { msg, lines } };
  },
  run: async (ctx, s, { msg, lines }) => {
    const found = s.maildrop.lookup(msg);
    if (!found.ok) return lookupError(msg, found);
    const m = found.msg;
    const { readBuffers } = ctx.shared;
    const store = ctx.shared.store.mail;
    let bodyStart: number | null = null;
    for await (const rec of store.readMessages(s.maildrop.mailboxId, [m.uid], { index: true })) {
      bodyStart = Math.min(Math.max(0, rec.index.root.bodyStart), m.size);
      break;
    }
    const gone = err(`Message ${msg} was removed by another session since login`);
    if (bodyStart === null) return gone;
    const head = await openRange(store, s.maildrop.mailboxId, m.uid, 0, bodyStart, readBuffers);
    if (!head) return gone;
    const headChunks = head.chunks;
    const mailboxId = s.maildrop.mailboxId;
    const size = m.size;
    async function* chunks(): AsyncGenerator<Buffer> {
      yield* headChunks;
      if (lines === 0 || bodyStart === null || bodyStart >= size) return;
      const body = await openRange(store, mailboxId, m.uid, bodyStart, size, readBuffers);
      if (!body) throw new Error('message expunged while sending TOP');
      yield* firstLines(body.chunks, lines);
    }
    return ok('Top of message follows', { body: { kind: 'bytes', chunks: chunks() } });
  },
});
