/** STAT (RFC 1939 section 5): "+OK count octets" over messages not marked deleted. */
import { noArgs, transactionCommand } from '../command.js';
import { ok } from '../reply.js';

export const stat = transactionCommand({
  name: 'STAT',
  parse: noArgs,
  run: (_ctx, s) => {
    const { count, octets } = s.maildrop.stat();
    return ok(`${count} ${octets}`);
  },
});
