/**
 * The listener names of a server and their default ports, apart from server/mailroom.ts so that `serve`'s
 * option parsing and the primary of `serve --workers N` know them without loading the protocol servers.
 */
export const LISTENERS = ['imap', 'imaps', 'pop3', 'pop3s', 'lmtp', 'smtp', 'submission', 'submissions', 'http', 'https', 'managesieve'] as const;
export type ListenerName = (typeof LISTENERS)[number];

/** Unprivileged defaults used by `mailroom serve` (the standard ports plus a prefix; see README). */
export const DEFAULT_PORTS: Record<ListenerName, number> = {
  imap: 1143,
  imaps: 1993,
  pop3: 1110,
  pop3s: 1995,
  lmtp: 2424,
  smtp: 2525,
  submission: 1587,
  submissions: 1465,
  http: 8080,
  https: 8443,
  managesieve: 4190,
};
