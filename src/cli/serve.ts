/**
 * `mailroom serve`: runs every listener in the foreground. Flag names are a contract:
 *   --data DIR --host ADDR --imap-port N --imaps-port N --pop3-port N --pop3s-port N --lmtp-port N
 *   --smtp-port N --submission-port N --submissions-port N --tls-cert FILE --tls-key FILE --lmtp-host ADDR
 * LMTP binds --lmtp-host (default 127.0.0.1) rather than --host: it accepts mail without authentication.
 * An absent flag means the listener's default port, `off` turns it off, 0 picks a free port (the log says
 * which). A JSON config file (--config) may set the same keys ("imap-port" or "imapPort"); flags win.
 * On an empty store it creates a first user and prints the address, a generated password and client settings once.
 * Prints one line containing "ready" when every listener accepts connections; SIGINT/SIGTERM stop it cleanly.
 * SIGHUP re-reads --tls-cert/--tls-key (certificate renewal): new connections get the new certificate,
 * open sessions stay. A file that cannot be read is logged and the old certificate stays in use.
 * Outbound: --smarthost-tls verify|none (default verify: STARTTLS required, certificate checked against the
 * system CAs and --smarthost-ca FILE), --queue-allow-internal lets direct MX delivery reach private,
 * loopback and link-local addresses; --submission-sent-copy on|off is the default for keeping a Sent copy of
 * submitted mail (per user: `mailroom user set ADDRESS --sent-copy on|off`).
 * Mail authentication: --mx-checks on|off (SPF/DKIM/DMARC/ARC on the SMTP MX, default on), --dns-server
 * HOST:PORT (repeatable, config `dns-servers`: a list) sends every DNS look-up there.
 * Limits: --max-connections-per-ip N (loopback never counted), --max-connections-per-user N, --imap-max-line N,
 * --max-message-size N (APPENDLIMIT and SIZE), --smtp-max-recipients N, --imap-idle-timeout SECONDS,
 * --pop3-idle-timeout SECONDS; a value below the minimum (RFC minimums for autologout, line length and
 * recipients) is refused with a CliError naming the flag.
 * Quotas: --quota-storage SIZE (K/M/G/T suffixes) and --quota-messages N are the limits of users without their
 * own (`mailroom user quota`); --quota-full-temporary on answers 452 4.2.2 over quota instead of 552 5.2.2.
 * HTTP (JMAP, web interface): --http-port N (default 8080), --https-port N (default 8443, the server's
 * certificate); --cors-origins LIST allows those origins cross-origin access (default none).
 * Processes: --workers N (config `workers`, default the number of CPUs) runs N worker processes sharing the
 * listeners and the store under a primary (server/cluster.ts); 1 is one process serving everything.
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import cluster from 'node:cluster';
import type { Command } from 'commander';
import { Option } from 'commander';
import { CliError, resolveDataDir } from './common.js';
import { quotaConfig } from './quota.js';
import { parseDnsServer } from '../lib/dns.js';
import { addSieveServeOptions, addSpamServeOptions, sieveServeSettings, spamServeSettings } from './serve-options.js';
import type { SpamSettings } from '../spam/index.js';
import type { SieveSettings } from '../sieve/stage.js';
import { DEFAULT_PORTS, LISTENERS, type ListenerName } from '../server/listeners.js';
import type { MailroomLimits, MailroomOptions, MailroomQuota } from '../server/mailroom.js';
import type { Logger } from '../lib/logger.js';
import { textLogger, type LogLevel } from '../server/log.js';
import { availableParallelism } from 'node:os';
import { PREPARE_ENV } from './serve-prepare.js';
import { tuneHeap, tuneWorkerHeap } from '../server/heap.js';

export interface ServeConfig {
  data?: string;
  store?: string;
  host?: string;
  /** Where LMTP listens; default 127.0.0.1. */
  lmtpHost: string;
  ports: Record<ListenerName, number | 'off'>;
  tlsCert?: string;
  tlsKey?: string;
  smarthost?: { host: string; port: number };
  smarthostTls: 'verify' | 'none';
  /** PEM file with extra CA certificates for the smart host. */
  smarthostCa?: string;
  queueAllowInternal: boolean;
  submissionSentCopy: boolean;
  firstUser: string;
  logFormat: 'text' | 'json';
  logLevel: LogLevel;
  hostname?: string;
  /** Operator limits (--max-connections-per-ip ...); absent ones keep the defaults of lib/limits.ts. */
  limits: MailroomLimits;
  /** Default quotas and the over-quota reply (--quota-storage, --quota-messages, --quota-full-temporary). */
  quota: MailroomQuota;
  /** SPF/DKIM/DMARC/ARC checks on the SMTP MX (--mx-checks, default on). */
  mxChecks: boolean;
  /** --dns-server HOST:PORT (repeatable; config `dns-servers`): every DNS look-up goes there. */
  dnsServers?: string[];
  /** Origins allowed cross-origin access to the HTTP API (--cors-origins, comma-separated or a JSON array). */
  corsOrigins: string[];
  /** JMAP: seconds every EmailSubmission is held so it can be canceled (--jmap-send-delay, config jmap-send-delay). */
  jmapSendDelaySec?: number;
  /** Sieve: global scripts and script quotas (sieve-before, sieve-after, sieve-global, sieve-max-*, sieve-quota). */
  sieve?: SieveSettings;
  /** Spam filter: --spam, --spam-threshold, --spam-min-trained, --spam-junk-mailbox, --rspamd, --rspamd-password. */
  spam?: Partial<SpamSettings>;
  /** Worker processes (--workers, default the number of CPUs); 1 serves everything in this process. */
  workers: number;
}

