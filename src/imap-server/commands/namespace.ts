/**
 * NAMESPACE (RFC 2342, RFC 9051 6.3.10): one personal namespace, "" with the delimiter "/".
 */
import { parseNone } from '../../imap/grammar/commands.js';
import { ok } from '../errors.js';
import { namespaceLine } from '../responses.js';
import { AUTH, defineCommand } from '../session.js';

export const namespace = defineCommand({
  states: AUTH,
  seq: 'none',
  parse: parseNone,
  async run(ctx) {
    ctx.session.send(Buffer.from(namespaceLine()));
    return ok('NAMESPACE completed');
  },
});
