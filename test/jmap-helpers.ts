/** A mailroom with the HTTP (JMAP), IMAP and POP3 listeners on loopback, a user, a token and raw API calls. */
import { createMailroom, type Mailroom } from '../src/server/mailroom.js';
import type { User } from '../src/store/types.js';

export const USER = 'alice@example.org';
export const PASSWORD = 'correct horse';
export const USING = ['urn:ietf:params:jmap:core', 'urn:ietf:params:jmap:mail', 'urn:ietf:params:jmap:submission', 'urn:ietf:params:jmap:vacationresponse'];

export interface JmapFixture {
  m: Mailroom;
  user: User;
  token: string;
  base: string;
  accountId: string;
  /** POSTs a JMAP request; returns the parsed response body and the status. */
  api(calls: unknown[], using?: string[]): Promise<{ status: number; body: Record<string, unknown> }>;
  /** The result of a single method call (throws on an error response). */
  call(name: string, args: Record<string, unknown>, using?: string[]): Promise<Record<string, unknown>>;
  auth: Record<string, string>;
  stop(): Promise<void>;
}

/**
 * Starts a mailroom with the user. `dataDir` or `storeUrl` shares a store with another fixture (a second
 * worker process as far as the store is concerned); the user is made only when it is not there yet.
 */
export async function startJmap(
  opts: { ports?: Record<string, number>; corsOrigins?: string[]; auth?: { failureDelayMs?: number }; dataDir?: string; storeUrl?: string; sendDelaySec?: number } = {},
): Promise<JmapFixture> {
  const http = { ...(opts.corsOrigins ? { corsOrigins: opts.corsOrigins } : {}), ...(opts.sendDelaySec ? { sendDelaySec: opts.sendDelaySec } : {}) };
  const m = createMailroom({
    ports: { http: 0, ...(opts.ports ?? {}) },
    hostname: 'mail.test',
    auth: { failureDelayMs: opts.auth?.failureDelayMs ?? 0, maxDelayMs: 0 },
    ...(Object.keys(http).length ? { http } : {}),
    ...(opts.dataDir ? { dataDir: opts.dataDir } : {}),
    ...(opts.storeUrl ? { storeUrl: opts.storeUrl } : {}),
  });
  await m.start();
  const user = (await m.store.directory.getUser(USER)) ?? (await m.addUser(USER, PASSWORD));
  const t = await m.store.tokens.create(user.id, { name: 'test', kind: 'app' });
  const base = `http://127.0.0.1:${m.ports.http}`;
  const auth = { Authorization: `Bearer ${t.secret}` };
  const api = async (calls: unknown[], using = USING): Promise<{ status: number; body: Record<string, unknown> }> => {
    const r = await fetch(`${base}/jmap/api`, { method: 'POST', headers: { ...auth, 'Content-Type': 'application/json' }, body: JSON.stringify({ using, methodCalls: calls }) });
    return { status: r.status, body: (await r.json()) as Record<string, unknown> };
  };
  const call = async (name: string, args: Record<string, unknown>, using = USING): Promise<Record<string, unknown>> => {
    const r = await api([[name, args, 'c']], using);
    const first = (r.body['methodResponses'] as Array<[string, Record<string, unknown>, string]>)[0]!;
    if (first[0] === 'error') throw new Error(`${name}: ${JSON.stringify(first[1])}`);
    return first[1];
  };
  return { m, user, token: t.secret, base, accountId: `a${user.id}`, api, call, auth, stop: () => m.stop() };
}

let n = 0;
export function rfc822(subject: string, opts: { from?: string; to?: string; body?: string; headers?: string; date?: string } = {}): Buffer {
  n++;
  return Buffer.from(
    `From: ${opts.from ?? 'Bob <bob@example.net>'}\r\nTo: ${opts.to ?? USER}\r\nSubject: ${subject}\r\nDate: ${opts.date ?? 'Mon, 7 Dec 2026 10:00:00 +0100'}\r\n` +
      `Message-ID: <m${n}.${Date.now()}@example.net>\r\n${opts.headers ?? ''}Content-Type: text/plain; charset=utf-8\r\n\r\n${opts.body ?? 'Hello there.\r\n'}`,
  );
}

export async function inboxId(f: JmapFixture): Promise<number> {
  return (await f.m.store.mail.getMailbox(f.user.id, 'INBOX'))!.id;
}

type Obj = Record<string, unknown>;
/** What the tests use of jmap-jam's JamClient (its bundled type declarations do not compile under our tsconfig). */
export interface Jam {
  getPrimaryAccount(): Promise<string>;
  api: Record<string, Record<string, (args: Obj) => Promise<[Obj, unknown]>>>;
  connectEventSource(o: { types: '*' | string[]; ping: number; closeafter?: 'state' | 'no' }): Promise<EventTarget & { close(): void }>;
}

/** A jmap-jam client for the fixture's user (loaded by a variable specifier, see Jam). */
export async function jam(f: JmapFixture): Promise<Jam> {
  const specifier: string = 'jmap-jam';
  const mod = (await import(specifier)) as { default: new (c: { bearerToken: string; sessionUrl: string }) => Jam };
  return new mod.default({ bearerToken: f.token, sessionUrl: `${f.base}/.well-known/jmap` });
}
