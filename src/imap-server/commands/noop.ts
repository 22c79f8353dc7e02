/**
 * NOOP (RFC 9051 6.1.2) and CHECK (RFC 3501 6.4.1): no arguments, always OK. Their only effect is the
 * pending updates the dispatcher flushes after every command.
 */
import { parseNone } from '../../imap/grammar/commands.js';
import { ok } from '../errors.js';
import { ANY, SELECTED, defineCommand } from '../session.js';

export const noop = defineCommand({
  states: ANY,
  seq: 'none',
  parse: parseNone,
  async run() {
    return ok('NOOP completed');
  },
});

export const check = defineCommand({
  states: SELECTED,
  seq: 'none',
  parse: parseNone,
  async run() {
    return ok('CHECK completed');
  },
});
