/** DELE msg (RFC 1939 section 5): marks the message; QUIT expunges it. */
import { oneMsg, transactionCommand } from '../command.js';
import { ok } from '../reply.js';
import { lookupError } from './lookup.js';

export const dele = transactionCommand({
  name: 'DELE',
  parse: oneMsg,
  run: (_ctx, s, { msg }) => {
    const found = s.maildrop.lookup(msg);
    if (!found.ok) return lookupError(msg, found);
    found.msg.deleted = true;
    return ok(`Message ${msg} deleted`);
  },
});
