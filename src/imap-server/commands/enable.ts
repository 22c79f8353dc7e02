/**
 * ENABLE (RFC 5161): turns on CONDSTORE, QRESYNC (RFC 7162), IMAP4rev2 and UTF8=ACCEPT (RFC 6855) for the
 * session and reports those newly enabled in one ENABLED response; unknown names are ignored.
 */
import { Args, ParseError } from '../../imap/grammar/args.js';
import { ok } from '../errors.js';
import { enabledLine, okLine } from '../responses.js';
import { AUTH, defineCommand } from '../session.js';
import { ENABLEABLE } from '../capabilities.js';

export interface EnableArgs {
  capabilities: string[];
}

export function parseEnable(args: Args): EnableArgs {
  const capabilities: string[] = [];
  while (!args.done) capabilities.push(args.atom('capability').toUpperCase());
  if (!capabilities.length) throw new ParseError('Missing capability');
  return { capabilities };
}

export const enable = defineCommand({
  states: AUTH,
  seq: 'none',
  parse: parseEnable,
  async run(ctx, args) {
    const done: string[] = [];
    for (const cap of args.capabilities) {
      if (!(ENABLEABLE as readonly string[]).includes(cap)) continue;
      if (ctx.session.enabled.has(cap)) continue;
      // QRESYNC implies CONDSTORE (RFC 7162 3.2.3); ENABLED lists only what was asked for (as Dovecot does).
      if (cap === 'QRESYNC') ctx.session.enable('CONDSTORE');
      ctx.session.enable(cap);
      done.push(cap === 'IMAP4REV2' ? 'IMAP4rev2' : cap);
    }
    const st = ctx.session.state;
    if (st.kind === 'selected' && done.some((c) => c === 'CONDSTORE' || c === 'QRESYNC')) {
      // RFC 7162 3.1: a client enabling CONDSTORE with a mailbox selected learns its HIGHESTMODSEQ (as from Dovecot).
      ctx.session.send(Buffer.from(okLine(`HIGHESTMODSEQ ${st.view.highestModseq}`, 'Highest')));
    }
    ctx.session.send(Buffer.from(enabledLine(done)));
    return ok('Enabled');
  },
});
