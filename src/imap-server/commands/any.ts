/** CAPABILITY, NOOP, LOGOUT, ID (RFC 2971), ENABLE (RFC 5161), CHECK. */
import { WireWriter } from '../../imap/wire/encode.js';
import { parseEnable, parseId, parseNone } from '../../imap/grammar/commands.js';
import { ok } from '../errors.js';
import { ANY, AUTH, SELECTED, defineCommand } from '../session.js';
import { ENABLEABLE } from '../capabilities.js';

export const capability = defineCommand({
  states: ANY,
  seq: 'none',
  parse: parseNone,
  async run(ctx) {
    ctx.session.send(Buffer.from(`* CAPABILITY ${ctx.session.capabilities().join(' ')}\r\n`));
    return ok('Capability completed');
  },
});

export const noop = defineCommand({
  states: ANY,
  seq: 'none',
  parse: parseNone,
  async run() {
    return ok('NOOP completed');
  },
});

export const check = defineCommand({
  states: SELECTED,
  seq: 'none',
  parse: parseNone,
  async run() {
    return ok('CHECK completed');
  },
});

export const logout = defineCommand({
  states: ANY,
  seq: 'none',
  parse: parseNone,
  async run(ctx) {
    ctx.session.send(Buffer.from('* BYE Logging out\r\n'));
    ctx.session.setState({ kind: 'logout' });
    return { status: 'OK', text: 'Logout completed', after: () => ctx.session.end() };
  },
});

export const id = defineCommand({
  states: ANY,
  seq: 'none',
  parse: parseId,
  async run(ctx, args) {
    if (args.params) ctx.session.logger.debug({ clientId: Object.fromEntries(args.params) }, 'client ID');
    const w = new WireWriter(ctx.session.utf8);
    w.text('* ID ');
    w.list(
      [
        ['name', 'mailroom'],
        ['vendor', 'mailroom'],
        ['version', '0.1.0'],
      ],
      (ww, [k, v]) => ww.string(k!).sp().string(v!),
    );
    w.text('\r\n');
    ctx.session.send(w.toBuffer());
    return ok('ID completed');
  },
});

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
      ctx.session.send(Buffer.from(`* OK [HIGHESTMODSEQ ${st.view.highestModseq}] Highest\r\n`));
    }
    ctx.session.send(Buffer.from(`* ENABLED${done.map((c) => ' ' + c).join('')}\r\n`));
    return ok('Enabled');
  },
});
