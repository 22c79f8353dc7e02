/**
 * POP3 or IMAP? A pure recommendation from a few answers, with the reasons (used by `client advise`).
 */
export interface AdviceAnswers {
  /** How many devices read this mailbox. */
  devices: number;
  /** Is the network connection reliable (always online)? */
  reliable: boolean;
  /** Is the storage on the server limited (small quota)? */
  limitedServerStorage: boolean;
  /** Is the local storage limited (small disk, phone)? */
  limitedLocalStorage: boolean;
  /** Does the provider keep backups of the server mailbox? */
  serverBackups: boolean;
}

export interface Advice {
  protocol: 'imap' | 'pop3';
  /** Suggested account options for `client account add`. */
  options: string[];
  reasons: string[];
  scores: { imap: number; pop3: number };
}

export function advise(a: AdviceAnswers): Advice {
  let imap = 0;
  let pop3 = 0;
  const reasons: string[] = [];
  if (a.devices > 1) {
    imap += 3;
    reasons.push(`${a.devices} devices: IMAP keeps mail and its read/flag state on the server, so every device sees the same mailbox; POP3 would scatter messages across devices.`);
  } else {
    pop3 += 1;
    reasons.push('one device: POP3 is enough to have all mail in one place.');
  }
  if (a.reliable) {
    imap += 1;
    reasons.push('a reliable connection suits IMAP, which fetches bodies on demand.');
  } else {
    pop3 += 2;
    reasons.push('an unreliable connection favours POP3 (everything downloaded and readable offline); with IMAP, cache bodies locally (--cache all).');
  }
  if (a.limitedServerStorage) {
    pop3 += 2;
    reasons.push('limited server storage: POP3 removes mail from the server after download.');
  }
  if (a.limitedLocalStorage) {
    imap += 2;
    reasons.push('limited local storage: IMAP with a headers-only or recent-days cache keeps the device light (client cache prune).');
  }
  if (a.serverBackups) {
    imap += 1;
    reasons.push('the provider backs up the server: mail left on the server with IMAP is safe.');
  } else {
    pop3 += 1;
    reasons.push('no server backups: keep a local copy (POP3 download, or IMAP with --cache all) and back up the profile directory.');
  }
  const protocol = imap >= pop3 ? 'imap' : 'pop3';
  const options: string[] = [];
  if (protocol === 'imap') {
    options.push(a.limitedLocalStorage ? '--cache headers' : a.reliable ? '--cache recent:30' : '--cache all');
  } else {
    if (a.devices > 1 || !a.serverBackups) options.push('--leave-on-server --keep-days 14');
  }
  return { protocol, options, reasons, scores: { imap, pop3 } };
}
