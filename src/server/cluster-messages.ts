/**
 * The messages between the primary process of `serve --workers N` (cluster.ts) and its workers
 * (cluster-worker.ts), sent over Node's cluster IPC channel as plain JSON. Every type starts with "mr:" so
 * other users of the channel (Node's own cluster messages, prom-client's metrics requests) are told apart.
 *
 * Worker -> primary:
 *   mr:hello                    asks for its role and the other workers' expunge holds (answered by mr:welcome)
 *   mr:ready   listeners        the worker's listeners accept connections (ports as bound)
 *   mr:watch   mailboxes users  the mailboxes and users this worker's sessions start (on) or stop (off)
 *                               watching (cluster-watch.ts)
 *   mr:events  evs lists        changes committed by this worker within a few milliseconds that another
 *                               worker watches (relayed to those workers): message wake-ups (evs) and mailbox
 *                               list changes (lists, in commit order, each with its SQLite log seq)
 *   mr:holds   floors           this worker's expunge holds, [mailboxId, floor] (store/holds.ts)
 *   mr:lock    id userId        take the POP3 maildrop lock of a user (answered by mr:locked)
 *   mr:unlock  userId           release it
 *   mr:kick                     something was queued: the worker running the outbound queue should look
 *   mr:metrics id               the metrics of every worker, aggregated (answered by mr:metricsText)
 *   mr:lease   asks             more connection slots per key (cluster-leases.ts; answered by mr:grant)
 *   mr:return  returns reclaim  unused slots given back (reclaim: the answer to mr:reclaim)
 *   mr:authFail id keys         count a failed login (cluster-auth.ts; answered by mr:authCounts with the id)
 *   mr:authClear key            a success cleared this failure count
 * Primary -> worker:
 *   mr:welcome leader holds watched  the answer to mr:hello (watched: what the other workers watch)
 *   mr:watched mailboxes users  keys the other workers start (on) or stop (off) watching, in all
 *   mr:events  evs lists        changes committed by another worker, of keys this worker watches
 *   mr:holds   floors           the other workers' lowest floor per held mailbox
 *   mr:locked  id ok            the answer to mr:lock (ok false: another session holds it)
 *   mr:leader                   this worker now runs what runs once (outbound queue, WAL checkpoints)
 *   mr:kick                     (to the leader) run the outbound queue soon
 *   mr:metricsText id text      the answer to mr:metrics (text null when aggregation failed)
 *   mr:grant   grants           connection slots leased, per key (0: none free, the connection is refused)
 *   mr:reclaim keys             give back the unused slots of these keys
 *   mr:authCounts id n entries  failure counts: the answer to mr:authFail, or (id null) another worker's news
 */
import type { LeaseToPrimary, LeaseToWorker } from './cluster-leases.js';
import type { AuthToPrimary, AuthToWorker } from './cluster-auth.js';
import type { WatchSets, WatchToPrimary, WatchToWorker } from './cluster-watch.js';

export interface ListenerReport {
  name: string;
  host: string;
  port: number;
  tls: string;
}

export type Floors = Array<[number, number]>;

export type ToPrimary =
  | { t: 'mr:hello' }
  | { t: 'mr:ready'; listeners: ListenerReport[] }
  | WatchToPrimary
  | { t: 'mr:holds'; floors: Floors }
  | { t: 'mr:lock'; id: number; userId: number }
  | { t: 'mr:unlock'; userId: number }
  | { t: 'mr:kick' }
  | { t: 'mr:metrics'; id: number }
  | LeaseToPrimary
  | AuthToPrimary;

export type ToWorker =
  | { t: 'mr:welcome'; leader: boolean; holds: Floors; watched: WatchSets }
  | WatchToWorker
  | { t: 'mr:holds'; floors: Floors }
  | { t: 'mr:locked'; id: number; ok: boolean }
  | { t: 'mr:leader' }
  | { t: 'mr:kick' }
  | { t: 'mr:metricsText'; id: number; text: string | null }
  | LeaseToWorker
  | AuthToWorker;

/**
 * True for a message of ours (the channel also carries Node's and prom-client's): its type starts with
 * `prefix` ("mr:" here, "ma:" for the connections of cluster-accept.ts).
 */
export function isOurs<T extends { t: string }>(m: unknown, prefix = 'mr:'): m is T {
  return typeof m === 'object' && m !== null && typeof (m as { t?: unknown }).t === 'string' && (m as { t: string }).t.startsWith(prefix);
}

/** Environment variable carrying a worker's slot number (1..N; a restarted worker keeps its slot). */
export const WORKER_SLOT_ENV = 'MAILROOM_WORKER';
