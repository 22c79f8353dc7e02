/**
 * SEARCH / UID SEARCH (RFC 9051 6.4.4) with ESEARCH RETURN options (RFC 4731), SEARCHRES (RFC 5182),
 * PARTIAL (RFC 9394), UPDATE contexts (RFC 5267; results in search-context.ts) and MODSEQ (RFC 7162 3.1.5). Metadata keys are evaluated on the view; BODY/TEXT go to store.searchText
 * (decoded content); header keys read the stored header block and compare decoded values (address fields
 * also in their parsed form, see addressForms).
 */
import type { MailStore } from '../../store/mail.js';
import { decodeMimeWords, parseAddressList, parseHeaderBlock, unfoldHeader } from '../../mime/index.js';
import { parseSearch, searchCharsetDecoder, usesModseq, type SearchArgs, type SearchKey } from '../../imap/grammar/search.js';
import { utcTime } from '../../imap/grammar/args.js';
import { no, ok, type Completion } from '../errors.js';
import { SELECTED, defineCommand, enableCondstore, selectedView, type CommandContext } from '../session.js';
import type { MailboxView } from '../view.js';
import { searchLine } from '../responses.js';
import { deliverResults, type SearchRunner } from '../search-context.js';

/** Evaluates search keys against the selected view (also SORT's, THREAD's and search contexts' evaluator). */
export class Evaluator {
  readonly #store: MailStore;
  readonly #view: MailboxView;
  readonly #rev2: boolean;
  #headers = new Map<number, Array<{ name: string; value: string; addresses?: string }>>();
  #sent = new Map<number, number | null>();

  constructor(store: MailStore, view: MailboxView, rev2: boolean) {
    this.#store = store;
    this.#view = view;
    this.#rev2 = rev2;
  }

