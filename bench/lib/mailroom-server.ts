/**
 * The mailroom side of the benchmark: fills a fresh data directory through the store API, then runs
 * `mailroom serve` on it as a child process.
 *
 * Why a child process and not createMailroom() in this process: the server's peak RSS (VmHWM) and CPU time
 * can then be read from /proc for the server alone, exactly as for Dovecot's processes, and the load
 * generator (this process) never competes with the server for its event loop or its heap.
 *
 * The child runs an esbuild bundle of the CLI (bench/.build/, built once per benchmark run) when esbuild can
 * be loaded, so no TypeScript loader thread sits in the measured process; otherwise it falls back to
 * `node --import tsx`. Either way it is the real `serve` command with its default logging.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openServerStore } from '../../src/server/store.js';
import { hashPassword } from '../../src/auth/index.js';
import { canConnect, freePorts } from '../../support/net.js';
import { terminate } from '../../support/process.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, '..', '..');
const BUILD_DIR = join(ROOT, 'bench', '.build');

export interface PopulateMessage {
  raw: Buffer;
  flags?: string[];
  internalDate?: Date;
}

export interface MailroomServer {
  host: '127.0.0.1';
  imapPort: number;
  pop3Port: number;
  lmtpPort: number;
  /** The root process; with `--workers N` its children are the workers (memory and CPU are summed over the tree). */
  pid: number;
  dataDir: string;
  runner: 'bundle' | 'tsx';
  /** null while running; otherwise how the process ended. */
  exited(): string | null;
  log(): string;
  stop(): Promise<void>;
}

interface EsbuildLike {
  build(opts: Record<string, unknown>): Promise<unknown>;
}

let bundled: Promise<string | null> | null = null;

/** Bundles bench/lib/server-entry.ts (dependencies stay external); null when esbuild is unavailable. */
export function bundleServer(): Promise<string | null> {
  bundled ??= (async () => {
    try {
      const specifier = 'esbuild';
      const esbuild = (await import(specifier)) as EsbuildLike;
      mkdirSync(BUILD_DIR, { recursive: true });
      // One bundle per benchmark process: a smoke test and a full run may build at the same time.
      const outdir = join(BUILD_DIR, `mailroom-server-${process.pid}`);
      process.once('exit', () => rmSync(outdir, { recursive: true, force: true }));
      // Code splitting keeps the CLI's dynamic imports dynamic (the client commands, with the IMAP client
      // library and the mail sender): in one file their packages would be imported at start-up, which a
      // production `serve` (dist/, tsc) never loads.
      await esbuild.build({
        entryPoints: { server: join(HERE, 'server-entry.ts') },
        bundle: true,
        splitting: true,
        platform: 'node',
        format: 'esm',
        target: 'node20',
        packages: 'external',
        outdir,
        outExtension: { '.js': '.mjs' },
        logLevel: 'silent',
        sourcemap: 'linked',
      });
      return join(outdir, 'server.mjs');
    } catch {
      return null;
    }
  })();
  return bundled;
}

/**
 * Fills a data directory through the store API (users with argon2 hashes, as `mailroom user add` makes
 * them; messages appended to INBOX, which computes the MIME index exactly as delivery does). The store is
 * opened with fsync off: this is set-up, not measurement.
 */
export class MailroomPopulator {
  private constructor(private readonly store: Awaited<ReturnType<typeof openServerStore>>) {}

  static async open(dataDir: string): Promise<MailroomPopulator> {
    return new MailroomPopulator(await openServerStore({ dataDir, fsync: false }));
  }

  async addUser(address: string, password: string, messages: Iterable<PopulateMessage> = []): Promise<number> {
    const domain = address.slice(address.indexOf('@') + 1);
    if (!(await this.store.directory.hasDomain(domain))) await this.store.directory.addDomain(domain);
    const user = await this.store.directory.createUser(address, await hashPassword(password));
    const inbox = await this.store.mail.getMailbox(user.id, 'INBOX');
    if (!inbox) throw new Error(`no INBOX for ${address}`);
    let n = 0;
    for (const m of messages) {
      await this.store.mail.append(inbox.id, m.raw, { ...(m.flags ? { flags: m.flags } : {}), ...(m.internalDate ? { internalDate: m.internalDate } : {}) });
      n++;
    }
    return n;
  }

  close(): Promise<void> {
    return this.store.close();
  }
}

