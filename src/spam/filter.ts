/**
 * SpamFilter: one server's spam filter over its store. check() scores a message for one user (the built-in
 * per-user statistics, or rspamd when configured); train() teaches a message as spam or ham (idempotent per
 * message: see store/spam.ts); transfer() turns a user's move or copy into training (into Junk: spam; out
 * of Junk to anything but Trash: ham).
 *
 * Verdict rules of the built-in filter: the user must have trained at least `minTrained` messages of each
 * class, else the message is not tested (probability 0.5, score 0, never Junk). Tested messages with
 * probability >= threshold are spam; the rest (ham and the unsure band) stay where they were going.
 * Scores for Sieve spamtest (RFC 5235) are 0 for "not tested", else 1 (surely ham) .. 10 (surely spam).
 */
import type { Logger } from '../lib/logger.js';
import { silentLogger } from '../lib/logger.js';
import type { Store } from '../store/handle.js';
import type { Mailbox } from '../store/types.js';
import type { SpamClass, TrainOutcome } from '../store/spam.js';
import { CountsCache } from './cache.js';
import { classify, classifyIds, DEFAULT_PARAMS, type Score } from './classify.js';
import { messageDigest, storedAuthResults } from './message.js';
import { RspamdClient, SPAM_ACTIONS } from './rspamd.js';
import { joinTokenIds, joinTokens, MAX_INDEX_BYTES, tokenIdParts, tokenIdPartsOf, tokenize, tokenParts, type TokenParts } from './tokenize.js';
import type { TokenIdList, TokenIdParts } from './token-ids.js';
import { sharedIndex } from '../mime/shared.js';
import { checkPool, type CheckPool } from '../mailauth/pool.js';
import { octets, unpackParts } from '../mailauth/tasks.js';
import { noteTokensWanted, rememberedAuthIds, rememberedTokenIds, rememberedTokenParts } from './pretokens.js';

/** Transfers of up to this many messages are trained before transfer() resolves (see there). */
export const TRANSFER_SYNC_MAX = 100;

/** Users whose Junk mailbox name is remembered (the map is emptied when full). */
const JUNK_NAME_CACHE = 10_000;
/**
 * A remembered Junk mailbox name is trusted this long without a store read. Mailbox list events (creates,
 * deletes, renames, a \Junk mark set or cleared) forget it at once; the time bounds what a missed event
 * (a PostgreSQL notification lost while its connection was down) can cost.
 */
export const JUNK_NAME_TTL_MS = 30_000;

/** A remembered Junk mailbox (name and id), with the mailbox list subscription that forgets it. */
interface JunkName {
  name: string;
  /** The mailbox's id, or null when it was not found (created meanwhile by another delivery). */
  id: number | null;
  checked: number;
  off: () => void;
}

/** The user's Junk mailbox as delivery files into it: its name, and its id when known (spares a look-up by name). */
export interface JunkMailbox {
  name: string;
  id: number | null;
}

export interface SpamSettings {
  /** False: no scoring, no header fields, no training (quarantine still files into Junk). Default true. */
  enabled: boolean;
  /** Probability (0..1) at or above which a message is spam. Default 0.9. */
  threshold: number;
  /** Trained messages of each class needed before the built-in filter files anything. Default 5. */
  minTrained: number;
  /** Name of the Junk mailbox created when the user has none marked \Junk. Default "Junk". */
  junkMailbox: string;
  /** Use rspamd (its controller URL) instead of the built-in statistics; training is forwarded to it. */
  rspamdUrl: string | null;
  rspamdPassword: string | null;
  /** Also keep the built-in statistics trained while rspamd decides. Default true. */
  trainBuiltinWithRspamd: boolean;
}

export const DEFAULT_SPAM_SETTINGS: SpamSettings = {
  enabled: true,
  threshold: 0.9,
  minTrained: 5,
  junkMailbox: 'Junk',
  rspamdUrl: null,
  rspamdPassword: null,
  trainBuiltinWithRspamd: true,
};

