/**
 * THREAD / UID THREAD (RFC 5256 section 4): ORDEREDSUBJECT, REFERENCES and REFS (draft-ietf-morg-inthread,
 * as Dovecot runs it).
 *
 *   thread = ["UID" SP] "THREAD" SP algorithm SP charset 1*(SP search-key)
 *
 * The search keys are evaluated by SEARCH's Evaluator (search.ts); threads come from mailsort's
 * threadMessages over the store's cached sort keys (MailStore.sortKeys; with sort-view.ts, messages expunged
 * elsewhere but still in the view are threaded as SEARCH matches them), memoized while the mailbox is
 * unchanged (threadMessagesMemo). The answer is one
 * "* THREAD" response in the RFC 5256 section 4 thread-list syntax (renderThreads): a message with one
 * reply is followed by it in the same list, several replies are nested lists, a dummy parent is a list
 * with no number of its own. An unknown algorithm or missing key: BAD; an unknown charset: NO [BADCHARSET].
 */
import { Args, ParseError } from '../../imap/grammar/args.js';
import { parseSearchKeys, type SearchKey } from '../../imap/grammar/search.js';
import { threadMessagesMemo, type ThreadAlgorithm, type ThreadNode } from '../../mailsort/index.js';
import { ok, type Completion } from '../errors.js';
import { AsciiWriter } from '../../imap/wire/numbers.js';
import { threadBytes } from '../responses.js';
import { SELECTED, defineCommand, selectedView, type CommandContext } from '../session.js';
import { checkCharset, searchRunner } from './search.js';
import { viewSortKeys } from './sort-view.js';

/** The algorithms THREAD accepts, as advertised (THREAD=...). */
export const THREAD_ALGORITHMS: Readonly<Record<string, ThreadAlgorithm>> = {
  ORDEREDSUBJECT: 'orderedsubject',
  REFERENCES: 'references',
  REFS: 'refs',
};

export interface ThreadArgs {
  algorithm: ThreadAlgorithm;
  charset: string;
  key: SearchKey;
}

export function parseThread(args: Args): ThreadArgs {
  const name = args.atom('thread algorithm');
  const algorithm = THREAD_ALGORITHMS[name.toUpperCase()];
  if (!algorithm) throw new ParseError(`Unknown thread algorithm ${name.slice(0, 40)}`);
  const charset = args.astring('charset');
  return { algorithm, charset, key: parseSearchKeys(args, charset) };
}

/**
 * The thread-lists of a forest (RFC 5256 section 4 thread-list), numbers mapped through `num`, as ASCII bytes
 * (written straight into one buffer: a large mailbox's threads are hundreds of kilobytes). Iterative: deep
 * reply chains and deep nesting use no stack.
 */
export function renderThreads(forest: readonly ThreadNode[], num: (uid: number) => number): Buffer {
  const out = new AsciiWriter(forest.length * 8);
  // Work items: a node to open as a thread-list, or CLOSE to emit ")"; processed last-in first-out.
  const work: Array<ThreadNode | typeof CLOSE> = [];
  for (let i = forest.length - 1; i >= 0; i--) work.push(forest[i]!);
  for (let item = work.pop(); item !== undefined; item = work.pop()) {
    if (item === CLOSE) {
      out.byte(RPAREN);
      continue;
    }
    out.byte(LPAREN);
    let node: ThreadNode = item;
    let first = true;
    for (;;) {
      if (node.uid !== null) {
        if (!first) out.byte(SP);
        out.number(num(node.uid));
        first = false;
      }
      if (node.children.length === 1) {
        node = node.children[0]!;
        continue;
      }
      if (node.children.length === 0) {
        out.byte(RPAREN);
        break;
      }
      if (!first) out.byte(SP);
      work.push(CLOSE);
      for (let i = node.children.length - 1; i >= 0; i--) work.push(node.children[i]!);
      break;
    }
  }
  return out.bytes();
}

const CLOSE = 0;
const LPAREN = 0x28;
const RPAREN = 0x29;
const SP = 0x20;

async function runThread(ctx: CommandContext, args: ThreadArgs): Promise<Completion> {
  const view = selectedView(ctx);
  checkCharset(args.charset);
  const hits = await searchRunner(ctx)(view, args.key);
  const keys = await viewSortKeys(ctx.service.store, view, hits);
  const forest = threadMessagesMemo(keys, args.algorithm);
  ctx.session.send(threadBytes(renderThreads(forest, ctx.uid ? (u) => u : (u) => view.seqOf(u))));
  return ok('Thread completed');
}

export const thread = defineCommand({ states: SELECTED, seq: 'uses', parse: parseThread, run: runThread });
export const uidThread = defineCommand({ states: SELECTED, seq: 'none', parse: parseThread, run: runThread });