/**
 * A self-signed certificate for the server's STARTTLS (never used by the benchmark, which stays in
 * cleartext on loopback), made once with the openssl CLI and cached in bench/.build/, so each start does not
 * spend a second generating an RSA key. null when openssl is missing (the server then makes its own).
 */
function cachedCertificate(): { cert: string; key: string } | null {
  const cert = join(BUILD_DIR, 'tls-cert.pem');
  const key = join(BUILD_DIR, 'tls-key.pem');
  if (existsSync(cert) && existsSync(key)) return { cert, key };
  mkdirSync(BUILD_DIR, { recursive: true });
  // Written under temporary names and renamed (key first), so a concurrent benchmark never reads half a file.
  const tmpCert = `${cert}.${process.pid}`;
  const tmpKey = `${key}.${process.pid}`;
  const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', '/CN=localhost', '-days', '3650', '-keyout', tmpKey, '-out', tmpCert], { stdio: 'ignore' });
  if (r.status !== 0 || !existsSync(tmpCert) || !existsSync(tmpKey)) {
    rmSync(tmpCert, { force: true });
    rmSync(tmpKey, { force: true });
    return null;
  }
  renameSync(tmpKey, key);
  renameSync(tmpCert, cert);
  return { cert, key };
}

/** Starts `mailroom serve` on an existing data directory; resolves when IMAP, POP3 and LMTP accept connections. */
export async function startMailroom(dataDir: string, opts: { useTsx?: boolean; cpuProfDir?: string; workers?: number } = {}): Promise<MailroomServer> {
  const [imapPort, pop3Port, lmtpPort] = await freePorts(3);
  const args = [
    'serve',
    '--data', dataDir,
    '--host', '127.0.0.1',
    '--imap-port', String(imapPort),
    '--pop3-port', String(pop3Port),
    '--lmtp-port', String(lmtpPort),
    '--imaps-port', 'off',
    '--pop3s-port', 'off',
    '--smtp-port', 'off',
    '--submission-port', 'off',
    '--submissions-port', 'off',
    '--http-port', 'off',
    '--https-port', 'off',
    '--managesieve-port', 'off',
  ];
  // `serve --workers N`: the benchmark's memory and CPU figures already cover the whole process tree.
  // Always explicit (bench/run.ts passes serve's own default, one per CPU, unless told otherwise).
  args.push('--workers', String(opts.workers ?? 1));
  const tls = cachedCertificate();
  if (tls) args.push('--tls-cert', tls.cert, '--tls-key', tls.key);
  const bundle = opts.useTsx ? null : await bundleServer();
  // BENCH_NODE_ARGS: extra node flags for the server process (heap and GC experiments, e.g. --max-semi-space-size=4).
  const prof = [...(opts.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${opts.cpuProfDir}`] : []), ...(process.env['BENCH_NODE_ARGS'] ?? '').split(' ').filter(Boolean)];
  // No --enable-source-maps: it keeps the bundle's source map in the server's heap (megabytes a production
  // `mailroom serve` does not hold); stack traces in the log point into the bundle, whose map sits beside it.
  const nodeArgs = bundle ? [...prof, bundle, ...args] : [...prof, '--import', 'tsx', join(HERE, 'server-entry.ts'), ...args];
  const logPath = join(dataDir, 'server.log');
  const fd = openSync(logPath, 'a');
  const child: ChildProcess = spawn(process.execPath, nodeArgs, { cwd: ROOT, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  let exited: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  const exitPromise = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      exited = { code, signal };
      resolve();
    }),
  );
  const readLog = (): string => (existsSync(logPath) ? readFileSync(logPath, 'utf8') : '');
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (exited) throw new Error(`mailroom exited during start-up (${JSON.stringify(exited)}): ${readLog().slice(-2000)}`);
    if ((await Promise.all([imapPort, pop3Port, lmtpPort].map(canConnect))).every(Boolean)) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      await exitPromise;
      throw new Error(`mailroom did not listen within 30 s: ${readLog().slice(-2000)}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    host: '127.0.0.1',
    imapPort,
    pop3Port,
    lmtpPort,
    pid: child.pid ?? 0,
    dataDir,
    runner: bundle ? 'bundle' : 'tsx',
    exited: () => (exited ? JSON.stringify(exited) : null),
    log: readLog,
    async stop(): Promise<void> {
      if (!exited) await terminate(child, exitPromise, 10_000);
    },
  };
}

/** A fresh temp directory for a mailroom data directory; remove it with removeDir(). */
export function tempDataDir(parent = tmpdir()): string {
  return mkdtempSync(join(parent, 'bench-mailroom-'));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}
