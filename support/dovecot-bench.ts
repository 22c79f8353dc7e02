/**
 * A private Dovecot sized for the benchmark (bench/): Debian's dovecot-imapd/pop3d/lmtpd from a throwaway
 * configuration in a temp directory, on free loopback ports, in the foreground as a child process.
 *
 * Differences from support/dovecot.ts (the client-test launcher): process and client limits are raised
 * for thousands of concurrent IMAP connections (one imap process per connection is Dovecot's design),
 * imap-login runs in Dovecot's documented "high-performance" mode (service_count = 0, one login process per
 * core), per-user connection limits are lifted, and mailboxes can be filled by writing Maildir files plus a
 * dovecot-uidlist directly, so UIDs are exactly 1..n in the order given. Mail durability is Dovecot's default
 * (mail_fsync = optimized), like mailroom's fsync-before-reply.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, utimesSync, openSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { canConnect, freePorts } from './net.js';
import { terminate } from './process.js';

const DOVECOT = '/usr/sbin/dovecot';
const DOVEADM = '/usr/bin/doveadm';
/** First uid given to benchmark accounts when running as root (one uid per account). */
const FIRST_MAIL_UID = 40000;

export interface BenchDovecotOptions {
  users: Array<{ user: string; password: string }>;
  /** Most concurrent IMAP connections expected (sizes process and client limits). Default 1000. */
  maxConnections?: number;
  /** Parent for the temp directory (default os.tmpdir()). */
  parentDir?: string;
}

export interface MaildirMessage {
  raw: Buffer;
  flags?: string[];
  internalDate?: Date;
}

export interface BenchDovecot {
  host: '127.0.0.1';
  imapPort: number;
  pop3Port: number;
  lmtpPort: number;
  dir: string;
  /** The dovecot master process id (its children are the per-connection and helper processes). */
  pid: number;
  /**
   * Fills a user's INBOX (must be empty and not yet opened by Dovecot) with Maildir files and a
   * dovecot-uidlist so that message k gets UID k+1. Files keep the given bytes exactly.
   */
  populate(user: string, messages: Iterable<MaildirMessage>): number;
  /** `doveadm index` of one user's INBOX (builds the index and cache as delivery would have); resolves false on failure. */
  index(user: string): Promise<boolean>;
  log(): string;
  stop(): Promise<void>;
}

/** null when the benchmark can run Dovecot here; otherwise the reason it cannot. */
export function benchDovecotAvailable(): string | null {
  if (!existsSync(DOVECOT)) return 'dovecot is not installed';
  for (const p of ['imap', 'pop3', 'lmtp']) if (!existsSync(`/usr/lib/dovecot/${p}`)) return `dovecot-${p}d is not installed`;
  return null;
}

function passwdEntry(name: string): { uid: number; gid: number } | null {
  for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
    const f = line.split(':');
    if (f[0] === name && f[2] !== undefined && f[3] !== undefined) return { uid: Number(f[2]), gid: Number(f[3]) };
  }
  return null;
}

const FLAG_CHARS: Record<string, string> = { '\\Draft': 'D', '\\Flagged': 'F', '\\Answered': 'R', '\\Seen': 'S', '\\Deleted': 'T' };