export interface SpamVerdict {
  /** 0..1; 0.5 when not tested. */
  probability: number;
  isSpam: boolean;
  /** 0 (not tested), 1 (ham) .. 10 (spam): RFC 5235 spamtest values. */
  score: number;
  tested: boolean;
  engine: 'bayes' | 'rspamd';
  /** Clues used (built-in), or rspamd's action. */
  detail: string;
  /** The score shown in X-Spam-Status and the score it is compared with (10 x probability for the built-in filter). */
  shownScore: number;
  required: number;
}

export type SpamStoreParts = Pick<Store, 'mail' | 'spam'>;

/**
 * The tokens of one message for the filter's checks of its recipients (with the Authentication-Results
 * value they were joined with): as strings, or as ids (token-ids.ts) for users whose clues are held whole.
 */
interface MessageTokens {
  authResults: string | null;
  parts?: Promise<TokenParts>;
  idParts?: Promise<TokenIdParts>;
  tokens?: Promise<string[]>;
  ids?: Promise<TokenIdList>;
}

export class SpamFilter {
  readonly settings: SpamSettings;
  readonly rspamd: RspamdClient | null;
  readonly #store: SpamStoreParts;
  readonly #log: Logger;
  /** User id -> name of the Junk mailbox last found (see junkMailboxName). */
  readonly #junkNames = new Map<number, JunkName>();
  /** Token counts per user between deliveries (cache.ts). */
  readonly #counts: CountsCache;
  /** The tokens of a message being delivered, so its recipients share one tokenization. */
  readonly #tokens = new WeakMap<Buffer, MessageTokens>();
  readonly #pool: CheckPool | null | undefined;

  /**
   * `pool`: where messages are tokenized: the process's check pool by default (mailauth/pool.ts), null for
   * in-process always. A pool failure falls back to in-process; the tokens are the same.
   */
  constructor(store: SpamStoreParts, settings: Partial<SpamSettings> = {}, logger: Logger = silentLogger, pool?: CheckPool | null) {
    this.#pool = pool;
    this.#store = store;
    this.settings = { ...DEFAULT_SPAM_SETTINGS, ...settings };
    this.rspamd = this.settings.rspamdUrl
      ? new RspamdClient({ url: this.settings.rspamdUrl, ...(this.settings.rspamdPassword ? { password: this.settings.rspamdPassword } : {}) })
      : null;
    this.#log = logger;
    this.#counts = new CountsCache(store.spam);
  }

  get store(): SpamStoreParts {
    return this.#store;
  }

