/**
 * COMPRESS DEFLATE (RFC 4978): OK, then both directions are raw DEFLATE from the next byte on. BAD for
 * another mechanism, NO [COMPRESSIONACTIVE] when already compressing.
 */
import type { Args } from '../../imap/grammar/args.js';
import { bad, no } from '../errors.js';
import { AUTH, defineCommand } from '../session.js';

// ---- grammar ----

export interface CompressArgs {
  mechanism: string;
}

export function parseCompress(args: Args): CompressArgs {
  const mechanism = args.atom('compression mechanism').toUpperCase();
  args.end();
  return { mechanism };
}

// ---- handler ----

export const compress = defineCommand({
  states: AUTH,
  seq: 'none',
  parse: parseCompress,
  async run(ctx, args) {
    if (args.mechanism !== 'DEFLATE') throw bad('Unknown compression mechanism');
    if (ctx.session.compressed) throw no('Compression already active', 'COMPRESSIONACTIVE');
    return { status: 'OK', text: 'DEFLATE active', after: () => ctx.session.startCompress() };
  },
});
