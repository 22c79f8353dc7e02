/**
 * The progress rule of a client connection (IMAP and POP3): while a command is outstanding, the server must
 * either finish it or send `minBytes` within every `windowMs`. The sockets' inactivity timeouts reset on
 * every byte, so a server trickling a byte now and then would hold a sync forever; this rule ends it.
 *
 * Contract: `busy()` names the outstanding command (any value that changes when one finishes and another
 * starts) or null when none is outstanding (local work, or idle: never judged). `onStall` is called once,
 * then the watch stops. The timer never keeps the process alive.
 */

export interface StallRule {
  /** The window, in ms. */
  windowMs: number;
  /** Bytes the server must send within one window while a command is outstanding and unfinished. */
  minBytes: number;
}

/** Five minutes (imapflow's inactivity timeout) for 64 KiB: a link slower than about 220 bytes/s is given up. */
export const DEFAULT_STALL: StallRule = { windowMs: 5 * 60_000, minBytes: 64 * 1024 };

export interface Stalled {
  bytes: number;
  ms: number;
}

export class StallWatch {
  private bytes = 0;
  private since = Date.now();
  private last: unknown = null;
  private timer: NodeJS.Timeout | null;

  constructor(
    private readonly rule: StallRule,
    private readonly busy: () => unknown,
    private readonly onStall: (s: Stalled) => void,
  ) {
    this.timer = setInterval(() => this.check(), Math.max(10, Math.min(rule.windowMs / 4, 5_000)));
    this.timer.unref();
  }

  /** Counts bytes received; enough of them make progress. */
  data(n: number): void {
    this.bytes += n;
    if (this.bytes >= this.rule.minBytes) this.progress();
  }

  private progress(): void {
    this.bytes = 0;
    this.since = Date.now();
  }

  private check(): void {
    const now = this.busy();
    if (now === null || now === undefined || now !== this.last) {
      this.last = now ?? null;
      this.progress();
      return;
    }
    const ms = Date.now() - this.since;
    if (ms < this.rule.windowMs) return;
    const s = { bytes: this.bytes, ms };
    this.stop();
    this.onStall(s);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}

/** "sent 12 bytes in 31 s while a command was outstanding (the rule: 65536 bytes or an answer every 30 s)". */
export function stallText(s: Stalled, rule: StallRule): string {
  return `sent ${s.bytes} bytes in ${Math.round(s.ms / 1000)} s while a command was outstanding (the rule: ${rule.minBytes} bytes or a finished answer every ${Math.round(rule.windowMs / 1000)} s)`;
}
