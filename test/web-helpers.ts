/**
 * Test helpers for the web interface: a mailroom with the HTTP listener (JMAP and web plugins), IMAP and LMTP
 * on free loopback ports, a small JSON HTTP client that keeps cookies like a browser, and an LMTP sender.
 */
import type { TestContext } from 'node:test';
import { connect } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../src/store/index.js';
import { Authenticator } from '../src/auth/index.js';
import { createUserWithDomain } from '../src/server/mailroom.js';
import { createHttpService } from '../src/http/server.js';
import type { HttpContext, PublicListener } from '../src/http/types.js';
import type { Store } from '../src/store/handle.js';
import { memoryLogger } from '../src/lib/logger.js';
import { jmapPlugin } from '../src/jmap/index.js';
import { createWebPlugin, type WebOptions } from '../src/web/index.js';

export const ADMIN = 'admin@example.org';
export const ADMIN_PASS = 'admin-secret-1';
export const ALICE = 'alice@example.org';
export const ALICE_PASS = 'alice-secret-1';

export interface WebServer {
  store: Store;
  url: string;
  ctx: HttpContext;
}

/**
 * The HTTP listener with the JMAP and web plugins over a fresh SQLite store (users admin, an administrator,
 * and alice), on a free loopback port; stopped when the test ends. `listeners` is what autoconfig reports.
 */
export async function startWeb(t: TestContext, opts: WebOptions & { listeners?: PublicListener[] } = {}): Promise<WebServer> {
  const dir = await mkdtemp(join(tmpdir(), 'mailroom-web-'));
  const store = await openStore({ dataDir: dir });
  await createUserWithDomain(store.directory, ADMIN, ADMIN_PASS);
  await store.directory.setAdmin(ADMIN, true);
  await createUserWithDomain(store.directory, ALICE, ALICE_PASS);
  const ctx: HttpContext = {
    store,
    auth: new Authenticator(store.directory, { failureDelayMs: 0 }),
    logger: memoryLogger([]),
    hostname: 'mail.example.org',
    dataDir: dir,
    queue: null,
    listeners: () => opts.listeners ?? [{ name: 'imap', port: 1143, tls: 'starttls' }],
    corsOrigins: [],
  };
  const svc = createHttpService({ ctx, plugins: [jmapPlugin, createWebPlugin(opts)] });
  const addr = await svc.listen({ host: '127.0.0.1', port: 0, implicitTls: false });
  t.after(async () => {
    await svc.close();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });
  return { store, ctx, url: `http://127.0.0.1:${addr.port}` };
}

/** A cookie-keeping JSON client (the mr_csrf cookie is sent back as X-CSRF-Token unless `csrf: false`). */
export class Client {
  cookies = new Map<string, string>();
  constructor(readonly base: string) {}

  async req(method: string, path: string, body?: unknown, opts: { csrf?: boolean; headers?: Record<string, string> } = {}) {
    const headers: Record<string, string> = { ...(opts.headers ?? {}) };
    if (this.cookies.size) headers.cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    if (opts.csrf !== false && this.cookies.has('mr_csrf')) headers['x-csrf-token'] = decodeURIComponent(this.cookies.get('mr_csrf')!);
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(this.base + path, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}), redirect: 'manual' });
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const i = pair!.indexOf('=');
      const k = pair!.slice(0, i);
      const v = pair!.slice(i + 1);
      if (/max-age=0/i.test(c)) this.cookies.delete(k);
      else this.cookies.set(k, v);
    }
    const text = await res.text();
    let json: any = null;
    try {
      json = JSON.parse(text);
    } catch {
      json = null;
    }
    return { status: res.status, json, text, headers: res.headers };
  }

  async signIn(email: string, password: string) {
    return this.req('POST', '/api/session', { email, password });
  }
}

/**
 * Delivers `raw` over LMTP (RFC 2033) to one recipient and resolves the reply to DATA (a "250 ..." line
 * when delivered). After the greeting, commands are pipelined, as an MTA does.
 */
export function lmtpDeliver(port: number, from: string, to: string, raw: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1');
    let got = '';
    let sentData = false;
    let greeted = false;
    sock.on('error', reject);
    sock.on('data', (d: Buffer) => {
      got += d.toString('latin1');
      if (!greeted && /^220 /m.test(got)) {
        greeted = true;
        sock.write(`LHLO test.example\r\nMAIL FROM:<${from}>\r\nRCPT TO:<${to}>\r\nDATA\r\n`);
      }
      if (!sentData && /^354 /m.test(got)) {
        sentData = true;
        const body = raw.toString('latin1').replace(/\r?\n/g, '\r\n').replace(/^\./gm, '..');
        sock.write(`${body}${body.endsWith('\r\n') ? '' : '\r\n'}.\r\nQUIT\r\n`);
      }
    });
    sock.on('close', () => {
      const after = got.slice(got.search(/^354 /m));
      const reply = /^(\d{3} .*)$/m.exec(after.slice(after.indexOf('\n') + 1));
      resolve(reply ? reply[1]!.trim() : got);
    });
  });
}
