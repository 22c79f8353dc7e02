/**
 * Session state (RFC 9051 section 3) and the contracts between the connection, the dispatcher and command
 * handlers: what a handler may do with the session, the shape of a dispatch-table row, and helpers that
 * throw when called outside the state the table allows (the dispatcher checks states first).
 */
import type { MemoryBudget } from '../lib/memory-budget.js';
import type { SecureContext } from 'node:tls';
import type { Authenticator } from '../auth/authenticator.js';
import type { Logger } from '../lib/logger.js';
import type { Mailbox, User } from '../store/types.js';
import type { MailStore } from '../store/mail.js';
import type { Directory } from '../store/directory.js';
import type { QuotaStore } from '../store/quota.js';
import type { AclStore } from '../store/acl.js';
import type { Args } from '../imap/grammar/args.js';
import type { ConnectionCounter } from '../lib/connection-limit.js';
import { no, type Completion } from './errors.js';
import { okLine } from './responses.js';
import type { MailboxView, UpdateSink } from './view.js';

/** RFC 9051 section 3: the session states. A selected mailbox exists only in the 'selected' state. */
export type SessionState =
  | { kind: 'not-authenticated' }
  | { kind: 'authenticated'; user: User }
  | { kind: 'selected'; user: User; view: MailboxView }
  | { kind: 'logout' };

export type StateKind = SessionState['kind'];

export interface ImapLimits {
  appendLimit: number;
  maxLineLength: number;
  idleTimeoutMs: number;
  /** Time from connect (or UNAUTHENTICATE) to log in; then BYE. */
  loginTimeoutMs: number;
  maxConnectionsPerIp: number;
  maxConnectionsPerUser: number;
  allowPlaintextAuthOffLoopback: boolean;
}

/** What is shared by all connections of one service instance (no module state). */
export interface ServiceContext {
  store: MailStore;
  /** User lookup for IMAP URLs naming another user (URLAUTH, RFC 4467); null: only the user's own URLs resolve. */
  directory: Pick<Directory, 'getUser'> | null;
  /** Per-user quotas (RFC 9208, commands/quota.ts); absent or null: no QUOTA capability. */
  quota?: QuotaStore | null;
  /** Access control lists and shared mailboxes (namespaces.ts); absent or null: personal mailboxes only. */
  acl?: AclStore | null;
  auth: Authenticator;
  logger: Logger;
  hostname: string;
  secureContext: SecureContext | null;
  limits: ImapLimits;
  /** Literal bytes all connections of the service may hold at once (see Framer); absent: no shared limit. */
  literalBudget?: MemoryBudget;
  /**
   * Live sessions per user and address (for maxConnectionsPerUser), under the key userKey(id, address): LOGIN/AUTHENTICATE
   * admit one, the connection releases it when the session leaves that user (UNAUTHENTICATE, close).
   */
  userSessions: ConnectionCounter;
}

/**
 * The key of a user's sessions from one address in ServiceContext.userSessions: the limit is per user and
 * address (Dovecot's mail_max_userip_connections), so one runaway client cannot lock its user out everywhere.
 */
export function userKey(id: number, address: string): string {
  return `imap-user/${id}/${address}`;
}

/** The connection as command handlers see it. */
export interface Session extends UpdateSink {
  readonly id: string;
  readonly remoteAddress: string;
  readonly secure: boolean;
  readonly compressed: boolean;
  readonly logger: Logger;
  readonly state: SessionState;
  /** Enabled extensions (upper-case): CONDSTORE, QRESYNC, IMAP4REV2, UTF8=ACCEPT. */
  readonly enabled: ReadonlySet<string>;
  /** Mailbox names and quoted strings may be UTF-8 (IMAP4rev2 or UTF8=ACCEPT enabled). */
  readonly utf8: boolean;
  enable(cap: string): void;
  setState(state: SessionState): void;
  /** Writes, awaiting drain when the socket buffer is full (for large literals); throws ConnectionClosedError once the connection has closed. */
  sendAsync(buf: Buffer): Promise<void>;
  cork(): void;
  uncork(): void;
  /** The next line the client sends (AUTHENTICATE responses, IDLE's DONE); rejects when the connection ends. */
  readLine(): Promise<Buffer>;
  capabilities(): string[];
  /** Decodes a mailbox name as sent (modified UTF-7 unless utf8); throws ImapError NO when malformed. */
  decodeMailbox(raw: string): string;
  /** Encodes a mailbox name for the wire (modified UTF-7 unless utf8). */
  encodeMailbox(name: string): string;
  startTls(): Promise<void>;
  startCompress(): void;
  /** Ends the connection after pending output. */
  end(): void;
}

