/**
 * LOGOUT (RFC 9051 6.1.3): untagged BYE, the tagged OK, then the connection ends (after the OK is written).
 */
import { parseNone } from '../../imap/grammar/commands.js';
import { byeLine } from '../responses.js';
import { ANY, defineCommand } from '../session.js';

export const logout = defineCommand({
  states: ANY,
  seq: 'none',
  parse: parseNone,
  async run(ctx) {
    ctx.session.send(Buffer.from(byeLine('Logging out')));
    ctx.session.setState({ kind: 'logout' });
    return { status: 'OK', text: 'Logout completed', after: () => ctx.session.end() };
  },
});
