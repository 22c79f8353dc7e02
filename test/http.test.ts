/**
 * The HTTP listener: HTTPS with the server's certificate and plain HTTP from one app, `off`, the serve
 * flags and config keys (http-port, https-port, cors-origins), `mailroom token add|list|del` through the
 * real CLI, and the web session cookie with its CSRF double submit.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'node:https';
import { readFileSync } from 'node:fs';
import { createMailroom } from '../src/server/mailroom.js';
import { buildServeConfig, parseOrigins, mailroomOptions } from '../src/cli/serve.js';
import { silentLogger } from '../src/lib/logger.js';
import { runCli, startCli } from './helpers/cli.js';
import type { HttpPlugin } from '../src/http/types.js';
import { requireAuth, requestAuth, SESSION_COOKIE, CSRF_COOKIE } from '../src/http/auth.js';

test('HTTPS serves the same app with the server certificate; plain HTTP off; a test plugin sees auth', async (t) => {
  const probe: HttpPlugin = async (app, ctx) => {
    app.post('/probe', { preHandler: requireAuth(ctx) }, async (req) => ({ user: requestAuth(req)!.user.address, via: requestAuth(req)!.via }));
  };
  const m = createMailroom({ ports: { http: 'off', https: 0 }, hostname: 'mail.test', http: { plugins: [probe] } });
  await m.start();
  t.after(() => m.stop());
  assert.equal(m.ports.http, undefined);
  const user = await m.addUser('carol@example.org', 'pw');
  const session = await m.store.tokens.create(user.id, { name: 'web', kind: 'session' });
  const app = await m.store.tokens.create(user.id, { name: 'app', kind: 'app' });
  const ca = readFileSync(m.selfSignedCertFile!);
  const get = (path: string, method: string, headers: Record<string, string>): Promise<{ status: number; body: string }> =>
    new Promise((resolve, reject) => {
      // `ca` is the generated certificate: the TLS handshake verifies the chain against it.
      const req = request({ host: '127.0.0.1', port: m.ports.https, path, method, headers, ca, servername: 'mail.test', checkServerIdentity: () => undefined }, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.end();
    });
  const ok = await get('/probe', 'POST', { Authorization: `Bearer ${app.secret}` });
  assert.equal(ok.status, 200);
  assert.deepEqual(JSON.parse(ok.body), { user: 'carol@example.org', via: 'bearer' });
  // Basic over TLS works
  const basic = await get('/probe', 'POST', { Authorization: 'Basic ' + Buffer.from('carol@example.org:pw').toString('base64') });
  assert.equal(basic.status, 200);
  // Cookie sessions need the CSRF header on unsafe methods
  const cookie = `${SESSION_COOKIE}=${session.secret}; ${CSRF_COOKIE}=tok123`;
  const noCsrf = await get('/probe', 'POST', { Cookie: cookie });
  assert.equal(noCsrf.status, 403);
  const wrongCsrf = await get('/probe', 'POST', { Cookie: cookie, 'X-CSRF-Token': 'other' });
  assert.equal(wrongCsrf.status, 403);
  const withCsrf = await get('/probe', 'POST', { Cookie: cookie, 'X-CSRF-Token': 'tok123' });
  assert.equal(withCsrf.status, 200);
  assert.equal(JSON.parse(withCsrf.body).via, 'cookie');
  // an app token is not a session cookie
  const appCookie = await get('/probe', 'POST', { Cookie: `${SESSION_COOKIE}=${app.secret}; ${CSRF_COOKIE}=a`, 'X-CSRF-Token': 'a' });
  assert.equal(appCookie.status, 401);
  // the JMAP plugin is not registered when plugins are given: 404
  assert.equal((await get('/jmap/session', 'GET', { Authorization: `Bearer ${app.secret}` })).status, 404);
});

test('serve flags and config keys: http-port, https-port, cors-origins', () => {
  const cfg = buildServeConfig({ httpPort: 'off', corsOrigins: 'https://a.example, http://localhost:5173' }, { 'https-port': 9443 });
  assert.equal(cfg.ports.http, 'off');
  assert.equal(cfg.ports.https, 9443);
  assert.deepEqual(cfg.corsOrigins, ['https://a.example', 'http://localhost:5173']);
  assert.deepEqual(mailroomOptions(cfg, '/tmp/x', silentLogger).http, { corsOrigins: ['https://a.example', 'http://localhost:5173'] });
  const dflt = buildServeConfig({}, {});
  assert.equal(dflt.ports.http, 8080);
  assert.equal(dflt.ports.https, 8443);
  assert.deepEqual(dflt.corsOrigins, []);
  assert.deepEqual(parseOrigins(['https://x.example']), ['https://x.example']);
  assert.throws(() => parseOrigins('https://x.example/path'), /invalid --cors-origins/);
  assert.throws(() => parseOrigins('ftp://x.example'), /invalid --cors-origins/);
  assert.throws(() => buildServeConfig({ httpPort: 'eighty' }, {}), /invalid --http-port/);
});

test('mailroom token add prints a working token; list shows it without the secret; del revokes it', async (t) => {
  const data = await mkdtemp(join(tmpdir(), 'mailroom-token-'));
  t.after(() => rm(data, { recursive: true, force: true }));
  const add = await runCli(['--data', data, 'user', 'add', 'dave@example.org']);
  assert.equal(add.code, 0, add.stderr);
  const tok = await runCli(['--data', data, 'token', 'add', 'dave@example.org', '--name', 'laptop']);
  assert.equal(tok.code, 0, tok.stderr);
  const secret = tok.stdout.trim();
  assert.match(secret, /^mrt_k[0-9a-f]{18}_[A-Za-z0-9_-]{43}$/);
  const list = await runCli(['--data', data, 'token', 'list', 'dave@example.org', '--json']);
  const rows = JSON.parse(list.stdout) as Array<{ id: string; name: string; kind: string }>;
  assert.equal(rows.length, 1);
  assert.equal(rows[0]!.name, 'laptop');
  assert.ok(!list.stdout.includes(secret.slice(25)));
  // the token works against a served HTTP listener on the same data
  const s = await startCli(['serve', '--data', data, '--http-port', '0', ...['imap', 'imaps', 'pop3', 'pop3s', 'lmtp', 'smtp', 'submission', 'submissions', 'https', 'managesieve'].flatMap((l) => [`--${l}-port`, 'off'])], /mailroom ready/);
  t.after(() => s.child.kill('SIGTERM'));
  const port = Number(/listener=http address=127\.0\.0\.1:(\d+)|"listener":"http","address":"127\.0\.0\.1:(\d+)"|http.*127\.0\.0\.1:(\d+)/.exec(s.output())?.slice(1).find(Boolean));
  assert.ok(port > 0, s.output());
  const r = await fetch(`http://127.0.0.1:${port}/jmap/session`, { headers: { Authorization: `Bearer ${secret}` } });
  assert.equal(r.status, 200);
  assert.equal(((await r.json()) as { username: string }).username, 'dave@example.org');
  const del = await runCli(['--data', data, 'token', 'del', 'dave@example.org', rows[0]!.id]);
  assert.equal(del.code, 0, del.stderr);
  const r2 = await fetch(`http://127.0.0.1:${port}/jmap/session`, { headers: { Authorization: `Bearer ${secret}` } });
  assert.equal(r2.status, 401);
  const again = await runCli(['--data', data, 'token', 'del', 'dave@example.org', rows[0]!.id]);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /no token/);
  const nouser = await runCli(['--data', data, 'token', 'add', 'nobody@example.org']);
  assert.equal(nouser.code, 1);
  assert.match(nouser.stderr, /no such user/);
});