/** Thrown by readLine() when the connection ends; the dispatcher then replies to nobody and logs nothing. */
export class ConnectionClosedError extends Error {
  constructor() {
    super('connection closed');
    this.name = 'ConnectionClosedError';
  }
}

export interface CommandContext {
  readonly tag: string;
  /** The command was prefixed with UID. */
  readonly uid: boolean;
  readonly name: string;
  readonly service: ServiceContext;
  readonly session: Session;
}

/**
 * How a command relates to message sequence numbers (RFC 9051 5.5 and 7.5.1; Dovecot's
 * COMMAND_FLAG_USES_SEQS / COMMAND_FLAG_BREAKS_SEQS): 'uses' commands take sequence numbers, so no
 * EXPUNGE may be sent after them; 'breaks' commands change the numbering themselves (or end the selected
 * state); 'none' neither. The dispatcher's pending-update rule for each value is in dispatch.ts.
 */
export type SeqUsage = 'uses' | 'breaks' | 'none';

/** One row of the dispatch table; the dispatcher reads every field. */
export interface CommandSpec<A> {
  states: readonly StateKind[];
  seq: SeqUsage;
  parse(args: Args): A;
  run(ctx: CommandContext, args: A): Promise<Completion>;
}

export type AnyCommand = CommandSpec<unknown>;

export function defineCommand<A>(spec: CommandSpec<A>): AnyCommand {
  return spec as unknown as AnyCommand;
}

export const ANY: readonly StateKind[] = ['not-authenticated', 'authenticated', 'selected'];
export const NOT_AUTH: readonly StateKind[] = ['not-authenticated'];
export const AUTH: readonly StateKind[] = ['authenticated', 'selected'];
export const SELECTED: readonly StateKind[] = ['selected'];

/**
 * A CONDSTORE-enabling command (RFC 7162 3.1: FETCH MODSEQ or CHANGEDSINCE, STORE UNCHANGEDSINCE, SEARCH
 * MODSEQ, ENABLE): turns CONDSTORE on, and the first time, with a mailbox selected, sends its
 * "* OK [HIGHESTMODSEQ n]" as part of the command's response (as Dovecot does).
 */
export function enableCondstore(session: Session): void {
  if (session.condstore) return;
  session.enable('CONDSTORE');
  const st = session.state;
  if (st.kind === 'selected') session.send(Buffer.from(okLine(`HIGHESTMODSEQ ${st.view.highestModseq}`, 'Highest')));
}

/** The view of the selected mailbox; throws when not selected (the dispatcher checks states first). */
export function selectedView(ctx: CommandContext): MailboxView {
  const st = ctx.session.state;
  if (st.kind !== 'selected') throw new Error('no mailbox selected');
  return st.view;
}

export function currentUser(ctx: CommandContext): User {
  const st = ctx.session.state;
  if (st.kind !== 'authenticated' && st.kind !== 'selected') throw new Error('not authenticated');
  return st.user;
}

/** The current user's mailbox `name` (already decoded), or NO [NONEXISTENT] (RFC 5530) when there is none. */
export async function existingMailbox(ctx: CommandContext, name: string): Promise<Mailbox> {
  const mb = await ctx.service.store.getMailbox(currentUser(ctx).id, name);
  if (!mb) throw no('Mailbox does not exist', 'NONEXISTENT');
  return mb;
}