  async eval(key: SearchKey, cand: number[]): Promise<number[]> {
    if (!cand.length) return cand;
    const v = this.#view;
    switch (key.k) {
      case 'all':
        return cand;
      case 'and': {
        let c = cand;
        // Cheap metadata keys first, text keys last: they then see fewer candidates.
        const ordered = [...key.keys].sort((a, b) => cost(a) - cost(b));
        for (const k of ordered) c = await this.eval(k, c);
        return c;
      }
      case 'or': {
        const a = new Set(await this.eval(key.a, cand));
        const rest = cand.filter((u) => !a.has(u));
        const b = new Set(await this.eval(key.b, rest));
        return cand.filter((u) => a.has(u) || b.has(u));
      }
      case 'not': {
        const hit = new Set(await this.eval(key.key, cand));
        return cand.filter((u) => !hit.has(u));
      }
      case 'flag': {
        const f = key.flag.toLowerCase();
        return cand.filter((u) => (v.meta(u)?.flags.some((x) => x.toLowerCase() === f) ?? false) === key.set);
      }
      case 'recent':
        return this.#rev2 ? [] : cand.filter((u) => v.isRecent(u));
      case 'new':
        return this.#rev2 ? [] : cand.filter((u) => v.isRecent(u) && !v.meta(u)?.flags.some((x) => x.toLowerCase() === '\\seen'));
      case 'old':
        return this.#rev2 ? cand : cand.filter((u) => !v.isRecent(u));
      case 'seq': {
        const s = new Set(v.resolve(key.set, false));
        return cand.filter((u) => s.has(u));
      }
      case 'uid': {
        const s = new Set(v.resolve(key.set, true));
        return cand.filter((u) => s.has(u));
      }
      case 'size':
        return cand.filter((u) => {
          const sz = v.meta(u)?.size ?? 0;
          return key.op === 'larger' ? sz > key.n : sz < key.n;
        });
      case 'modseq':
        return cand.filter((u) => (v.meta(u)?.modseq ?? 0) >= key.modseq);
      case 'emailid':
        return cand.filter((u) => v.meta(u)?.emailId === key.id);
      case 'threadid':
        return cand.filter((u) => v.meta(u)?.threadId === key.id);
      case 'date': {
        const day = key.date.getTime();
        if (key.field === 'sent') await this.#loadSent(cand);
        return cand.filter((u) => {
          let t: number | null;
          if (key.field !== 'sent') {
            // RFC 8514: a message without a save date (stored before they were kept) counts its internal date.
            const m = v.meta(u);
            const d = key.field === 'saved' ? (m?.savedDate ?? m?.internalDate) : m?.internalDate;
            t = d ? utcDay(d) : null;
          } else t = this.#sent.get(u) ?? null;
          if (t === null) return false;
          return key.op === 'before' ? t < day : key.op === 'on' ? t === day : t >= day;
        });
      }
      case 'age': {
        // RFC 5032: OLDER n = internal date at least n seconds ago, YOUNGER n = less than n seconds ago.
        const edge = Date.now() - key.seconds * 1000;
        return cand.filter((u) => {
          const d = v.meta(u)?.internalDate;
          return d !== undefined && (key.op === 'older' ? d.getTime() <= edge : d.getTime() > edge);
        });
      }
      case 'savedatesupported':
        return cand;
      case 'text': {
        const hits = new Set(await this.#store.searchText(v.mailbox.id, cand, key.value, key.scope));
        return cand.filter((u) => hits.has(u));
      }
      case 'header': {
        await this.#loadHeaders(cand);
        const field = key.field.toLowerCase();
        const needle = key.value.toLowerCase();
        return cand.filter((u) =>
          (this.#headers.get(u) ?? []).some((h) => h.name === field && (needle === '' || h.value.toLowerCase().includes(needle) || (h.addresses?.includes(needle) ?? false))),
        );
      }
    }
  }

  async #loadHeaders(cand: number[]): Promise<void> {
    const need = cand.filter((u) => !this.#headers.has(u) && !this.#view.isExpunged(u));
    if (!need.length) return;
    for await (const rec of this.#store.readMessages(this.#view.mailbox.id, need, { header: true })) {
      try {
        this.#headers.set(
          rec.uid,
          parseHeaderBlock(rec.header).map((f) => {
            const name = f.name.toLowerCase();
            const raw = unfoldHeader(f.value);
            const value = decodeMimeWords(raw);
            return ADDRESS_FIELDS.has(name) ? { name, value, addresses: addressForms(raw) } : { name, value };
          }),
        );
      } catch {
        this.#headers.set(rec.uid, []);
      }
    }
  }

  async #loadSent(cand: number[]): Promise<void> {
    const need = cand.filter((u) => !this.#sent.has(u) && !this.#view.isExpunged(u));
    if (!need.length) return;
    for await (const rec of this.#store.readMessages(this.#view.mailbox.id, need, { envelope: true })) {
      // Without a Date header that parses, the internal date stands in (as for SORT's DATE, RFC 5256; Dovecot does the same).
      const internal = this.#view.meta(rec.uid)?.internalDate;
      this.#sent.set(rec.uid, sentDay(rec.envelope.date) ?? (internal ? utcDay(internal) : null));
    }
  }
}

/**
 * The MODSEQ of a SEARCH result (RFC 7162 3.1.5): with only MIN and/or MAX returned (RFC 4731), the highest
 * mod-sequence of the message(s) they name; otherwise the highest of all matching messages.
 */
function resultModseq(view: MailboxView, uids: readonly number[], returns: readonly string[] | null): number {
  const modseq = (u: number): number => view.meta(u)?.modseq ?? 0;
  const has = (r: string): boolean => returns?.includes(r) ?? false;
  if ((has('MIN') || has('MAX')) && !has('ALL') && !has('COUNT')) {
    return Math.max(has('MIN') ? modseq(uids[0]!) : 0, has('MAX') ? modseq(uids[uids.length - 1]!) : 0);
  }
  return uids.reduce((mx, u) => Math.max(mx, modseq(u)), 0);
}

/** Header fields holding address lists: SEARCH also matches them in their parsed form. */
const ADDRESS_FIELDS = new Set(['from', 'to', 'cc', 'bcc', 'sender', 'reply-to']);

/**
 * An address list as Dovecot matches it: parsed and written back as `name <mailbox@host>`, groups as
 * `group: ... ;`, lower-cased. So comments inside an address (`<a (c)@ (c) b.org>`) do not hide it from
 * FROM a@b.org, and a trailing comment (`a@b.org (Real Name)`) is the display name.
 */
export function addressForms(raw: string): string {
  const parts: string[] = [];
  for (const a of parseAddressList(raw) ?? []) {
    if (a.host === null) parts.push(a.mailbox === null ? ';' : `${a.mailbox}:`);
    else {
      const spec = a.host === '' ? a.mailbox ?? '' : `${a.mailbox ?? ''}@${a.host}`;
      parts.push(a.name ? `${decodeMimeWords(a.name)} <${spec}>` : `<${spec}>`);
    }
  }
  return parts.join(', ').toLowerCase();
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];

/** The calendar day written in a Date header, ignoring time and zone (RFC 9051 SENTON etc.); null if unparseable. */
export function sentDay(value: string | null): number | null {
  if (!value) return null;
  const m = /(\d{1,2})\s+([A-Za-z]{3})[a-z]*\s+(\d{2,4})/.exec(value);
  if (!m) {
    const t = Date.parse(value);
    return Number.isNaN(t) ? null : utcDay(new Date(t));
  }
  const mon = MONTHS.indexOf(m[2]!.toLowerCase());
  if (mon < 0) return null;
  let y = Number(m[3]);
  if (m[3]!.length === 2) y += y < 50 ? 2000 : 1900;
  else if (m[3]!.length === 3) y += 1900;
  return utcTime(y, mon, Number(m[1]));
}

function utcDay(d: Date): number {
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate());
}

