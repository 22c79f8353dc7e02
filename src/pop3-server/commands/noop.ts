/** NOOP (RFC 1939 section 5). */
import { noArgs, transactionCommand } from '../command.js';
import { ok } from '../reply.js';

export const noop = transactionCommand({ name: 'NOOP', parse: noArgs, run: () => ok('') });
