/** LIST [msg] (RFC 1939 section 5): sizes in octets, equal to what RETR sends before dot-stuffing. */
import { optionalMsg, transactionCommand } from '../command.js';
import { ok } from '../reply.js';
import { lookupError } from './lookup.js';

export const list = transactionCommand({
  name: 'LIST',
  parse: optionalMsg,
  run: (_ctx, s, { msg }) => {
    if (msg !== null) {
      const found = s.maildrop.lookup(msg);
      return found.ok ? ok(`${msg} ${found.msg.size}`) : lookupError(msg, found);
    }
    const { count, octets } = s.maildrop.stat();
    const lines = s.maildrop.live().map((m) => `${m.number} ${m.size}`);
    return ok(`${count} messages (${octets} octets)`, { body: { kind: 'lines', lines } });
  },
});
