/**
 * NAMESPACE (RFC 2342, RFC 9051 6.3.10): the personal namespace "", and with sharing the other users'
 * "shared/" and the public "Public/" (namespaces.ts), each with the delimiter "/".
 */
import { parseNone } from '../../imap/grammar/commands.js';
import { ok } from '../errors.js';
import { namespaceResponse } from '../namespaces.js';
import { AUTH, defineCommand } from '../session.js';

export const namespace = defineCommand({
  states: AUTH,
  seq: 'none',
  parse: parseNone,
  async run(ctx) {
    ctx.session.send(Buffer.from(namespaceResponse(!!ctx.service.acl && !!ctx.service.directory)));
    return ok('NAMESPACE completed');
  },
});
