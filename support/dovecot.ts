/**
 * A private Dovecot (Debian's dovecot-imapd / dovecot-pop3d / dovecot-lmtpd) for tests and benchmarks.
 *
 * startDovecot() writes a throwaway configuration into a temp directory (base_dir, state, logs, a
 * passwd-file with {PLAIN} passwords, maildir:<tmp>/mail/%u), picks free loopback ports, runs
 * `dovecot -F -c <conf>` in the foreground and resolves once every listener accepts connections.
 * stop() terminates it and removes the directory. When dovecot is not installed, dovecotAvailable()
 * returns a reason string that tests pass to `skip`.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync, chmodSync, chownSync, rmSync, readFileSync, readdirSync, renameSync } from 'node:fs';
import { tmpdir, hostname } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { canConnect, freePorts } from './net.js';
import { terminate } from './process.js';

const DOVECOT = '/usr/sbin/dovecot';
const DOVEADM = '/usr/bin/doveadm';

export interface DovecotUser {
  user: string;
  password: string;
}

export interface DovecotOptions {
  /** Users to create; default one user "alice" with password "secret". */
  users?: DovecotUser[];
  /** Also listen with implicit TLS (imaps/pop3s) and offer STARTTLS/STLS, using this key and certificate (PEM). */
  tls?: { key: string; cert: string };
  /** Override the IMAP CAPABILITY list Dovecot advertises (e.g. to hide CONDSTORE/QRESYNC). */
  imapCapability?: string;
  /** Dovecot's pop3_uidl_format; default "%08Xu%08Xv". */
  pop3UidlFormat?: string;
  /** Extra raw configuration lines appended to the generated file. */
  extraConfig?: string;
}

export interface Dovecot {
  host: '127.0.0.1';
  imapPort: number;
  pop3Port: number;
  lmtpPort: number;
  /** Set when `tls` was given. */
  imapsPort?: number;
  pop3sPort?: number;
  users: DovecotUser[];
  /** The temp directory holding config, logs and mail. */
  dir: string;
  /** Maildir root of one user (INBOX is the root; other folders are ".Name" Maildir++ subfolders). */
  maildir(user: string): string;
  /** Places a raw message (CRLF lines) into the user's INBOX new/ directory, as an MDA would. */
  deliver(user: string, raw: Buffer | string): Promise<void>;
  /** Runs doveadm against this instance; resolves with stdout, rejects on a non-zero exit. */
  doveadm(args: string[]): Promise<string>;
  /** The Dovecot log so far (for assertion messages). */
  log(): string;
  stop(): Promise<void>;
}

/** null when Dovecot can run here; otherwise the reason to skip. */
export function dovecotAvailable(): string | null {
  if (!existsSync(DOVECOT)) return `dovecot is not installed (${DOVECOT} missing): install dovecot-imapd dovecot-pop3d dovecot-lmtpd`;
  if (!existsSync('/usr/lib/dovecot/imap')) return 'dovecot-imapd is not installed';
  if (!existsSync('/usr/lib/dovecot/pop3')) return 'dovecot-pop3d is not installed';
  return null;
}

function lookupIds(): { uid: number; gid: number; loginUser: string; internalUser: string } {
  // Dovecot refuses to run its unprivileged processes as root: pick existing system users.
  const passwd = readFileSync('/etc/passwd', 'utf8').split('\n');
  const find = (name: string): { uid: number; gid: number } | null => {
    for (const line of passwd) {
      const f = line.split(':');
      if (f[0] === name && f[2] !== undefined && f[3] !== undefined) return { uid: Number(f[2]), gid: Number(f[3]) };
    }
    return null;
  };
  const nobody = find('nobody') ?? { uid: 65534, gid: 65534 };
  const loginUser = find('dovenull') ? 'dovenull' : 'nobody';
  const internalUser = find('dovecot') ? 'dovecot' : 'nobody';
  return { uid: nobody.uid, gid: nobody.gid, loginUser, internalUser };
}

let deliverCounter = 0;