  /** Scores one user's copy. Store or rspamd failures propagate (the stage then keeps the message). */
  async check(userId: number, raw: Buffer, ctx: { authResults?: string | null; envelopeFrom?: string; recipient?: string } = {}): Promise<SpamVerdict> {
    if (this.rspamd) {
      try {
        const r = await this.rspamd.check(raw, { from: ctx.envelopeFrom ?? '', ...(ctx.recipient ? { rcpt: ctx.recipient, user: ctx.recipient } : {}) });
        const isSpam = !r.skipped && SPAM_ACTIONS.has(r.action);
        const req = r.requiredScore > 0 ? r.requiredScore : 15;
        const probability = Math.max(0, Math.min(1, r.score / req));
        const tested = !r.skipped;
        return { probability, isSpam, score: spamtestScore(probability, tested), tested, engine: 'rspamd', detail: `action="${r.action}"`, shownScore: r.score, required: req };
      } catch (e) {
        this.#log.warn({ err: e instanceof Error ? e.message : String(e), user: userId }, 'rspamd check failed; using the built-in filter');
      }
    }
    const required = 10 * this.settings.threshold;
    const untrained: SpamVerdict = { probability: 0.5, isSpam: false, score: 0, tested: false, engine: 'bayes', detail: 'untrained', shownScore: 0, required };
    const enough = (t: { spam: number; ham: number }): boolean => t.spam >= this.settings.minTrained && t.ham >= this.settings.minTrained;
    // Most users never train: their totals alone (one cached read) decide, without tokenizing the message,
    // which is most of the filter's cost.
    if (!enough((await this.#counts.counts(userId, [])).totals)) return untrained;
    // A user whose whole vocabulary is held (most): the message's token ids against the user's clues.
    const held = this.#counts.heldClues(userId);
    let s: Score;
    if (held) {
      s = classifyIds(await this.#idsOf(raw, ctx.authResults ?? null), held);
    } else {
      const tokens = await this.#tokensOf(raw, ctx.authResults ?? null);
      const counts = await this.#counts.lookup(userId, tokens);
      if (!enough(counts.totals)) return untrained;
      s = classify(tokens, counts, DEFAULT_PARAMS);
    }
    const isSpam = s.probability >= this.settings.threshold;
    return { probability: s.probability, isSpam, score: spamtestScore(s.probability, true), tested: true, engine: 'bayes', detail: `clues=${s.clues}`, shownScore: 10 * s.probability, required };
  }

  /** The message's entry in #tokens for these authentication results (its parts kept across them). */
  #entry(raw: Buffer, authResults: string | null): MessageTokens {
    let e = this.#tokens.get(raw);
    if (!e || e.authResults !== authResults) {
      e = { authResults, ...(e?.parts ? { parts: e.parts } : {}), ...(e?.idParts ? { idParts: e.idParts } : {}) };
      this.#tokens.set(raw, e);
    }
    return e;
  }

  #tokensOf(raw: Buffer, authResults: string | null): Promise<string[]> {
    noteTokensWanted('strings');
    const e = this.#entry(raw, authResults);
    const parts = (e.parts ??= this.#parts(raw));
    return (e.tokens ??= parts.then((p) => joinTokens(p, authResults, raw.length)));
  }

  #idsOf(raw: Buffer, authResults: string | null): Promise<TokenIdList> {
    noteTokensWanted('ids');
    const e = this.#entry(raw, authResults);
    const parts = (e.idParts ??= this.#idParts(raw, e.parts));
    return (e.ids ??= parts.then((p) => joinTokenIds(p, rememberedAuthIds(raw, authResults) ?? authResults, raw.length)));
  }

  /** tokenParts(raw) in-process; the index is remembered for the store, which stores this message's copies (mime/shared.ts). */
  #localParts(raw: Buffer): TokenParts {
    return tokenParts(raw, raw.length <= MAX_INDEX_BYTES ? sharedIndex(raw) : undefined);
  }

  /** tokenIdPartsOf(raw) in-process, the index remembered as with #localParts. */
  #localIdParts(raw: Buffer): TokenIdParts {
    return tokenIdPartsOf(raw, raw.length <= MAX_INDEX_BYTES ? sharedIndex(raw) : undefined);
  }

  #threads(): CheckPool | null {
    const pool = this.#pool === undefined ? checkPool() : this.#pool;
    return pool?.available ? pool : null;
  }

