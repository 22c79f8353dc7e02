/**
 * CANCELUPDATE (RFC 5267 section 4.3): ends the search contexts (SEARCH/SORT RETURN (UPDATE)) named by their
 * tags, so no more ADDTO/REMOVEFROM are sent for them.
 *
 *   cancelupdate = "CANCELUPDATE" 1*(SP quoted)
 *
 * A tag that names no context of the selected mailbox: NO [NOUPDATE] (RFC 5267 section 4.2); the others are
 * still cancelled. No tag: BAD.
 */
import type { Args } from '../../imap/grammar/args.js';
import { ParseError } from '../../imap/grammar/args.js';
import { no, ok, type Completion } from '../errors.js';
import { cancelContexts } from '../search-context.js';
import { SELECTED, defineCommand, selectedView, type CommandContext } from '../session.js';

export function parseCancelUpdate(args: Args): string[] {
  const tags: string[] = [];
  while (!args.done) tags.push(args.astring('tag'));
  if (!tags.length) throw new ParseError('Missing tag');
  return tags;
}

async function runCancelUpdate(ctx: CommandContext, tags: string[]): Promise<Completion> {
  if (!cancelContexts(selectedView(ctx), tags)) throw no('Unknown search context', 'NOUPDATE');
  return ok('Updates cancelled');
}

export const cancelUpdate = defineCommand({ states: SELECTED, seq: 'none', parse: parseCancelUpdate, run: runCancelUpdate });
