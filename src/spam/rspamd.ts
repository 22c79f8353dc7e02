/**
 * A client of rspamd's HTTP protocol: POST /checkv2 with the message (envelope in the From, Rcpt,
 * Deliver-To and User request headers) answers JSON with `action` and `score`/`required_score`; POST
 * /learnspam and /learnham (controller worker; `Password` header when it has one) train its statistics.
 * The URL is the controller's (it serves checkv2 too), e.g. http://127.0.0.1:11334. Requests time out
 * (default 10 s); every failure is an RspamdError.
 */

export interface RspamdOptions {
  url: string;
  /** Controller password (sent as the Password header for learning). */
  password?: string;
  timeoutMs?: number;
}

export interface RspamdResult {
  /** rspamd's action: "no action", "greylist", "add header", "rewrite subject", "soft reject", "reject". */
  action: string;
  score: number;
  requiredScore: number;
  /** rspamd skipped the message (settings); treated as not spam. */
  skipped: boolean;
}

export class RspamdError extends Error {}

/** Actions that file the message into Junk. */
export const SPAM_ACTIONS = new Set(['add header', 'rewrite subject', 'soft reject', 'reject']);

export class RspamdClient {
  readonly #base: string;
  readonly #password: string | undefined;
  readonly #timeoutMs: number;

  constructor(opts: RspamdOptions) {
    let u: URL;
    try {
      u = new URL(opts.url);
    } catch {
      throw new RspamdError(`invalid rspamd URL: ${opts.url}`);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new RspamdError(`rspamd URL must be http(s): ${opts.url}`);
    this.#base = u.toString().replace(/\/+$/, '');
    this.#password = opts.password;
    this.#timeoutMs = opts.timeoutMs ?? 10_000;
  }

  /** Scans a message. Throws RspamdError when rspamd cannot be reached or answers something unusable. */
  async check(raw: Buffer, env: { from?: string; rcpt?: string; user?: string } = {}): Promise<RspamdResult> {
    const headers: Record<string, string> = {};
    if (env.from !== undefined) headers['From'] = env.from || '<>';
    if (env.rcpt) {
      headers['Rcpt'] = env.rcpt;
      headers['Deliver-To'] = env.rcpt;
    }
    if (env.user) headers['User'] = env.user;
    const body = await this.#post('/checkv2', raw, headers);
    let j: unknown;
    try {
      j = JSON.parse(body);
    } catch {
      throw new RspamdError('rspamd answered something that is not JSON');
    }
    if (typeof j !== 'object' || j === null) throw new RspamdError('rspamd answered an unexpected value');
    const o = j as Record<string, unknown>;
    const action = typeof o.action === 'string' ? o.action : null;
    const skipped = o.is_skipped === true;
    if (action === null && !skipped) throw new RspamdError('rspamd answer has no action');
    return {
      action: action ?? 'no action',
      score: typeof o.score === 'number' ? o.score : 0,
      requiredScore: typeof o.required_score === 'number' ? o.required_score : 15,
      skipped,
    };
  }

  /**
   * Trains rspamd's statistics (learnspam / learnham). The statistics are rspamd's own (shared by all users
   * unless its classifier is configured per user from the Deliver-To of checks). An "already learned"
   * answer counts as success.
   */
  async learn(raw: Buffer, cls: 'spam' | 'ham'): Promise<void> {
    const headers: Record<string, string> = {};
    if (this.#password) headers['Password'] = this.#password;
    await this.#post(cls === 'spam' ? '/learnspam' : '/learnham', raw, headers, (status, text) => status === 208 || /already learned/i.test(text));
  }

  async #post(path: string, raw: Buffer, headers: Record<string, string>, okAnyway?: (status: number, text: string) => boolean): Promise<string> {
    let res: Response;
    try {
      res = await fetch(this.#base + path, { method: 'POST', body: raw, headers, signal: AbortSignal.timeout(this.#timeoutMs) });
    } catch (e) {
      throw new RspamdError(`rspamd unreachable: ${e instanceof Error ? e.message : String(e)}`);
    }
    let text: string;
    try {
      text = await res.text();
    } catch (e) {
      throw new RspamdError(`rspamd answer unreadable: ${e instanceof Error ? e.message : String(e)}`);
    }
    if (!res.ok && !okAnyway?.(res.status, text)) throw new RspamdError(`rspamd ${path} answered ${res.status}: ${text.slice(0, 200)}`);
    return text;
  }
}