export async function startDovecot(opts: DovecotOptions = {}): Promise<Dovecot> {
  const reason = dovecotAvailable();
  if (reason) throw new Error(reason);
  const users = opts.users ?? [{ user: 'alice', password: 'secret' }];
  const dir = mkdtempSync(join(tmpdir(), 'mailroom-dovecot-'));
  chmodSync(dir, 0o755);
  const ids = lookupIds();
  const runAsRoot = process.getuid?.() === 0;
  for (const sub of ['run', 'state', 'mail', 'home']) mkdirSync(join(dir, sub), { mode: 0o755 });
  if (runAsRoot) {
    chownSync(join(dir, 'mail'), ids.uid, ids.gid);
    chownSync(join(dir, 'home'), ids.uid, ids.gid);
  }
  const passwd = users.map((u) => `${u.user}:{PLAIN}${u.password}::::::`).join('\n') + '\n';
  writeFileSync(join(dir, 'passwd'), passwd, { mode: 0o644 });

  const [imapPort, pop3Port, lmtpPort, tlsImap, tlsPop3] = await freePorts(5);
  const imapsPort = opts.tls ? tlsImap : undefined;
  const pop3sPort = opts.tls ? tlsPop3 : undefined;
  if (opts.tls) {
    writeFileSync(join(dir, 'key.pem'), opts.tls.key, { mode: 0o600 });
    writeFileSync(join(dir, 'cert.pem'), opts.tls.cert, { mode: 0o644 });
  }
  const mailUid = runAsRoot ? ids.uid : (process.getuid?.() ?? 1000);
  const mailGid = runAsRoot ? ids.gid : (process.getgid?.() ?? 1000);
  const conf = [
    `base_dir = ${dir}/run`,
    `state_dir = ${dir}/state`,
    `log_path = ${dir}/dovecot.log`,
    `info_log_path = ${dir}/dovecot.log`,
    `protocols = imap pop3 lmtp`,
    `listen = 127.0.0.1`,
    `ssl = ${opts.tls ? 'yes' : 'no'}`,
    ...(opts.tls ? [`ssl_cert = <${dir}/cert.pem`, `ssl_key = <${dir}/key.pem`] : []),
    `disable_plaintext_auth = no`,
    `auth_mechanisms = plain login`,
    `default_login_user = ${runAsRoot ? ids.loginUser : (process.env.USER ?? 'nobody')}`,
    `default_internal_user = ${runAsRoot ? ids.internalUser : (process.env.USER ?? 'nobody')}`,
    ...(runAsRoot ? [] : [`default_internal_group = ${process.getgid?.() ?? 1000}`]),
    `first_valid_uid = 0`,
    `first_valid_gid = 0`,
    `mail_uid = ${mailUid}`,
    `mail_gid = ${mailGid}`,
    `mail_location = maildir:${dir}/mail/%u`,
    `mail_fsync = never`,
    `pop3_uidl_format = ${opts.pop3UidlFormat ?? '%08Xu%08Xv'}`,
    `lmtp_save_to_detail_mailbox = no`,
    `recipient_delimiter =`,
    `login_trusted_networks =`,
    `auth_cache_size = 0`,
    `auth_failure_delay = 0`,
    `passdb {`,
    `  driver = passwd-file`,
    `  args = scheme=PLAIN username_format=%u ${dir}/passwd`,
    `}`,
    `userdb {`,
    `  driver = static`,
    `  args = uid=${mailUid} gid=${mailGid} home=${dir}/home/%u`,
    `}`,
    `namespace inbox {`,
    `  inbox = yes`,
    `  separator = /`,
    `  mailbox Sent {`,
    `    special_use = \\Sent`,
    `    auto = create`,
    `  }`,
    `  mailbox Trash {`,
    `    special_use = \\Trash`,
    `    auto = create`,
    `  }`,
    `  mailbox Drafts {`,
    `    special_use = \\Drafts`,
    `    auto = create`,
    `  }`,
    `}`,
    `service imap-login {`,
    `  inet_listener imap {`,
    `    address = 127.0.0.1`,
    `    port = ${imapPort}`,
    `  }`,
    `  inet_listener imaps {`,
    `    address = 127.0.0.1`,
    `    port = ${imapsPort ?? 0}`,
    ...(imapsPort ? [`    ssl = yes`] : []),
    `  }`,
    `}`,
    `service pop3-login {`,
    `  inet_listener pop3 {`,
    `    address = 127.0.0.1`,
    `    port = ${pop3Port}`,
    `  }`,
    `  inet_listener pop3s {`,
    `    address = 127.0.0.1`,
    `    port = ${pop3sPort ?? 0}`,
    ...(pop3sPort ? [`    ssl = yes`] : []),
    `  }`,
    `}`,
    `service lmtp {`,
    `  inet_listener lmtp {`,
    `    address = 127.0.0.1`,
    `    port = ${lmtpPort}`,
    `  }`,
    `}`,
    `service imap {`,
    `  process_limit = 64`,
    `}`,
    `service stats {`,
    `  unix_listener stats-writer {`,
    `    mode = 0666`,
    `  }`,
    `}`,
    `protocol imap {`,
    `  mail_max_userip_connections = 100`,
    ...(opts.imapCapability ? [`  imap_capability = ${opts.imapCapability}`] : []),
    `}`,
    opts.extraConfig ?? '',
  ].join('\n');
  const confPath = join(dir, 'dovecot.conf');
  writeFileSync(confPath, conf + '\n', { mode: 0o644 });
  const logPath = join(dir, 'dovecot.log');
  const readLog = (): string => (existsSync(logPath) ? readFileSync(logPath, 'utf8') : '');

  const child: ChildProcess = spawn(DOVECOT, ['-F', '-c', confPath], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString('utf8');
  });
  let exited = false;
  const exitPromise = new Promise<void>((resolve) => {
    child.once('exit', () => {
      exited = true;
      resolve();
    });
  });

  const ports = [imapPort, pop3Port, lmtpPort, ...(imapsPort ? [imapsPort] : []), ...(pop3sPort ? [pop3sPort] : [])];
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (exited) {
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`dovecot exited during start-up: ${stderr.trim()} ${readLog().trim()}`);
    }
    const ok = await Promise.all(ports.map(canConnect));
    if (ok.every(Boolean)) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      await exitPromise;
      const log = readLog();
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`dovecot did not start listening within 10 s: ${stderr.trim()} ${log.trim()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }

  const maildir = (user: string): string => join(dir, 'mail', user);
  const ensureMaildir = (root: string): void => {
    for (const p of [root, join(root, 'new'), join(root, 'cur'), join(root, 'tmp')]) {
      if (!existsSync(p)) {
        mkdirSync(p, { recursive: true, mode: 0o700 });
        if (runAsRoot) chownSync(p, mailUid, mailGid);
      }
    }
  };

  return {
    host: '127.0.0.1',
    imapPort,
    pop3Port,
    lmtpPort,
    ...(imapsPort ? { imapsPort } : {}),
    ...(pop3sPort ? { pop3sPort } : {}),
    users,
    dir,
    maildir,
    async deliver(user: string, raw: Buffer | string): Promise<void> {
      if (!users.some((u) => u.user === user)) throw new Error(`unknown dovecot test user ${user}`);
      const root = maildir(user);
      ensureMaildir(root);
      const bytes = typeof raw === 'string' ? Buffer.from(raw, 'utf8') : raw;
      const now = Date.now();
      const name = `${Math.floor(now / 1000)}.M${(now % 1000) * 1000}P${process.pid}Q${++deliverCounter}R${randomBytes(4).toString('hex')}.${hostname().replace(/[/:]/g, '_')},S=${bytes.length}`;
      const tmp = join(root, 'tmp', name);
      writeFileSync(tmp, bytes, { mode: 0o600 });
      if (runAsRoot) chownSync(tmp, mailUid, mailGid);
      renameSync(tmp, join(root, 'new', name));
    },
    doveadm(args: string[]): Promise<string> {
      return new Promise((resolve, reject) => {
        const p = spawn(DOVEADM, ['-c', confPath, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        let err = '';
        p.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
        p.stderr.on('data', (d: Buffer) => (err += d.toString('utf8')));
        p.once('error', reject);
        p.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`doveadm ${args.join(' ')} exited ${code}: ${err.trim()}`))));
      });
    },
    log: readLog,
    async stop(): Promise<void> {
      if (!exited) await terminate(child, exitPromise, 5000);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Lists the files of one Maildir folder's new/ and cur/ (for assertions). */
export function maildirFiles(folder: string): { new: string[]; cur: string[] } {
  const list = (d: string): string[] => (existsSync(d) ? readdirSync(d).sort() : []);
  return { new: list(join(folder, 'new')), cur: list(join(folder, 'cur')) };
}

/** True when doveadm is installed (needed for UIDVALIDITY manipulation). */
export function doveadmAvailable(): boolean {
  return existsSync(DOVEADM) && spawnSync(DOVEADM, ['help'], { stdio: 'ignore' }).status !== null;
}
