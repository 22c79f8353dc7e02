/**
 * The web interface's HTTP API over raw HTTP: sign-in cookies and CSRF, session expiry, sign-out, the admin
 * API (role checks, users, domains, aliases, queue), autoconfig in its three formats, /metrics, and the
 * administrator role from the CLI.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ADMIN, ADMIN_PASS, ALICE, ALICE_PASS, Client, startWeb } from './web-helpers.js';
import { runCli } from './helpers/cli.js';
import { sanitizeMailHtml } from '../src/web/sanitize.js';
import { RecentLog, recentLog, withRecentLog } from '../src/lib/metrics.js';
import { memoryLogger, type LogLine } from '../src/lib/logger.js';

test('sign-in sets HttpOnly SameSite=Strict session and readable CSRF cookies; CSRF is enforced; sign-out ends the session', async (t) => {
  const w = await startWeb(t);
  const c = new Client(w.url);
  const bad = await c.signIn(ALICE, 'wrong password');
  assert.equal(bad.status, 401);
  assert.equal(c.cookies.size, 0);
  const missing = await c.req('POST', '/api/session', { email: ALICE });
  assert.equal(missing.status, 400);

  const r = await c.signIn(ALICE, ALICE_PASS);
  assert.equal(r.status, 200, r.text);
  assert.deepEqual({ address: r.json.address, admin: r.json.admin }, { address: ALICE, admin: false });
  const set = r.headers.getSetCookie();
  const session = set.find((x) => x.startsWith('mr_session='))!;
  const csrf = set.find((x) => x.startsWith('mr_csrf='))!;
  assert.match(session, /; HttpOnly/);
  assert.match(session, /SameSite=Strict/);
  assert.doesNotMatch(session, /Secure/, 'plain HTTP: no Secure flag');
  assert.doesNotMatch(csrf, /HttpOnly/, 'the page must read mr_csrf');
  assert.match(csrf, /SameSite=Strict/);

  assert.equal((await c.req('GET', '/api/session')).json.address, ALICE);
  // An unsafe request with the cookie but without (or with a wrong) X-CSRF-Token is refused.
  const noCsrf = await c.req('POST', '/api/tokens', { name: 'phone' }, { csrf: false });
  assert.equal(noCsrf.status, 403);
  const wrong = await c.req('POST', '/api/tokens', { name: 'phone' }, { csrf: false, headers: { 'x-csrf-token': 'guess' } });
  assert.equal(wrong.status, 403);

  const tok = await c.req('POST', '/api/tokens', { name: 'phone' });
  assert.equal(tok.status, 200, tok.text);
  assert.match(tok.json.secret, /^mrt_/);
  const list = await c.req('GET', '/api/tokens');
  assert.deepEqual(list.json.tokens.map((x: { name: string }) => x.name), ['phone'], 'session tokens are not listed');
  // The app token works as a bearer credential for the same API.
  const bearer = await fetch(`${w.url}/api/session`, { headers: { authorization: `Bearer ${tok.json.secret}` } });
  assert.equal(((await bearer.json()) as { address: string }).address, ALICE);
  assert.equal((await c.req('DELETE', `/api/tokens/${tok.json.id}`)).status, 200);
  assert.equal((await c.req('DELETE', `/api/tokens/${tok.json.id}`)).status, 404);

  const secret = c.cookies.get('mr_session')!;
  assert.equal((await c.req('DELETE', '/api/session', undefined, { csrf: false })).status, 403, 'sign-out needs the CSRF header too');
  assert.equal((await c.req('DELETE', '/api/session')).status, 200);
  assert.equal(c.cookies.size, 0, 'both cookies cleared');
  const replay = await fetch(`${w.url}/api/session`, { headers: { cookie: `mr_session=${secret}` } });
  assert.equal(replay.status, 401, 'the session token is revoked at sign-out');
});

test('a session expires after its lifetime; the password change works and takes effect', async (t) => {
  const w = await startWeb(t, { sessionTtlMs: 1500 });
  const c = new Client(w.url);
  const r = await c.signIn(ALICE, ALICE_PASS);
  assert.match(r.headers.getSetCookie().join('\n'), /mr_session=[^;]+; Path=\/; Max-Age=1;/);
  assert.equal((await c.req('GET', '/api/session')).status, 200);
  await new Promise((res) => setTimeout(res, 1700));
  assert.equal((await c.req('GET', '/api/session')).status, 401, 'expired');

  const c2 = new Client(w.url);
  await c2.signIn(ALICE, ALICE_PASS);
  assert.equal((await c2.req('POST', '/api/password', { current: 'nope', next: 'new-password-1' })).status, 403);
  assert.equal((await c2.req('POST', '/api/password', { current: ALICE_PASS, next: 'short' })).status, 400);
  assert.equal((await c2.req('POST', '/api/password', { current: ALICE_PASS, next: 'new-password-1' })).status, 200);
  assert.equal((await new Client(w.url).signIn(ALICE, ALICE_PASS)).status, 401);
  assert.equal((await new Client(w.url).signIn(ALICE, 'new-password-1')).status, 200);
});

test('admin API: administrators only; users, roles, domains with DNS records, aliases, queue and status', async (t) => {
  const w = await startWeb(t);
  const alice = new Client(w.url);
  await alice.signIn(ALICE, ALICE_PASS);
  assert.equal((await alice.req('GET', '/api/admin/users')).status, 403);
  assert.equal((await new Client(w.url).req('GET', '/api/admin/users')).status, 401);

  const a = new Client(w.url);
  const s = await a.signIn(ADMIN, ADMIN_PASS);
  assert.equal(s.json.admin, true);
  const users = await a.req('GET', '/api/admin/users');
  assert.deepEqual(users.json.users.map((u: { address: string; admin: boolean }) => [u.address, u.admin]), [[ADMIN, true], [ALICE, false]]);
  assert.equal((await a.req('POST', '/api/admin/users', { address: 'not an address' })).status, 400);
  const created = await a.req('POST', '/api/admin/users', { address: 'Carol@Example.net' });
  assert.equal(created.status, 201);
  assert.equal(created.json.address, 'carol@example.net');
  assert.equal((await new Client(w.url).signIn('carol@example.net', created.json.password)).status, 200);
  assert.equal((await a.req('POST', '/api/admin/users', { address: 'carol@example.net' })).status, 409);
  const reset = await a.req('POST', '/api/admin/users/carol%40example.net/password', {});
  assert.equal((await new Client(w.url).signIn('carol@example.net', reset.json.password)).status, 200);
  assert.equal((await a.req('POST', '/api/admin/users/carol%40example.net/admin', { admin: true })).json.admin, true);
  assert.equal((await w.store.directory.getUser('carol@example.net'))?.admin, true);
  assert.equal((await a.req('POST', '/api/admin/users/nobody%40example.net/admin', { admin: true })).status, 404);
  const quota = await a.req('PUT', '/api/admin/users/carol%40example.net/quota', { storage: 1048576, messages: null });
  assert.equal(quota.json.limits.storage, 1048576);

  const domains = await a.req('GET', '/api/admin/domains');
  const ex = domains.json.domains.find((d: { name: string }) => d.name === 'example.net');
  assert.ok(ex, 'the domain of a created user is listed');
  assert.deepEqual(ex.records.map((r: { kind: string; name: string }) => `${r.kind} ${r.name}`), ['MX example.net', 'SPF example.net', 'DMARC _dmarc.example.net']);
  assert.equal(ex.records[0].zone, 'example.net. IN MX 10 mail.example.org.');
  assert.equal((await a.req('POST', '/api/admin/domains', { name: 'bad domain' })).status, 400);
  const added = await a.req('POST', '/api/admin/domains', { name: 'Example.COM' });
  assert.equal(added.json.name, 'example.com');
  const dkim = added.json.records.find((r: { kind: string }) => r.kind === 'DKIM');
  assert.ok(dkim, 'a new domain gets a DKIM key and its record');
  assert.match(dkim.zone, /^\S+\._domainkey\.example\.com\. IN TXT "v=DKIM1; k=rsa; p=/);

  assert.equal((await a.req('POST', '/api/admin/aliases', { from: 'info@example.net', to: 'carol@example.net' })).status, 201);
  assert.deepEqual((await a.req('GET', '/api/admin/aliases')).json.aliases, [{ from: 'info@example.net', to: 'carol@example.net' }]);
  assert.equal((await a.req('DELETE', '/api/admin/aliases/info%40example.net')).status, 200);
  assert.equal((await a.req('DELETE', '/api/admin/aliases/info%40example.net')).status, 404);

  // The queue: one message to retry, one to bounce (the sender gets a DSN), one to delete.
  const raw = Buffer.from('From: alice@example.org\r\nTo: x@remote.test\r\nSubject: q\r\nMessage-ID: <q@x>\r\n\r\nbody\r\n');
  const q1 = await w.store.queue.enqueue(ALICE, ['x@remote.test'], raw);
  const q2 = await w.store.queue.enqueue(ALICE, ['y@remote.test'], raw);
  const q3 = await w.store.queue.enqueue(ALICE, ['z@remote.test'], raw);
  await w.store.queue.update(q1, { recipients: ['x@remote.test'], attempts: 2, nextAttemptAt: new Date(Date.now() + 3600_000), lastError: '451 later' });
  const listed = await a.req('GET', '/api/admin/queue');
  assert.deepEqual(listed.json.queue.map((m: { id: string }) => m.id).sort(), [q1, q2, q3].sort());
  assert.equal((await a.req('POST', `/api/admin/queue/${q1}/retry`)).status, 200);
  const after = (await w.store.queue.list()).find((m) => m.id === q1)!;
  assert.ok(after.nextAttemptAt.getTime() <= Date.now(), 'retry makes it due now');
  const bounced = await a.req('POST', `/api/admin/queue/${q2}/bounce`);
  assert.equal(bounced.json.notified, ALICE);
  const dsn = (await w.store.queue.list()).find((m) => m.sender === '');
  assert.ok(dsn, 'a bounce to the sender is queued');
  assert.match((await w.store.queue.read(dsn.id)).toString(), /Delivery cancelled by the administrator/);
  assert.equal((await a.req('DELETE', `/api/admin/queue/${q3}`)).status, 200);
  assert.equal((await a.req('DELETE', `/api/admin/queue/${q3}`)).status, 404);
  const ids = (await w.store.queue.list()).map((m) => m.id);
  assert.ok(ids.includes(q1) && !ids.includes(q2) && !ids.includes(q3));

  const status = await a.req('GET', '/api/admin/status');
  assert.equal(status.json.hostname, 'mail.example.org');
  assert.equal(status.json.users, 3);
  assert.deepEqual(status.json.listeners, [{ name: 'imap', port: 1143, tls: 'starttls' }]);
  assert.equal(status.json.queueLength, ids.length);

  assert.equal((await a.req('DELETE', '/api/admin/users/carol%40example.net')).status, 200);
  assert.equal(await w.store.directory.getUser('carol@example.net'), null);
});

test('autoconfig lists the real ports and TLS modes: Thunderbird, Autodiscover, Apple profile', async (t) => {
  const p = { imap: 1143, imaps: 1993, pop3: 1110, pop3s: 1995, lmtp: 2424, submission: 1587, submissions: 1465 };
  const w = await startWeb(t, {
    listeners: [
      { name: 'imap', port: p.imap, tls: 'starttls' },
      { name: 'imaps', port: p.imaps, tls: 'implicit' },
      { name: 'pop3', port: p.pop3, tls: 'starttls' },
      { name: 'pop3s', port: p.pop3s, tls: 'implicit' },
      { name: 'lmtp', port: p.lmtp, tls: 'none' },
      { name: 'submission', port: p.submission, tls: 'starttls' },
      { name: 'submissions', port: p.submissions, tls: 'implicit' },
    ],
  });
  for (const path of ['/.well-known/autoconfig/mail/config-v1.1.xml', '/mail/config-v1.1.xml?emailaddress=alice%40example.org']) {
    const res = await fetch(w.url + path);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type')!, /xml/);
    const xml = await res.text();
    assert.match(xml, new RegExp(`<incomingServer type="imap">\\s*<hostname>mail.example.org</hostname>\\s*<port>${p.imaps}</port>\\s*<socketType>SSL</socketType>`));
    assert.match(xml, new RegExp(`<incomingServer type="imap">\\s*<hostname>mail.example.org</hostname>\\s*<port>${p.imap}</port>\\s*<socketType>STARTTLS</socketType>`));
    assert.match(xml, new RegExp(`<incomingServer type="pop3">[\\s\\S]*?<port>${p.pop3s}</port>`));
    assert.match(xml, new RegExp(`<outgoingServer type="smtp">\\s*<hostname>mail.example.org</hostname>\\s*<port>${p.submissions}</port>\\s*<socketType>SSL</socketType>`));
    assert.match(xml, new RegExp(`<port>${p.submission}</port>\\s*<socketType>STARTTLS</socketType>`));
    assert.doesNotMatch(xml, new RegExp(`<port>${p.lmtp}</port>`), 'LMTP is not for clients');
  }
  const ad = await fetch(`${w.url}/autodiscover/autodiscover.xml`, {
    method: 'POST',
    headers: { 'content-type': 'text/xml' },
    body: '<?xml version="1.0"?><Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006"><Request><EMailAddress>alice@example.org</EMailAddress><AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema></Request></Autodiscover>',
  });
  assert.equal(ad.status, 200);
  const adXml = await ad.text();
  assert.match(adXml, new RegExp(`<Type>IMAP</Type>\\s*<Server>mail.example.org</Server>\\s*<Port>${p.imaps}</Port>\\s*<LoginName>alice@example.org</LoginName>\\s*<SPA>off</SPA>\\s*<SSL>on</SSL>`));
  assert.match(adXml, new RegExp(`<Type>SMTP</Type>\\s*<Server>mail.example.org</Server>\\s*<Port>${p.submission}</Port>[\\s\\S]*?<Encryption>TLS</Encryption>`));
  const bad = await fetch(`${w.url}/autodiscover/autodiscover.xml`, { method: 'POST', headers: { 'content-type': 'text/xml' }, body: '<Autodiscover/>' });
  assert.equal(bad.status, 400);

  const apple = await fetch(`${w.url}/apple/mobileconfig?email=alice%40example.org`);
  assert.equal(apple.status, 200);
  assert.match(apple.headers.get('content-type')!, /application\/x-apple-aspen-config/);
  const plist = await apple.text();
  assert.match(plist, new RegExp(`<key>IncomingMailServerPortNumber</key>\\s*<integer>${p.imaps}</integer>\\s*<key>IncomingMailServerUseSSL</key>\\s*<true/>`));
  assert.match(plist, new RegExp(`<key>OutgoingMailServerPortNumber</key>\\s*<integer>${p.submissions}</integer>`));
  assert.match(plist, /<key>EmailAddress<\/key>\s*<string>alice@example.org<\/string>/);
  assert.equal((await fetch(`${w.url}/apple/mobileconfig?email=%3Cscript%3E`)).status, 400);
});

test('/metrics: Prometheus text to loopback clients; the counters count web sign-in failures', async (t) => {
  const w = await startWeb(t);
  const before = await (await fetch(`${w.url}/metrics`)).text();
  const count = (text: string) => Number(/^mailroom_auth_failures_total (\d+)/m.exec(text)?.[1] ?? 0);
  await new Client(w.url).signIn(ALICE, 'wrong');
  const res = await fetch(`${w.url}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type')!, /^text\/plain; version=0.0.4/);
  const text = await res.text();
  assert.match(text, /^# TYPE mailroom_connections_total counter$/m);
  assert.match(text, /^mailroom_outbound_queue_length 0$/m);
  assert.equal(count(text), count(before) + 1);
});

test('the page is served with a strict CSP; the bundle is built', async (t) => {
  const w = await startWeb(t);
  const res = await fetch(`${w.url}/`);
  assert.equal(res.status, 200);
  const csp = res.headers.get('content-security-policy')!;
  assert.match(csp, /script-src 'self'(;|$)/);
  assert.match(csp, /frame-ancestors 'none'/);
  const js = await fetch(`${w.url}/assets/app.js`);
  assert.equal(js.status, 200, 'npm run build produces dist/web/assets/app.js');
  assert.match(js.headers.get('content-type')!, /javascript/);
  assert.equal((await fetch(`${w.url}/assets/..%2Fpackage.json`)).status, 404);
});

test('the sanitizer removes scripts, handlers, javascript: URLs, forms, meta, CSS url() and remote images', () => {
  const s = sanitizeMailHtml(
    '<p onclick="x()">hi<script>alert(1)</script></p><a href="javascript:alert(1)">j</a><a href="https://ok.test/">ok</a>' +
      '<form action="https://evil.test"><input name=a></form><meta http-equiv="refresh" content="0;url=https://evil.test">' +
      '<div style="background:url(https://evil.test/x.png);color:red">c</div><img src="https://track.test/p.gif"><img src="data:image/png;base64,AAAA">' +
      '<style>body{background:url(https://evil.test/s)}</style><iframe src="https://evil.test"></iframe><svg><image href="https://evil.test/i"/></svg>',
  );
  assert.equal(s.blockedImages, 1);
  assert.doesNotMatch(s.html, /script|onclick|javascript:|<form|<input|<meta|url\(|track\.test|<style|<iframe|<svg|evil\.test/i);
  assert.match(s.html, /<a href="https:\/\/ok.test\/" target="_blank" rel="noopener noreferrer">ok<\/a>/);
  assert.match(s.html, /src="data:image\/png;base64,AAAA"/);
  assert.match(sanitizeMailHtml('<img src="https://img.test/a.png">', { remoteImages: true }).html, /src="https:\/\/img.test\/a.png"/);
});

test('mailroom user add --admin and user admin on|off set the administrator role', async (t) => {
  const data = await mkdtemp(join(tmpdir(), 'mailroom-web-cli-'));
  t.after(() => rm(data, { recursive: true, force: true }));
  let r = await runCli(['user', 'add', 'boss@example.org', '--admin', '--password-stdin', '--data', data], { input: 'pw-boss-1\n' });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /created boss@example.org \(administrator\)/);
  r = await runCli(['user', 'add', 'staff@example.org', '--password-stdin', '--data', data], { input: 'pw-staff-1\n' });
  r = await runCli(['user', 'list', '--data', data]);
  assert.match(r.stdout, /^boss@example.org\t.*\tadmin$/m);
  assert.match(r.stdout, /^staff@example.org\t/m);
  assert.doesNotMatch(r.stdout, /^staff@example.org\t.*\tadmin$/m);
  r = await runCli(['user', 'admin', 'staff@example.org', 'on', '--data', data]);
  assert.equal(r.stdout, 'staff@example.org: admin on\n');
  r = await runCli(['user', 'admin', 'boss@example.org', 'off', '--data', data]);
  r = await runCli(['user', 'list', '--json', '--data', data]);
  assert.deepEqual(JSON.parse(r.stdout).map((u: { address: string; admin: boolean }) => [u.address, u.admin]), [['boss@example.org', false], ['staff@example.org', true]]);
  r = await runCli(['user', 'admin', 'nobody@example.org', 'on', '--data', data]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /no such user/);
  r = await runCli(['user', 'admin', 'staff@example.org', 'maybe', '--data', data]);
  assert.notEqual(r.code, 0);
});

test('recent log: the server logger keeps info+ lines with child fields; the admin API filters them', async (t) => {
  const ring = new RecentLog(3);
  const lines: LogLine[] = [];
  const log = withRecentLog(memoryLogger(lines), ring);
  log.debug({ a: 1 }, 'not kept');
  log.info({ a: 1 }, 'one');
  log.child({ listener: 'imap' }).warn({ ip: '192.0.2.1' }, 'two');
  log.error({ err: new Error('boom') }, 'three');
  log.info({}, 'four');
  assert.equal(lines.length, 5, 'everything still reaches the wrapped logger');
  assert.deepEqual(ring.lines().map((l) => l.msg), ['two', 'three', 'four'], 'oldest dropped past the size');
  assert.equal(ring.lines({ minLevel: 'warn' }).length, 2);
  assert.match(ring.lines({ filter: 'IMAP' })[0]!.fields, /"listener":"imap","ip":"192.0.2.1"/);
  assert.match(ring.lines({ filter: 'boom' })[0]!.fields, /"err":"boom"/);

  const w = await startWeb(t);
  recentLog.add('warn', { marker: 'web-api-test' }, 'a line for the admin page');
  const a = new Client(w.url);
  await a.signIn(ADMIN, ADMIN_PASS);
  const r = await a.req('GET', '/api/admin/log?filter=web-api-test&level=warn');
  assert.equal(r.status, 200);
  assert.deepEqual(r.json.lines.map((l: { msg: string }) => l.msg), ['a line for the admin page']);
  const alice = new Client(w.url);
  await alice.signIn(ALICE, ALICE_PASS);
  assert.equal((await alice.req('GET', '/api/admin/log')).status, 403);
});