/**
 * The limit flags/keys: name, the MailroomLimits field, the smallest value allowed (with the reason when an
 * RFC sets it) and the unit factor (the idle timeouts are given in seconds and kept in ms).
 */
const LIMIT_KEYS: ReadonlyArray<{ name: string; field: keyof MailroomLimits; min: number; why?: string; scale: number; help: string }> = [
  { name: 'max-connections-per-ip', field: 'maxConnectionsPerIp', min: 1, scale: 1, help: 'concurrent connections per remote address on each listener; loopback is not counted (default 50)' },
  { name: 'max-connections-per-user', field: 'maxConnectionsPerUser', min: 1, scale: 1, help: 'concurrent IMAP sessions of one user from one address (default 100)' },
  { name: 'imap-max-line', field: 'imapMaxLine', min: 8192, why: 'RFC 7162 section 4 asks for at least 8192 octets', scale: 1, help: 'longest IMAP command line in octets, literals excluded (default 65536)' },
  { name: 'max-message-size', field: 'maxMessageSize', min: 1024, scale: 1, help: 'largest message in octets: IMAP APPENDLIMIT and SMTP/LMTP SIZE (default 67108864)' },
  { name: 'smtp-max-recipients', field: 'smtpMaxRecipients', min: 100, why: 'RFC 5321 section 4.5.3.1.8 requires at least 100', scale: 1, help: 'recipients per SMTP/LMTP/submission transaction (default 1000)' },
  { name: 'imap-idle-timeout', field: 'imapIdleTimeoutMs', min: 1800, why: 'RFC 9051 section 5.4 requires at least 30 minutes', scale: 1000, help: 'IMAP autologout in seconds, at least 1800 (default 1800)' },
  { name: 'pop3-idle-timeout', field: 'pop3IdleTimeoutMs', min: 600, why: 'RFC 1939 section 3 requires at least 10 minutes', scale: 1000, help: 'POP3 autologout in seconds, at least 600 (default 600)' },
];

/** Parses a whole number no smaller than `min`; the error names the flag and the reason for the minimum. */
export function parseLimit(value: unknown, what: string, min: number, why?: string): number {
  const s = String(value).trim();
  if (!/^\d{1,15}$/.test(s)) throw new CliError(`invalid ${what}: ${String(value)} (expected a whole number)`);
  const n = Number(s);
  if (n < min) throw new CliError(`invalid ${what}: ${n} is below the minimum ${min}${why ? ` (${why})` : ''}`);
  return n;
}

/** Parses an on/off flag value (true/false/yes/no/1/0 too). */
export function parseOnOff(value: unknown, what: string): boolean {
  const s = String(value).trim().toLowerCase();
  if (value === true || ['on', 'true', 'yes', '1'].includes(s)) return true;
  if (value === false || ['off', 'false', 'no', '0'].includes(s)) return false;
  throw new CliError(`invalid ${what}: ${String(value)} (expected on or off)`);
}

/** Parses a port flag value: a number 0-65535 or "off". */
export function parsePort(value: unknown, what: string): number | 'off' {
  if (value === 'off' || value === false) return 'off';
  const s = String(value).trim();
  if (!/^\d{1,5}$/.test(s) || Number(s) > 65535) throw new CliError(`invalid ${what}: ${String(value)} (expected 0-65535 or off)`);
  return Number(s);
}

