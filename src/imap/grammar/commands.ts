/**
 * Argument parsers shared by several IMAP commands: no arguments at all, or one mailbox name. Each
 * command's own grammar lives beside its handler in src/imap-server/commands/. Mailbox names are returned
 * as sent (still modified UTF-7 for rev1 clients); the server decodes them according to what the session
 * enabled. Throws ParseError (answered BAD) on anything else.
 */
import type { Args } from './args.js';

export interface NoArgs {}

export function parseNone(args: Args): NoArgs {
  args.end();
  return {};
}

export interface MailboxArg {
  mailbox: string;
}

export function parseMailbox(args: Args): MailboxArg {
  const mailbox = args.astring('mailbox name');
  args.end();
  return { mailbox };
}
