/**
 * SORT / UID SORT (RFC 5256 section 3) with DISPLAYFROM / DISPLAYTO (RFC 5957), ESORT RETURN options and
 * UPDATE contexts (RFC 5267), PARTIAL (RFC 9394) and SEARCHRES SAVE (RFC 5182).
 *
 *   sort = ["UID" SP] "SORT" [SP "RETURN" SP "(" options ")"] SP "(" [REVERSE SP] key *(SP [REVERSE SP] key) ")"
 *          SP charset 1*(SP search-key)
 *
 * The search keys are evaluated by SEARCH's Evaluator (search.ts); the order comes from the store's cached
 * sort keys (MailStore.sortKeys, through sort-view.ts so messages expunged elsewhere but still in the view
 * are sorted as SEARCH matches them) through mailsort's sortMessages, so no message is read per command once
 * its keys are known. Without RETURN the answer is "* SORT n ..." in sort order; with RETURN it is an ESEARCH
 * (search-context.ts). Unknown criteria, a missing charset or search key: BAD; an unknown charset:
 * NO [BADCHARSET].
 */
import { Args, ParseError } from '../../imap/grammar/args.js';
import { parseReturnOptions, parseSearchKeys, usesModseq, type PartialRange, type SearchKey, type SearchReturn } from '../../imap/grammar/search.js';
import { sortMessagesMemo, type SortCriterion, type SortField } from '../../mailsort/index.js';
import type { MailStore } from '../../store/mail.js';
import { ok, type Completion } from '../errors.js';
import { sortBytes } from '../responses.js';
import { deliverResults, type ResultOrder } from '../search-context.js';
import { SELECTED, defineCommand, selectedView, type CommandContext } from '../session.js';
import { checkCharset, searchRunner } from './search.js';
import { viewSortKeys } from './sort-view.js';

export interface SortArgs {
  returns: SearchReturn[] | null;
  partial: PartialRange | null;
  criteria: SortCriterion[];
  charset: string;
  key: SearchKey;
}

const FIELDS: Readonly<Record<string, SortField>> = {
  ARRIVAL: 'arrival',
  CC: 'cc',
  DATE: 'sent',
  FROM: 'from',
  SIZE: 'size',
  SUBJECT: 'subject',
  TO: 'to',
  DISPLAYFROM: 'displayFrom',
  DISPLAYTO: 'displayTo',
};

/** "(" [REVERSE] key ... ")" (RFC 5256 section 5 sort-criteria). */
export function parseSortCriteria(args: Args): SortCriterion[] {
  const items = args.list('sort criteria');
  const out: SortCriterion[] = [];
  let reverse = false;
  for (const t of items) {
    if (t.t !== 'atom') throw new ParseError('Invalid sort criterion');
    const up = t.v.toUpperCase();
    if (up === 'REVERSE') {
      if (reverse) throw new ParseError('Invalid sort criterion REVERSE REVERSE');
      reverse = true;
      continue;
    }
    const field = FIELDS[up];
    if (!field) throw new ParseError(`Unknown sort criterion ${t.v.slice(0, 40)}`);
    out.push(reverse ? { field, reverse: true } : { field });
    reverse = false;
  }
  if (reverse || out.length === 0) throw new ParseError('Invalid sort criteria');
  return out;
}

export function parseSort(args: Args): SortArgs {
  const { returns, partial } = parseReturnOptions(args);
  const criteria = parseSortCriteria(args);
  const charset = args.astring('charset');
  return { returns, partial, criteria, charset, key: parseSearchKeys(args, charset) };
}

/** The order of a SORT over `uids` of the view's mailbox (also a SORT context's re-sort). */
export function sortOrder(store: MailStore, criteria: readonly SortCriterion[]): ResultOrder {
  return async (view, uids) => sortMessagesMemo(await viewSortKeys(store, view, uids), criteria);
}

async function runSort(ctx: CommandContext, args: SortArgs): Promise<Completion> {
  const s = ctx.session;
  const view = selectedView(ctx);
  checkCharset(args.charset);
  const run = searchRunner(ctx);
  let uids: number[];
  try {
    const hits = await run(view, args.key);
    // Messages expunged by another session but still in this view are sorted too, as SEARCH matches them.
    uids = await sortOrder(ctx.service.store, args.criteria)(view, hits);
  } catch (e) {
    if (args.returns?.includes('SAVE')) view.savedSearch = [];
    throw e;
  }
  const withModseq = usesModseq(args.key) && uids.length > 0;
  if (withModseq) s.enable('CONDSTORE');
  const modseq = withModseq ? uids.reduce((mx, u) => Math.max(mx, view.meta(u)?.modseq ?? 0), 0) : null;
  if (args.returns === null && args.partial === null) {
    s.send(sortBytes(ctx.uid ? uids : uids.map((u) => view.seqOf(u)), modseq));
    return ok('Sort completed');
  }
  const saveOnly = deliverResults(ctx, view, {
    uids,
    returns: args.returns ?? [],
    partial: args.partial,
    sorted: true,
    modseq,
    key: args.key,
    order: sortOrder(ctx.service.store, args.criteria),
    run,
  });
  return ok(saveOnly ? 'Sort completed (result saved)' : 'Sort completed');
}

export const sort = defineCommand({ states: SELECTED, seq: 'uses', parse: parseSort, run: runSort });
export const uidSort = defineCommand({ states: SELECTED, seq: 'none', parse: parseSort, run: runSort });
