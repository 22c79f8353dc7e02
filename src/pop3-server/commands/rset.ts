/** RSET (RFC 1939 section 5): unmarks deletions (and this session's retrievals, so no \Seen is set). */
import { noArgs, transactionCommand } from '../command.js';
import { ok } from '../reply.js';

export const rset = transactionCommand({
  name: 'RSET',
  parse: noArgs,
  run: (_ctx, s) => {
    s.maildrop.reset();
    const { count, octets } = s.maildrop.stat();
    return ok(`Maildrop has ${count} message${count === 1 ? '' : 's'} (${octets} octets)`);
  },
});
