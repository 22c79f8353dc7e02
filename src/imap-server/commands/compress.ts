/** COMPRESS=DEFLATE (RFC 4978). */
import { parseCompress } from '../../imap/grammar/commands.js';
import { bad, no } from '../errors.js';
import { AUTH, defineCommand } from '../session.js';

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
