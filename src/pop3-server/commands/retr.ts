/**
 * RETR msg (RFC 1939 section 5): the stored bytes exactly, dot-stuffed by the connection. The message is
 * marked retrieved (for \Seen and the retention policy at QUIT) once its last byte has been handed over.
 * A store that opens messages synchronously (Maildrop.openMessage) answers without waiting, so pipelined
 * RETRs run back to back; otherwise the bytes come through MailStore.readBytes.
 */
import { oneMsg, transactionCommand, type ReplyOrPromise } from '../command.js';
import { openRange } from '../message-stream.js';
import { err, ok, type Reply } from '../reply.js';
import type { DropMessage } from '../maildrop.js';
import type { CommandContext, TransactionState } from '../session.js';
import { lookupError } from './lookup.js';

async function* markWhenDone(chunks: AsyncIterable<Buffer>, msg: DropMessage): AsyncGenerator<Buffer> {
  yield* chunks;
  msg.retrieved = true;
}

const gone = (n: number) => err(`Message ${n} was removed by another session since login`);

async function readThroughMailStore(ctx: CommandContext, s: TransactionState, n: number, m: DropMessage): Promise<Reply> {
  const opened = await openRange(ctx.shared.store.mail, s.maildrop.mailboxId, m.uid, 0, m.size, ctx.shared.readBuffers);
  if (!opened) return gone(n);
  if (Array.isArray(opened.chunks)) {
    // Already read whole: nothing can fail between here and the socket but the connection itself, and a
    // dropped connection commits nothing.
    m.retrieved = true;
    return ok(`${m.size} octets`, { body: { kind: 'bytes', chunks: opened.chunks } });
  }
  return ok(`${m.size} octets`, { body: { kind: 'bytes', chunks: markWhenDone(opened.chunks, m) } });
}

export const retr = transactionCommand({
  name: 'RETR',
  parse: oneMsg,
  run: (ctx, s, { msg }): ReplyOrPromise => {
    const found = s.maildrop.lookup(msg);
    if (!found.ok) return lookupError(msg, found);
    const m = found.msg;
    const drop = ctx.shared.store.maildrop;
    if (!drop.openMessage) return readThroughMailStore(ctx, s, msg, m);
    const reader = drop.openMessage(s.maildrop.mailboxId, m.uid);
    if (!reader) return gone(msg);
    const sent = (): void => {
      m.retrieved = true;
    };
    return ok(`${m.size} octets`, { body: { kind: 'message', reader, end: m.size, sent } });
  },
});