export async function startBenchDovecot(opts: BenchDovecotOptions): Promise<BenchDovecot> {
  const reason = benchDovecotAvailable();
  if (reason) throw new Error(reason);
  const dir = mkdtempSync(join(opts.parentDir ?? tmpdir(), 'bench-dovecot-'));
  chmodSync(dir, 0o755);
  const root = process.getuid?.() === 0;
  const nobody = passwdEntry('nobody') ?? { uid: 65534, gid: 65534 };
  const mailUid = root ? nobody.uid : (process.getuid?.() ?? 1000);
  const mailGid = root ? nobody.gid : (process.getgid?.() ?? 1000);
  const loginUser = root ? (passwdEntry('dovenull') ? 'dovenull' : 'nobody') : (process.env['USER'] ?? 'nobody');
  const internalUser = root ? (passwdEntry('dovecot') ? 'dovecot' : 'nobody') : (process.env['USER'] ?? 'nobody');
  for (const sub of ['run', 'state', 'mail', 'home']) mkdirSync(join(dir, sub), { mode: 0o755 });
  // As root, every account gets its own unprivileged uid (not in /etc/passwd; Dovecot only needs the number):
  // Linux allows 128 inotify instances per uid by default (fs.inotify.max_user_instances) and every idling
  // imap process holds one, so a single shared vmail uid would make IDLE fall back to 30 s polling beyond
  // ~128 connections. Per-account uids keep Dovecot's instant IDLE without touching system settings.
  const uidOf = new Map<string, number>();
  opts.users.forEach((u, k) => uidOf.set(u.user, root ? FIRST_MAIL_UID + k : mailUid));
  for (const u of opts.users) {
    for (const p of [join(dir, 'mail', u.user), join(dir, 'home', u.user)]) {
      mkdirSync(p, { mode: 0o700 });
      if (root) chownSync(p, uidOf.get(u.user)!, mailGid);
    }
  }
  writeFileSync(join(dir, 'passwd'), opts.users.map((u) => `${u.user}:{PLAIN}${u.password}:${uidOf.get(u.user)}:${mailGid}::${dir}/home/${u.user}::`).join('\n') + '\n', { mode: 0o644 });
  const [imapPort, pop3Port, lmtpPort] = await freePorts(3);
  const maxConn = opts.maxConnections ?? 1000;
  // Every imap/pop3/login process holds connections to log, anvil, auth, stats and config: their client limits
  // must cover every process the login and mail services may run (Dovecot warns at start-up otherwise).
  const clientLimit = (maxConn + 100) * 5;
  const conf = `
base_dir = ${dir}/run
state_dir = ${dir}/state
log_path = ${dir}/dovecot.log
info_log_path = ${dir}/dovecot.log
protocols = imap pop3 lmtp
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_login_user = ${loginUser}
default_internal_user = ${internalUser}
${root ? '' : `default_internal_group = ${process.getgid?.() ?? 1000}`}
first_valid_uid = 0
first_valid_gid = 0
mail_uid = ${mailUid}
mail_gid = ${mailGid}
mail_location = maildir:${dir}/mail/%u
default_process_limit = ${maxConn + 100}
default_client_limit = ${clientLimit}
default_vsz_limit = 1G
recipient_delimiter =
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u ${dir}/passwd
}
userdb {
  driver = passwd-file
  args = username_format=%u ${dir}/passwd
}
namespace inbox {
  inbox = yes
  separator = /
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = ${imapPort}
  }
  inet_listener imaps {
    port = 0
  }
  service_count = 0
  process_min_avail = 2
}
service pop3-login {
  inet_listener pop3 {
    address = 127.0.0.1
    port = ${pop3Port}
  }
  inet_listener pop3s {
    port = 0
  }
  service_count = 0
  process_min_avail = 2
}
service lmtp {
  inet_listener lmtp {
    address = 127.0.0.1
    port = ${lmtpPort}
  }
}
service imap {
  process_limit = ${maxConn + 100}
}
service stats {
  unix_listener stats-writer {
    mode = 0666
  }
}
protocol imap {
  mail_max_userip_connections = ${maxConn + 100}
}
protocol pop3 {
  mail_max_userip_connections = ${maxConn + 100}
}
`;
  const confPath = join(dir, 'dovecot.conf');
  writeFileSync(confPath, conf, { mode: 0o644 });
  const logPath = join(dir, 'dovecot.log');
  const readLog = (): string => (existsSync(logPath) ? readFileSync(logPath, 'utf8') : '');
  const child: ChildProcess = spawn(DOVECOT, ['-F', '-c', confPath], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
  let exited = false;
  const exitPromise = new Promise<void>((resolve) => child.once('exit', () => ((exited = true), resolve())));
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (exited) {
      const log = readLog();
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`dovecot exited during start-up: ${stderr.trim()} ${log.trim()}`);
    }
    if ((await Promise.all([imapPort, pop3Port, lmtpPort].map(canConnect))).every(Boolean)) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      await exitPromise;
      const log = readLog();
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`dovecot did not listen within 15 s: ${stderr.trim()} ${log.trim()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }

  const owner = (user: string): ((p: string) => void) => {
    const uid = uidOf.get(user);
    if (uid === undefined) throw new Error(`unknown benchmark user ${user}`);
    return (p: string) => {
      if (root) chownSync(p, uid, mailGid);
    };
  };

  return {
    host: '127.0.0.1',
    imapPort,
    pop3Port,
    lmtpPort,
    dir,
    pid: child.pid ?? 0,
    populate(user: string, messages: Iterable<MaildirMessage>): number {
      const box = join(dir, 'mail', user);
      const own = owner(user);
      if (existsSync(join(box, 'dovecot-uidlist'))) throw new Error(`maildir of ${user} already initialised`);
      for (const p of [box, join(box, 'cur'), join(box, 'new'), join(box, 'tmp')]) {
        mkdirSync(p, { recursive: true, mode: 0o700 });
        own(p);
      }
      const lines: string[] = [];
      let uid = 0;
      const base = Math.floor(Date.now() / 1000);
      for (const m of messages) {
        uid++;
        const name = `${base}.M${uid}P${process.pid}.bench,S=${m.raw.length},W=${m.raw.length}`;
        const flags = (m.flags ?? []).map((f) => FLAG_CHARS[f] ?? '').sort().join('');
        const path = join(box, 'cur', `${name}:2,${flags}`);
        const fd = openSync(path, 'wx', 0o600);
        try {
          writeSync(fd, m.raw);
        } finally {
          closeSync(fd);
        }
        own(path);
        if (m.internalDate) utimesSync(path, m.internalDate, m.internalDate);
        lines.push(`${uid} :${name}`);
      }
      const uidValidity = Math.floor(Date.now() / 1000);
      const header = `3 V${uidValidity} N${uid + 1} G${randomBytes(16).toString('hex')}`;
      const list = join(box, 'dovecot-uidlist');
      writeFileSync(list, [header, ...lines].join('\n') + '\n', { mode: 0o600 });
      own(list);
      return uid;
    },
    index(user: string): Promise<boolean> {
      return new Promise((resolve) => {
        const p = spawn(DOVEADM, ['-c', confPath, 'index', '-u', user, 'INBOX'], { stdio: 'ignore' });
        p.once('error', () => resolve(false));
        p.once('exit', (code) => resolve(code === 0));
      });
    },
    log: readLog,
    async stop(): Promise<void> {
      if (!exited) await terminate(child, exitPromise, 10_000);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
