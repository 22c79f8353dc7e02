/** USER name (RFC 1939 section 7): first half of cleartext login; PASS must follow immediately. */
import { defineCommand, type Parsed } from '../command.js';
import { cleartextAllowed, cleartextRefused } from '../login.js';
import { err, ok } from '../reply.js';

/** Longest accepted user name (an address; RFC 5321 caps paths at 256 octets). */
const MAX_USER_LENGTH = 254;

export const user = defineCommand({
  name: 'USER',
  states: ['authorization'],
  parse: (args): Parsed<{ name: string }> => {
    // ASCII blanks only: a Unicode trim would make "kate@example.org\u00a0" a spelling of kate.
    const name = args.replace(/^[ \t]+|[ \t]+$/g, '');
    if (name === '') return { ok: false, error: 'Missing user name' };
    if (name.length > MAX_USER_LENGTH || /\s/.test(name)) return { ok: false, error: 'Invalid user name' };
    return { ok: true, value: { name } };
  },
  run: (ctx, { name }) => {
    if (!cleartextAllowed(ctx)) return cleartextRefused(ctx);
    if (ctx.state.kind !== 'authorization') return err('Already logged in');
    ctx.state = { kind: 'authorization', pendingUser: name };
    return ok('Send PASS');
  },
});