export function parseHostPort(value: string, what: string): { host: string; port: number } {
  const m = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(value.trim());
  if (!m || Number(m[2]) > 65535 || Number(m[2]) === 0) throw new CliError(`invalid ${what}: ${value} (expected HOST:PORT)`);
  return { host: m[1]!, port: Number(m[2]) };
}

/** Parses jmap-send-delay: whole seconds, 0 to 30 days (the JMAP maxDelayedSend). */
function parseSendDelay(v: unknown): number | undefined {
  if (v === undefined || v === null) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 30 * 24 * 3600) throw new CliError(`invalid --jmap-send-delay: ${String(v)} (expected whole seconds, at most 2592000)`);
  return n;
}

/** Parses cors-origins: a list (config) or comma-separated string of origins such as https://mail.example.org. */
export function parseOrigins(value: unknown): string[] {
  if (value === undefined || value === null || value === '') return [];
  const items = Array.isArray(value) ? value.map(String) : String(value).split(',');
  const out: string[] = [];
  for (const raw of items) {
    const o = raw.trim();
    if (o === '') continue;
    let u: URL;
    try {
      u = new URL(o);
    } catch {
      throw new CliError(`invalid --cors-origins entry: ${o} (expected an origin such as https://mail.example.org)`);
    }
    if ((u.protocol !== 'https:' && u.protocol !== 'http:') || u.origin !== o.replace(/\/$/, '')) {
      throw new CliError(`invalid --cors-origins entry: ${o} (expected scheme://host[:port] only)`);
    }
    out.push(u.origin);
  }
  return out;
}

function normKey(k: string): string {
  return k.replace(/[-_]/g, '').toLowerCase();
}

/** Merges config-file values and flags (flags win) into a ServeConfig. */
export function buildServeConfig(flags: Record<string, unknown>, file: Record<string, unknown>): ServeConfig {
  const fileVals = new Map<string, unknown>();
  for (const [k, v] of Object.entries(file)) fileVals.set(normKey(k), v);
  const get = (name: string): unknown => flags[name] ?? fileVals.get(normKey(name));
  const str = (name: string): string | undefined => {
    const v = get(name);
    return v === undefined || v === null ? undefined : String(v);
  };
  const ports = {} as Record<ListenerName, number | 'off'>;
  for (const l of LISTENERS) {
    const v = get(`${l}Port`);
    ports[l] = v === undefined ? DEFAULT_PORTS[l] : parsePort(v, `--${l}-port`);
  }
  const tlsCert = str('tlsCert');
  const tlsKey = str('tlsKey');
  if ((tlsCert === undefined) !== (tlsKey === undefined)) throw new CliError('--tls-cert and --tls-key go together');
  const logFormat = (str('logFormat') ?? 'text') as ServeConfig['logFormat'];
  if (logFormat !== 'text' && logFormat !== 'json') throw new CliError(`invalid --log-format: ${logFormat}`);
  const logLevel = (str('logLevel') ?? 'info') as LogLevel;
  if (!['debug', 'info', 'warn', 'error'].includes(logLevel)) throw new CliError(`invalid --log-level: ${logLevel}`);
  const smart = str('smarthost');
  const smarthostTls = (str('smarthostTls') ?? 'verify') as ServeConfig['smarthostTls'];
  if (smarthostTls !== 'verify' && smarthostTls !== 'none') throw new CliError(`invalid --smarthost-tls: ${smarthostTls} (expected verify or none)`);
  const allowInternal = get('queueAllowInternal');
  const sentCopy = get('submissionSentCopy');
  const cfg: ServeConfig = {
    ports,
    smarthostTls,
    queueAllowInternal: allowInternal === undefined ? false : parseOnOff(allowInternal, '--queue-allow-internal'),
    submissionSentCopy: sentCopy === undefined ? true : parseOnOff(sentCopy, '--submission-sent-copy'),
    firstUser: (str('firstUser') ?? 'admin@localhost').toLowerCase(),
    lmtpHost: str('lmtpHost') ?? '127.0.0.1',
    logFormat,
    logLevel,
    limits: {},
    quota: quotaConfig(get, parseOnOff),
    mxChecks: get('mxChecks') === undefined ? true : parseOnOff(get('mxChecks'), '--mx-checks'),
    corsOrigins: parseOrigins(get('corsOrigins')),
    ...(parseSendDelay(get('jmapSendDelay')) ? { jmapSendDelaySec: parseSendDelay(get('jmapSendDelay'))! } : {}),
    workers: get('workers') === undefined ? availableParallelism() : parseLimit(get('workers'), '--workers', 1),
  };
  const dnsServers = get('dnsServer') ?? fileVals.get(normKey('dns-servers'));
  if (dnsServers !== undefined && dnsServers !== null) {
    const list = (Array.isArray(dnsServers) ? dnsServers : [dnsServers]).map(String);
    for (const s of list) {
      try {
        parseDnsServer(s);
      } catch {
        throw new CliError(`invalid --dns-server: ${s} (expected HOST:PORT)`);
      }
    }
    if (list.length) cfg.dnsServers = list;
  }
  for (const k of LIMIT_KEYS) {
    const v = get(k.name.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase()));
    if (v !== undefined && v !== null) cfg.limits[k.field] = parseLimit(v, `--${k.name}`, k.min, k.why) * k.scale;
  }
  const sieve = sieveServeSettings(get);
  if (sieve) cfg.sieve = sieve;
  const spam = spamServeSettings(get);
  if (spam) cfg.spam = spam;
  const data = str('data');
  if (data !== undefined) cfg.data = data;
  const store = str('store') ?? process.env['MAILROOM_STORE'];
  if (store !== undefined) cfg.store = store;
  const host = str('host');
  if (host !== undefined) cfg.host = host;
  if (tlsCert !== undefined && tlsKey !== undefined) {
    cfg.tlsCert = tlsCert;
    cfg.tlsKey = tlsKey;
  }
  if (smart !== undefined) cfg.smarthost = parseHostPort(smart, '--smarthost');
  const smarthostCa = str('smarthostCa');
  if (smarthostCa !== undefined) cfg.smarthostCa = smarthostCa;
  const hostname = str('hostname');
  if (hostname !== undefined) cfg.hostname = hostname;
  return cfg;
}

