/**
 * Test support for the command grammar tests (not compiled into dist: tsconfig.build.json excludes
 * src/**\/testing/**): tokenizes a command's argument text the way the dispatcher does.
 */
import { tokenize } from '../../../imap/wire/tokenizer.js';
import { Args } from '../../../imap/grammar/args.js';

/** The Args a parser sees for `s` (what follows the command name, literals inline). */
export function args(s: string): Args {
  return new Args(tokenize(Buffer.from(s)));
}
