/**
 * Slow-loris on the HTTP listener: a client that sends part of a request header, or nothing, gets 408 and
 * is disconnected once the header timeout passes (it was held open indefinitely); a normal client is
 * served meanwhile.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:net';
import { createHttpService, type HttpService } from '../src/http/server.js';
import { jmapPlugin } from '../src/jmap/index.js';
import { Authenticator } from '../src/auth/index.js';
import { openStore } from '../src/store/index.js';
import type { HttpContext } from '../src/http/types.js';
import { silentLogger } from '../src/lib/logger.js';

let dir: string;
let store: Awaited<ReturnType<typeof openStore>>;
let svc: HttpService;
let port: number;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mailroom-hostile-http-'));
  store = await openStore({ dataDir: dir });
  const ctx: HttpContext = {
    store,
    auth: new Authenticator(store.directory, { failureDelayMs: 0 }),
    logger: silentLogger,
    hostname: 'mail.example.org',
    dataDir: dir,
    queue: null,
    listeners: () => [],
    corsOrigins: [],
  };
  svc = createHttpService({ ctx, plugins: [jmapPlugin], headersTimeoutMs: 1000 });
  port = (await svc.listen({ host: '127.0.0.1', port: 0, implicitTls: false })).port;
});
after(async () => {
  await svc.close();
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

/** Opens a connection, writes `bytes` (if any), and resolves with what arrived once the server closed it. */
function heldOpen(bytes: string): Promise<{ text: string; ms: number }> {
  const started = Date.now();
  const socket = connect({ host: '127.0.0.1', port });
  let text = '';
  socket.on('connect', () => bytes && socket.write(bytes));
  socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
  socket.on('error', () => undefined);
  return new Promise((resolve) => socket.on('close', () => resolve({ text, ms: Date.now() - started })));
}

test('a partial request header, and a connection that sends nothing, get 408 and a close after the header timeout', async () => {
  const partial = heldOpen('GET /.well-known/jmap HTTP/1.1\r\nHost: x\r\nX-Slow: ');
  const silent = heldOpen('');
  // Meanwhile a whole request is answered.
  const r = await fetch(`http://127.0.0.1:${port}/.well-known/jmap`, { redirect: 'manual' });
  assert.equal(r.status, 307);
  for (const [name, p] of [['partial', partial], ['silent', silent]] as const) {
    const got = await p;
    assert.match(got.text, /^HTTP\/1\.1 408 /, name);
    assert.ok(got.ms >= 900, `${name} closed after ${got.ms} ms`);
  }
});