export function registerServeCommand(program: Command): void {
  const cmd = program
    .command('serve')
    .description('run the mail server (IMAP, POP3, LMTP, SMTP, submission) in the foreground')
    .option('--config <file>', 'JSON config file with the same keys as the flags')
    .option('--host <addr>', 'address to listen on (default 127.0.0.1)')
    .option('--lmtp-host <addr>', 'address the LMTP listener binds (default 127.0.0.1, whatever --host is)');
  for (const l of LISTENERS) cmd.addOption(new Option(`--${l}-port <n>`, `${l} port, 0 = free port, off = disabled (default ${DEFAULT_PORTS[l]})`));
  cmd
    .option('--tls-cert <file>', 'PEM certificate (default: self-signed, generated into the data directory)')
    .option('--tls-key <file>', 'PEM private key')
    .option('--smarthost <host:port>', 'relay all outbound mail through this SMTP server')
    .option('--smarthost-tls <mode>', 'verify (default: STARTTLS required, certificate checked) or none')
    .option('--smarthost-ca <file>', 'PEM CA certificate(s) trusted for the smart host besides the system CAs')
    .option('--queue-allow-internal', 'let direct MX delivery connect to private, loopback and link-local addresses')
    .option('--submission-sent-copy <on|off>', 'keep a copy of submitted mail in the Sent folder (default on; per user: user set --sent-copy)')
    .option('--quota-storage <size>', 'default storage limit per user, e.g. 1G (K/M/G/T are powers of 1024; default none; per user: user quota)')
    .option('--quota-messages <n>', 'default message count limit per user (default none; per user: user quota)')
    .option('--quota-full-temporary <on|off>', 'over quota, LMTP/SMTP answer 452 4.2.2 (try later) instead of 552 5.2.2 (default off)')
    .option('--hostname <name>', 'name used in greetings and Received headers, and the authserv-id of Authentication-Results')
    .option('--mx-checks <on|off>', 'SPF, DKIM, DMARC and ARC checks on the SMTP MX (default on)')
    .option('--dns-server <host:port>', 'send every DNS look-up to this server (repeatable; default the system resolver)', (v: string, prev: string[] | undefined) => [...(prev ?? []), v])
    .option('--cors-origins <list>', 'comma-separated origins allowed cross-origin access to the HTTP API (default none)')
    .option('--jmap-send-delay <seconds>', 'hold every JMAP EmailSubmission this long, so it can be canceled (default 0)')
    .option('--workers <n>', 'worker processes sharing the listeners and the store (default: the number of CPUs; 1 = one process)')
    .option('--first-user <address>', 'address of the user created on an empty store (default admin@localhost)')
    .option('--log-format <fmt>', 'text or json', undefined)
    .option('--log-level <level>', 'debug, info, warn or error', undefined);
  for (const k of LIMIT_KEYS) cmd.addOption(new Option(`--${k.name} <n>`, k.help));
  addSieveServeOptions(cmd);
  addSpamServeOptions(cmd);
  cmd
    .action(async (_o: unknown, command: Command) => {
      const flags = command.optsWithGlobals<Record<string, unknown>>();
      let file: Record<string, unknown> = {};
      if (typeof flags['config'] === 'string') {
        try {
          file = JSON.parse(await readFile(flags['config'], 'utf8')) as Record<string, unknown>;
        } catch (e) {
          throw new CliError(`cannot read config ${flags['config']}: ${(e as Error).message}`);
        }
      }
      await runServe(buildServeConfig(flags, file));
    });
}