function cost(k: SearchKey): number {
  switch (k.k) {
    case 'text':
      return 3;
    case 'header':
    case 'date':
      return 2;
    case 'and':
    case 'or':
    case 'not':
      return 1;
    default:
      return 0;
  }
}

/** NO [BADCHARSET] unless `charset` is null or one SEARCH, SORT and THREAD accept (searchCharsetDecoder). */
export function checkCharset(charset: string | null): void {
  if (!searchCharsetDecoder(charset)) throw no('Unsupported charset', 'BADCHARSET (UTF-8 US-ASCII)');
}

/** The uids of the view matching `key`, ascending (a fresh Evaluator: no values cached from before). */
export function searchRunner(ctx: CommandContext): SearchRunner {
  const store = ctx.service.store;
  const rev2 = ctx.session.rev2;
  return (view, key) => new Evaluator(store, view, rev2).eval(key, [...view.uids]);
}

async function runSearch(ctx: CommandContext, args: SearchArgs): Promise<Completion> {
  const s = ctx.session;
  const view = selectedView(ctx);
  checkCharset(args.charset);
  const ev = new Evaluator(ctx.service.store, view, s.rev2);
  let uids: number[];
  try {
    uids = await ev.eval(args.key, [...view.uids]);
  } catch (e) {
    if (args.returns?.includes('SAVE')) view.savedSearch = [];
    throw e;
  }
  const withModseq = usesModseq(args.key) && uids.length > 0;
  if (usesModseq(args.key)) enableCondstore(s);
  const maxModseq = withModseq ? resultModseq(view, uids, args.returns) : 0;
  const nums = ctx.uid ? uids : uids.map((u) => view.seqOf(u));
  const returns = args.returns;
  if (returns === null && args.partial === null && !s.rev2) {
    s.send(Buffer.from(searchLine(nums, withModseq ? maxModseq : null)));
    return ok('Search completed');
  }
  const saveOnly = deliverResults(ctx, view, {
    uids,
    returns: returns ?? [],
    partial: args.partial,
    sorted: false,
    modseq: withModseq ? maxModseq : null,
    key: args.key,
    order: null,
    run: searchRunner(ctx),
  });
  return ok(saveOnly ? 'Search completed (result saved)' : 'Search completed');
}

export const search = defineCommand({ states: SELECTED, seq: 'uses', parse: parseSearch, run: runSearch });
export const uidSearch = defineCommand({ states: SELECTED, seq: 'none', parse: parseSearch, run: runSearch });
