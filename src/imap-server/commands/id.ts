/**
 * ID (RFC 2971): logs what the client says about itself and answers with the server's name, vendor and
 * version. Grammar: a parenthesised list of name/value pairs or NIL, bounded as section 3.3 says.
 */
import { Args, ParseError, astringOf } from '../../imap/grammar/args.js';
import { WireWriter } from '../../imap/wire/encode.js';
import { ok } from '../errors.js';
import { writeId } from '../responses.js';
import { ANY, defineCommand } from '../session.js';

export interface IdArgs {
  /** null for NIL. */
  params: Array<[string, string | null]> | null;
}

/** Bounds from RFC 2971 section 3.3: at most 30 pairs, 30-octet names, 1024-octet values. */
export function parseId(args: Args): IdArgs {
  const t = args.next('ID parameters');
  args.end();
  if (t.t === 'atom' && t.v.toUpperCase() === 'NIL') return { params: null };
  if (t.t !== 'list') throw new ParseError('ID takes a list or NIL');
  if (t.v.length % 2 !== 0) throw new ParseError('ID list must have name/value pairs');
  if (t.v.length > 60) throw new ParseError('Too many ID parameters');
  const params: Array<[string, string | null]> = [];
  for (let i = 0; i < t.v.length; i += 2) {
    const k = t.v[i]!;
    const v = t.v[i + 1]!;
    // id-params-list: "(" *(string SP nstring) ")" (RFC 2971): strings, no atoms but NIL, no literal8.
    if (k.t !== 'string' || k.binary) throw new ParseError('ID field names must be strings');
    if (v.t === 'atom' && v.v.toUpperCase() !== 'NIL') throw new ParseError('ID values must be strings or NIL');
    const value = v.t === 'atom' ? null : astringOf(v, 'ID value');
    params.push([k.v.toString('utf8').slice(0, 30), value === null ? null : value.slice(0, 1024)]);
  }
  return { params };
}

/** What the server says about itself. */
const SERVER_ID: ReadonlyArray<readonly [string, string]> = [
  ['name', 'mailroom'],
  ['vendor', 'mailroom'],
  ['version', '0.1.0'],
];

export const id = defineCommand({
  states: ANY,
  seq: 'none',
  parse: parseId,
  async run(ctx, args) {
    if (args.params) ctx.session.logger.debug({ clientId: Object.fromEntries(args.params) }, 'client ID');
    const w = new WireWriter(ctx.session.utf8);
    // Under `serve --workers N`, which worker process serves this connection (server/cluster-messages.ts).
    const worker = process.env['MAILROOM_WORKER'];
    writeId(w, worker ? [...SERVER_ID, ['x-mailroom-worker', worker]] : SERVER_ID);
    ctx.session.send(w.toBuffer());
    return ok('ID completed');
  },
});
