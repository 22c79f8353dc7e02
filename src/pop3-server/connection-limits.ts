/** The limits of one POP3 connection (connection.ts). */
/**
 * Longest line accepted at all: AUTH continuation responses (base64 of a PLAIN message with a long
 * password) may exceed the 255-octet command limit of RFC 2449 section 4, which applies to commands only,
 * and so may an AUTH command with an initial response (see withinLineLimit).
 */
export const POP3_MAX_AUTH_LINE = 8192;
/** Commands parsed but not yet run; beyond this the socket stops being read until the queue drains. */
export const MAX_QUEUED_LINES = 64;
/** Malformed, unknown or misplaced commands tolerated per connection before it is closed. */
export const MAX_BAD_COMMANDS = 20;
/** Failed logins per connection before it is closed (the Authenticator throttles across connections). */
export const MAX_AUTH_FAILURES = 5;
/**
 * Reply bytes queued for the socket beyond which they go to the kernel at once and a writer waits for the
 * socket to drain (the stream's own high-water mark, 16 KiB, is less than an average message: waiting at it
 * cost a drain wait, its listeners and a timer per RETR). One read chunk.
 */
export const OUT_HIGH_WATER = 256 * 1024;
/** After a polite end, how long to wait for the peer to close before destroying the socket. */
export const CLOSE_GRACE_MS = 5000;