  /** tokenParts(raw): made ahead by the MX (pretokens.ts), or on a pool thread when there is one. */
  #parts(raw: Buffer): Promise<TokenParts> {
    const ahead = rememberedTokenParts(raw);
    if (ahead) return Promise.resolve(ahead);
    const local = (): TokenParts => this.#localParts(raw);
    const pool = this.#threads();
    if (!pool) return Promise.resolve(local());
    const { bytes, transfer } = octets(raw);
    return pool.run('tokens', { bytes }, transfer).then(unpackParts, local);
  }

  /** tokenIdParts of the message: made ahead by the MX, from its string parts when those are made, or on a pool thread. */
  #idParts(raw: Buffer, strings: Promise<TokenParts> | undefined): Promise<TokenIdParts> {
    const ahead = rememberedTokenIds(raw);
    if (ahead) return Promise.resolve(ahead);
    const parts = rememberedTokenParts(raw);
    if (strings || parts) return (strings ?? Promise.resolve(parts!)).then(tokenIdParts);
    const local = (): TokenIdParts => this.#localIdParts(raw);
    const pool = this.#threads();
    if (!pool) return Promise.resolve(local());
    const { bytes, transfer } = octets(raw);
    return pool.run('tokenIds', { bytes }, transfer).then((p) => p, local);
  }

  /**
   * Teaches one message (as stored or as found in a mailbox file) as `cls`. The authentication results
   * learnt from are those of the topmost Authentication-Results field (the one the MX added). Rspamd
   * training failures are logged, not thrown.
   */
  async train(userId: number, raw: Buffer, cls: SpamClass): Promise<TrainOutcome> {
    let outcome: TrainOutcome = 'trained';
    if (!this.rspamd || this.settings.trainBuiltinWithRspamd) {
      const tokens = tokenize(raw, { authResults: storedAuthResults(raw) });
      outcome = await this.#store.spam.train(userId, messageDigest(raw), cls, tokens);
      if (outcome !== 'unchanged') this.#counts.forget(userId); // its next check reads the new counts
    }
    if (this.rspamd && outcome !== 'unchanged') {
      try {
        await this.rspamd.learn(raw, cls);
      } catch (e) {
        this.#log.warn({ err: e instanceof Error ? e.message : String(e), user: userId }, 'rspamd training failed');
      }
    }
    return outcome;
  }

  /** Teaches the messages `uids` of a mailbox. Returns how many changed the statistics. */
  async trainStored(userId: number, mailboxId: number, uids: readonly number[], cls: SpamClass): Promise<number> {
    let changed = 0;
    for (const uid of uids) {
      let raw: Buffer;
      try {
        raw = await this.#store.mail.readBytes(mailboxId, uid);
      } catch {
        continue; // expunged meanwhile
      }
      if ((await this.train(userId, raw, cls)) !== 'unchanged') changed++;
    }
    return changed;
  }

  /**
   * A user moved or copied messages from one mailbox to another; `uids` are the messages' UIDs in the
   * destination. Into Junk trains spam; out of Junk into anything but Trash trains ham; anything else is
   * ignored. Returns the class trained (null: none) once the statistics are written; transfers of more than
   * TRANSFER_SYNC_MAX messages return at once and train in the background. Never throws: failures are logged.
   */
  async transfer(userId: number, fromMailboxId: number, toMailboxId: number, uids: readonly number[]): Promise<SpamClass | null> {
    if (!this.settings.enabled || uids.length === 0 || fromMailboxId === toMailboxId) return null;
    try {
      const [from, to] = await Promise.all([this.#store.mail.getMailboxById(fromMailboxId), this.#store.mail.getMailboxById(toMailboxId)]);
      // Only the user's own mailboxes train the user's filter (not folders shared by others).
      if (!from || !to || from.userId !== userId || to.userId !== userId) return null;
      const fromJunk = this.isJunk(from);
      const toJunk = this.isJunk(to);
      let cls: SpamClass | null = null;
      if (toJunk && !fromJunk) cls = 'spam';
      else if (fromJunk && !toJunk && !isTrash(to)) cls = 'ham';
      if (!cls) return null;
      if (uids.length <= TRANSFER_SYNC_MAX) {
        await this.trainStored(userId, toMailboxId, uids, cls);
        return cls;
      }
      // A big move is answered at once; its training goes on in the background.
      const c = cls;
      void this.trainStored(userId, toMailboxId, uids, c).catch((e: unknown) => {
        this.#log.warn({ err: e instanceof Error ? e.message : String(e), user: userId }, 'spam training on transfer failed');
      });
      return c;
    } catch (e) {
      this.#log.warn({ err: e instanceof Error ? e.message : String(e), user: userId }, 'spam training on transfer failed');
      return null;
    }
  }

  /** A mailbox marked \Junk, or (when unmarked) named like the configured Junk mailbox. */
  isJunk(mb: Mailbox): boolean {
    return mb.specialUse === '\\Junk' || (mb.specialUse === null && mb.name.toLowerCase() === this.settings.junkMailbox.toLowerCase());
  }

  /**
   * The name of the user's Junk mailbox: the one marked \Junk, else the configured name, created and marked
   * \Junk when missing. The answer is remembered per user (no store read per spam copy): a change to the
   * user's mailbox list forgets it, and after JUNK_NAME_TTL_MS it is checked again with one mailbox read.
   */
  async junkMailboxName(userId: number): Promise<string> {
    return (await this.junkMailbox(userId)).name;
  }

  /** junkMailboxName with the mailbox's id (remembered with the name, forgotten with it). */
  async junkMailbox(userId: number): Promise<JunkMailbox> {
    const known = this.#junkNames.get(userId);
    if (known !== undefined) {
      if (performance.now() - known.checked < JUNK_NAME_TTL_MS) return { name: known.name, id: known.id };
      const mb = await this.#store.mail.getMailbox(userId, known.name);
      if (mb && this.isJunk(mb) && this.#junkNames.get(userId) === known) {
        known.checked = performance.now();
        known.name = mb.name;
        known.id = mb.id;
        return { name: mb.name, id: mb.id };
      }
      this.#forgetJunk(userId, known);
    }
    // Listen before looking, so a change made while we look is not missed: then the answer is not kept.
    let changed = false;
    let entry: JunkName | null = null;
    const off = this.#store.mail.subscribeMailboxList(userId, () => {
      changed = true;
      if (entry) this.#forgetJunk(userId, entry);
    });
    let found: JunkMailbox;
    try {
      found = await this.#findJunk(userId);
    } catch (e) {
      off();
      throw e;
    }
    if (changed || this.#junkNames.has(userId)) {
      off();
      return found;
    }
    if (this.#junkNames.size >= JUNK_NAME_CACHE) this.forgetJunkNames();
    entry = { ...found, checked: performance.now(), off };
    this.#junkNames.set(userId, entry);
    return found;
  }

  /** Forgets every remembered Junk mailbox name and ends their subscriptions (also before the store closes). */
  forgetJunkNames(): void {
    for (const e of this.#junkNames.values()) e.off();
    this.#junkNames.clear();
  }

  #forgetJunk(userId: number, entry: JunkName): void {
    entry.off();
    if (this.#junkNames.get(userId) === entry) this.#junkNames.delete(userId);
  }

  async #findJunk(userId: number): Promise<JunkMailbox> {
    const boxes = await this.#store.mail.listMailboxes(userId);
    const name = this.settings.junkMailbox;
    const found = boxes.find((b) => b.specialUse === '\\Junk') ?? boxes.find((b) => b.name.toLowerCase() === name.toLowerCase());
    if (found) return { name: found.name, id: found.id };
    try {
      const made = await this.#store.mail.createMailbox(userId, name, { specialUse: '\\Junk' });
      return { name: made.name, id: made.id };
    } catch {
      return { name, id: null }; // created meanwhile by another delivery; the target names it
    }
  }
}

function isTrash(mb: Mailbox): boolean {
  return mb.specialUse === '\\Trash' || (mb.specialUse === null && /^(trash|deleted items|deleted messages)$/i.test(mb.name));
}

/** RFC 5235 spamtest value: 0 not tested, else 1 + 9p rounded (1 surely ham .. 10 surely spam). */
export function spamtestScore(probability: number, tested: boolean): number {
  if (!tested) return 0;
  return Math.max(1, Math.min(10, Math.round(1 + 9 * probability)));
}