/** What `serve` hands to createMailroom for this config (exported so the bind addresses can be checked). */
export function mailroomOptions(cfg: ServeConfig, dataDir: string, logger: Logger): MailroomOptions {
  return {
    dataDir,
    ...(cfg.store ? { storeUrl: cfg.store } : {}),
    host: cfg.host ?? '127.0.0.1',
    lmtpHost: cfg.lmtpHost,
    ports: cfg.ports,
    ...(cfg.tlsCert && cfg.tlsKey ? { tls: { certFile: cfg.tlsCert, keyFile: cfg.tlsKey } } : {}),
    ...(cfg.hostname ? { hostname: cfg.hostname } : {}),
    logger,
    ...(cfg.smarthost ? { outbound: outboundOptions(cfg, cfg.smarthost) } : cfg.queueAllowInternal ? { outbound: { allowInternal: true } } : {}),
    ...(cfg.submissionSentCopy ? {} : { delivery: { sentCopy: false } }),
    limits: cfg.limits,
    quota: cfg.quota,
    ...(cfg.sieve ? { sieve: cfg.sieve } : {}),
    ...(cfg.spam ? { spam: cfg.spam } : {}),
    mailAuth: { checks: cfg.mxChecks, ...(cfg.dnsServers ? { dnsServers: cfg.dnsServers } : {}) },
    ...(cfg.corsOrigins.length || cfg.jmapSendDelaySec
      ? { http: { ...(cfg.corsOrigins.length ? { corsOrigins: cfg.corsOrigins } : {}), ...(cfg.jmapSendDelaySec ? { sendDelaySec: cfg.jmapSendDelaySec } : {}) } }
      : {}),
  };
}

function outboundOptions(cfg: ServeConfig, smarthost: { host: string; port: number }): NonNullable<MailroomOptions['outbound']> {
  return {
    smarthost,
    smarthostTls: cfg.smarthostTls,
    ...(cfg.smarthostCa ? { smarthostCa: readCa(cfg.smarthostCa) } : {}),
    ...(cfg.queueAllowInternal ? { allowInternal: true } : {}),
  };
}

function readCa(file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (e) {
    throw new CliError(`cannot read --smarthost-ca ${file}: ${(e as Error).message}`);
  }
}

/**
 * Runs the server: the primary of `serve --workers N` (serve-primary.ts, which loads neither the store nor a
 * protocol server) or its preparing child (serve-prepare.ts), or one whole server (serve-server.ts), alone
 * or as a worker of that primary. Each is imported only here.
 */
export async function runServe(cfg: ServeConfig): Promise<void> {
  // pino only for JSON lines: loaded at start it stayed in the memory of every server process.
  const logger = cfg.logFormat === 'json' ? (await import('../server/log-json.js')).jsonLogger(cfg.logLevel) : textLogger(cfg.logLevel);
  const dataDir = resolveDataDir(cfg.data);
  if (process.env[PREPARE_ENV]) return (await import('./serve-prepare.js')).runPrepareChild(cfg, logger, dataDir);
  if (cfg.workers > 1 && !cluster.isWorker) return (await import('./serve-primary.js')).servePrimary(cfg, logger);
  // One whole server; a worker has its heap flags on node's command line and holds the cap its primary set.
  if (cluster.isWorker) tuneWorkerHeap();
  else tuneHeap();
  return (await import('./serve-server.js')).runServer(cfg, logger, dataDir);
}
