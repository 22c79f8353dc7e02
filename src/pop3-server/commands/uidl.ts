/** UIDL [msg] (RFC 1939 section 7): the unique id is the message's EMAILID, stable for its life. */
import { optionalMsg, transactionCommand } from '../command.js';
import { ok } from '../reply.js';
import { lookupError } from './lookup.js';

export const uidl = transactionCommand({
  name: 'UIDL',
  parse: optionalMsg,
  run: (_ctx, s, { msg }) => {
    if (msg !== null) {
      const found = s.maildrop.lookup(msg);
      return found.ok ? ok(`${msg} ${found.msg.uidl}`) : lookupError(msg, found);
    }
    const lines = s.maildrop.live().map((m) => `${m.number} ${m.uidl}`);
    return ok('Unique-id listing follows', { body: { kind: 'lines', lines } });
  },
});
