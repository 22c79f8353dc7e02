/**
 * RETR msg (RFC 1939 section 5): the stored bytes exactly, dot-stuffed by the connection. The message is
 * marked retrieved (for \Seen and the retention policy at QUIT) once its last byte has been handed over.
 */
import { oneMsg, transactionCommand } from '../command.js';
import { openRange } from '../message-stream.js';
import { err, ok } from '../reply.js';
import type { DropMessage } from '../maildrop.js';
import { lookupError } from './lookup.js';

async function* markWhenDone(chunks: AsyncIterable<Buffer>, msg: DropMessage): AsyncGenerator<Buffer> {
  yield* chunks;
  msg.retrieved = true;
}

export const retr = transactionCommand({
  name: 'RETR',
  parse: oneMsg,
  run: async (ctx, s, { msg }) => {
    const found = s.maildrop.lookup(msg);
    if (!found.ok) return lookupError(msg, found);
    const m = found.msg;
    const opened = await openRange(ctx.shared.store.mail, s.maildrop.mailboxId, m.uid, 0, m.size, ctx.shared.readBuffers);
    if (!opened) return err(`Message ${msg} was removed by another session since login`);
    if (Array.isArray(opened.chunks)) {
      // Already read whole: nothing can fail between here and the socket but the connection itself, and a
      // dropped connection commits nothing.
      m.retrieved = true;
      return ok(`${m.size} octets`, { body: { kind: 'bytes', chunks: opened.chunks } });
    }
    return ok(`${m.size} octets`, { body: { kind: 'bytes', chunks: markWhenDone(opened.chunks, m) } });
  },
});
