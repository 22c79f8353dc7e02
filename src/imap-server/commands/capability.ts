/**
 * CAPABILITY (RFC 9051 6.1.1): lists what the server offers in the session's current state
 * (capabilities.ts decides). Takes no arguments; always OK.
 */
import { parseNone } from '../../imap/grammar/commands.js';
import { ok } from '../errors.js';
import { capabilityLine } from '../responses.js';
import { ANY, defineCommand } from '../session.js';

export const capability = defineCommand({
  states: ANY,
  seq: 'none',
  parse: parseNone,
  async run(ctx) {
    ctx.session.send(Buffer.from(capabilityLine(ctx.session.capabilities())));
    return ok('Capability completed');
  },
});
