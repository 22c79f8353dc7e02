/**
 * The Maildir info letters (the ":2," suffix of a file name, cr.yp.to/proto/maildir.html) and the IMAP flags
 * they stand for. One table for everything that reads or writes Maildir names (the client's local store,
 * the Maildir import). "P" (passed) is the $Forwarded keyword, as Dovecot maps it.
 */

/** IMAP flag -> Maildir letter. */
export const MAILDIR_FLAG_LETTERS: Readonly<Record<string, string>> = {
  '\\Draft': 'D',
  '\\Flagged': 'F',
  $Forwarded: 'P',
  '\\Answered': 'R',
  '\\Seen': 'S',
  '\\Deleted': 'T',
};

/** Maildir letter -> IMAP flag. */
export const MAILDIR_LETTER_FLAGS: Readonly<Record<string, string>> = Object.fromEntries(
  Object.entries(MAILDIR_FLAG_LETTERS).map(([flag, letter]) => [letter, flag]),
);
