/**
 * STARTTLS (RFC 9051 6.2.1): OK, then the TLS handshake; input pipelined after the command is discarded by
 * the connection. BAD when TLS is not configured or already active.
 */
import { parseNone } from '../../imap/grammar/commands.js';
import { bad } from '../errors.js';
import { NOT_AUTH, defineCommand } from '../session.js';

export const starttls = defineCommand({
  states: NOT_AUTH,
  seq: 'none',
  parse: parseNone,
  async run(ctx) {
    if (!ctx.service.secureContext) throw bad('STARTTLS is not available');
    if (ctx.session.secure) throw bad('TLS is already active');
    return { status: 'OK', text: 'Begin TLS negotiation now', after: () => ctx.session.startTls() };
  },
});
