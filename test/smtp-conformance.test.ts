/**
 * RFC 5321 conformance of the MX, LMTP and submission listeners over raw sockets:
 * - RCPT TO:<Postmaster> without a domain is accepted and delivered (4.1.1.3, 4.5.1), and postmaster@ of each
 *   local domain reaches an administrator when no user or alias takes it; without one the refusal says why
 *   (MX, LMTP, and submission, whose sender is then alice).
 * - MAIL/RCPT parameters the listener does not advertise are 555 5.5.4 (3.3, 4.1.1.11); advertised ones pass.
 * - a malformed EHLO/HELO/LHLO argument is 501, without an enhanced status code (RFC 2034 section 3 excludes
 *   HELO/EHLO replies) (4.1.1.1, 4.1.3); sloppy but harmless names pass.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createLmtpService, createOutboundQueue, createSmtpService, createSubmissionService } from '../src/delivery/index.js';
import type { NetService } from '../src/lib/service.js';
import { makeEnv, mailboxContents, RawSmtp, type Env, type Reply } from './delivery/helpers.js';

interface Listener {
  name: string;
  hello: 'EHLO' | 'LHLO';
  port: number;
}

let env: Env;
const services: NetService[] = [];
const listeners: Record<'mx' | 'lmtp' | 'submission', Listener> = {
  mx: { name: 'MX', hello: 'EHLO', port: 0 },
  lmtp: { name: 'LMTP', hello: 'LHLO', port: 0 },
  submission: { name: 'submission', hello: 'EHLO', port: 0 },
};
const queue = () => createOutboundQueue({ store: env.store, auth: env.auth, hostname: 'mx.example.org' });

before(async () => {
  env = await makeEnv([
    ['alice@example.org', 'pw'],
    ['root@example.org', 'pw'],
    ['carol@example.net', 'pw'],
  ]);
  await env.store.directory.addDomain('empty.test');
  const opts = { store: env.store, auth: env.auth, hostname: 'mx.example.org' };
  const make = [createSmtpService(opts), createLmtpService(opts), createSubmissionService({ ...opts, outbound: queue() })];
  services.push(...make);
  const [mx, lmtp, submission] = await Promise.all(make.map((s) => s.listen({ host: '127.0.0.1', port: 0, implicitTls: false })));
  listeners.mx.port = mx!.port;
  listeners.lmtp.port = lmtp!.port;
  listeners.submission.port = submission!.port;
});
after(async () => {
  await Promise.all(services.map((s) => s.close()));
  await env.close();
});

async function session(l: Listener, hello = 'client.test'): Promise<RawSmtp> {
  const { client, greeting } = await RawSmtp.open(l.port);
  assert.equal(greeting.code, 220);
  const r = await client.cmd(`${l.hello} ${hello}`);
  assert.equal(r.code, 250, r.text);
  return client;
}

/** A session of `l` that is ready for MAIL (authenticated on submission). */
async function ready(l: Listener): Promise<RawSmtp> {
  const c = await session(l);
  if (l === listeners.submission) assert.equal((await c.cmd(`AUTH PLAIN ${Buffer.from('\0alice@example.org\0pw').toString('base64')}`)).code, 235);
  return c;
}

/** The envelope and header sender used on `l`: submission wants one of the user's addresses. */
const sender = (l: Listener) => (l === listeners.submission ? 'alice@example.org' : 'a@remote.test');
const message = (l: Listener, subject: string) => `From: ${sender(l)}\r\nTo: postmaster\r\nSubject: ${subject}\r\n\r\nbody\r\n`;
const all = () => Object.values(listeners);

async function inboxWith(address: string, subject: string): Promise<Buffer | undefined> {
  return (await mailboxContents(env.store, address)).find((m) => m.includes(`Subject: ${subject}\r\n`));
}

describe('RCPT TO:<Postmaster>', () => {
  test('without an administrator: refused with 550 5.1.1 saying what is missing, never a syntax error', async () => {
    for (const l of all()) {
      const c = await ready(l);
      assert.equal((await c.cmd(`MAIL FROM:<${sender(l)}>`)).code, 250);
      for (const rcpt of ['<postmaster>', '<Postmaster>', '<postmaster@example.org>', '<POSTMASTER@empty.test>']) {
        const r = await c.cmd(`RCPT TO:${rcpt}`);
        assert.equal(r.code, 550, `${l.name} ${rcpt}: ${r.text}`);
        assert.match(r.text, /^550 5\.1\.1 No mailbox for postmaster@(example\.org|empty\.test) here: no user or alias/);
      }
      assert.match((await c.cmd('RCPT TO:<nobody@example.org>')).text, /^550 5\.1\.1 No such user here/, 'others keep the plain refusal');
      c.close();
    }
  });

  test('an alias postmaster@domain wins; the bare form is the postmaster of the hostname\'s domain', async () => {
    await env.store.directory.addAlias('postmaster@example.org', 'root@example.org');
    try {
      for (const l of all()) {
        const c = await ready(l);
        assert.equal((await c.cmd(`MAIL FROM:<${sender(l)}>`)).code, 250);
        assert.equal((await c.cmd('RCPT TO:<Postmaster>')).code, 250);
        const r = await c.data(message(l, `bare ${l.name}`));
        assert.equal(r.code, 250, r.text);
        c.close();
        const copy = await inboxWith('root@example.org', `bare ${l.name}`);
        assert.ok(copy, `${l.name}: delivered to the alias target`);
        assert.ok(copy.toString().startsWith(`Return-Path: <${sender(l)}>\r\nDelivered-To: postmaster@example.org\r\n`), copy.toString());
        if (l !== listeners.submission) assert.match(copy.toString(), /for <postmaster@example\.org>;/);
      }
    } finally {
      await env.store.directory.removeAlias('postmaster@example.org');
    }
  });

  test('with an administrator: postmaster of every local domain reaches them, one copy per message', async () => {
    await env.store.directory.setAdmin('carol@example.net', true);
    try {
      for (const l of all()) {
        const c = await ready(l);
        assert.equal((await c.cmd(`MAIL FROM:<${sender(l)}>`)).code, 250);
        for (const rcpt of ['<postmaster>', '<postmaster@example.org>', '<PostMaster@empty.test>']) assert.equal((await c.cmd(`RCPT TO:${rcpt}`)).code, 250, `${l.name} ${rcpt}`);
        if (l !== listeners.submission) assert.equal((await c.cmd('RCPT TO:<postmaster@remote.test>')).code, 550, 'a foreign postmaster is still not ours');
        assert.equal((await c.cmd('RCPT TO:<abuse@example.org>')).code, 550, 'only postmaster falls back to the administrator');
        const r = await c.data(message(l, `admin ${l.name}`));
        assert.equal(r.code, 250, r.text);
        if (l === listeners.lmtp) {
          for (let i = 0; i < 2; i++) assert.equal((await c.reply()).code, 250, 'one LMTP reply per accepted RCPT');
        }
        c.close();
        const copies = (await mailboxContents(env.store, 'carol@example.net')).filter((m) => m.includes(`Subject: admin ${l.name}\r\n`));
        assert.equal(copies.length, 1, `${l.name}: one copy for the administrator`);
        assert.ok(copies[0]!.toString().startsWith(`Return-Path: <${sender(l)}>\r\nDelivered-To: postmaster@example.org\r\n`));
      }
      // an administrator of the recipient's domain is preferred to the first administrator by address
      await env.store.directory.setAdmin('root@example.org', true);
      const c = await ready(listeners.mx);
      assert.equal((await c.cmd('MAIL FROM:<>')).code, 250);
      assert.equal((await c.cmd('RCPT TO:<postmaster@example.org>')).code, 250);
      assert.equal((await c.data(message(listeners.mx, 'same domain'))).code, 250);
      c.close();
      assert.ok(await inboxWith('root@example.org', 'same domain'));
      assert.equal(await inboxWith('carol@example.net', 'same domain'), undefined);
    } finally {
      await env.store.directory.setAdmin('carol@example.net', false);
      await env.store.directory.setAdmin('root@example.org', false);
    }
  });

  test('an address that only looks like postmaster is still checked as an address', async () => {
    const c = await ready(listeners.mx);
    assert.equal((await c.cmd('MAIL FROM:<a@remote.test>')).code, 250);
    for (const rcpt of ['<postmaster.x>', '<postmaster@>', '<post master>', '<>']) assert.equal((await c.cmd(`RCPT TO:${rcpt}`)).code, 501, rcpt);
    c.close();
  });
});

describe('MAIL FROM / RCPT TO parameters', () => {
  test('a parameter that is not advertised is 555 5.5.4 on every listener; the session goes on', async () => {
    for (const l of all()) {
      const c = await ready(l);
      for (const param of ['FOO=BAR', 'FOO', 'X-Y=1', 'RET=FULL', 'ENVID=abc', 'REQUIRETLS', 'BODY=8BITMIME FOO=1']) {
        const r = await c.cmd(`MAIL FROM:<alice@example.org> ${param}`);
        assert.equal(r.code, 555, `${l.name} ${param}: ${r.text}`);
        assert.match(r.text, /^555 5\.5\.4 MAIL FROM parameters not recognized or not implemented/);
      }
      assert.match((await c.cmd('MAIL FROM:<alice@example.org> FOO=BAR')).text, /: FOO$/, 'the keyword is named');
      for (const sep of ['\f', '\t', '\u00a0']) assert.equal((await c.cmd(`MAIL FROM:<alice@example.org>${sep}FOO=1`)).code, 555, `separated by ${JSON.stringify(sep)}`);
      assert.doesNotMatch((await c.cmd('MAIL FROM:<alice@example.org> %%=1')).text, /%%/, 'a malformed keyword is not echoed');
      assert.equal((await c.cmd('MAIL FROM:<alice@example.org>')).code, 250, 'no transaction was started by the refusals');
      for (const param of ['NOTIFY=NEVER', 'ORCPT=rfc822;x@y', 'FOO=BAR', 'XRCPTFORWARD=1']) {
        const r = await c.cmd(`RCPT TO:<alice@example.org> ${param}`);
        assert.equal(r.code, 555, `${l.name} ${param}: ${r.text}`);
        assert.match(r.text, /^555 5\.5\.4 RCPT TO parameters not recognized or not implemented/);
      }
      assert.equal((await c.cmd('RCPT TO:<alice@example.org>')).code, 250);
      c.close();
    }
  });

  test('advertised parameters pass; their values are checked', async () => {
    for (const l of all()) {
      const c = await ready(l);
      for (const params of ['SIZE=100', 'BODY=8BITMIME', 'BODY=7bit', 'SMTPUTF8', 'size=10 body=8bitmime smtputf8']) {
        const r = await c.cmd(`MAIL FROM:<alice@example.org> ${params}`);
        assert.equal(r.code, 250, `${l.name} ${params}: ${r.text}`);
        assert.equal((await c.cmd('RSET')).code, 250);
      }
      for (const params of ['SIZE=abc', 'SIZE', 'BODY=BINARYMIME', 'BODY=9BIT', 'SMTPUTF8=yes', 'SIZE=1 SIZE=2']) {
        const r = await c.cmd(`MAIL FROM:<alice@example.org> ${params}`);
        assert.equal(r.code, 501, `${l.name} ${params}: ${r.text}`);
        assert.match(r.text, /^501 5\.5\.4 /);
      }
      c.close();
    }
  });

  test('AUTH= is recognised where AUTH is offered (submission) and needs a value', async () => {
    const sub = await ready(listeners.submission);
    assert.equal((await sub.cmd('MAIL FROM:<alice@example.org> AUTH=<>')).code, 250);
    assert.equal((await sub.cmd('RSET')).code, 250);
    assert.equal((await sub.cmd('MAIL FROM:<alice@example.org> AUTH=alice+40example.org')).code, 250);
    assert.equal((await sub.cmd('RSET')).code, 250);
    assert.match((await sub.cmd('MAIL FROM:<alice@example.org> AUTH')).text, /^501 5\.5\.4 AUTH parameter requires a value/);
    sub.close();
    for (const l of [listeners.mx, listeners.lmtp]) {
      const c = await ready(l);
      assert.equal((await c.cmd('MAIL FROM:<a@remote.test> AUTH=<>')).code, 555, `${l.name}: no AUTH offered`);
      c.close();
    }
  });

  test('sequence errors and bad addresses keep their own replies', async () => {
    const c = await ready(listeners.mx);
    assert.equal((await c.cmd('RCPT TO:<alice@example.org> FOO=1')).code, 503, 'RCPT before MAIL');
    assert.equal((await c.cmd('MAIL FROM:<a b@c> FOO=1')).code, 501, 'bad address');
    assert.equal((await c.cmd('MAIL FROM:<a@remote.test>')).code, 250);
    assert.equal((await c.cmd('MAIL FROM:<a@remote.test> FOO=1')).code, 503, 'nested MAIL');
    c.close();
  });
});

describe('EHLO / HELO / LHLO argument', () => {
  const good = ['client.test', 'CLIENT.Example.ORG.', 'host_name.example', 'localhost', 'a-b.c', '[1.2.3.4]', '[IPv6:2001:db8::1]', '[ipv6:::1]', '[x-tag:abc]', '192.0.2.1', '2001:db8::1', '123'];
  const bad = ['[1.2.3.4', '1.2.3.4]', '[]', '[999.1.1.1]', '[1.2.3]', '[IPv6:zz::1]', '[IPv6:1.2.3.4]', 'a..b', '.a', '-a.b', 'a-.b', 'caf\u00e9.test', 'a/b', 'a@b', 'a:b', '"a"', `${'a'.repeat(64)}.test`];

  test('malformed names are 501 (no enhanced code) on every listener; good ones (sloppy included) pass', async () => {
    for (const l of all()) {
      // submission closes a session after 10 commands without AUTH: a new session every 8 commands
      let client = (await RawSmtp.open(l.port)).client;
      let sent = 0;
      const send = async (line: string): Promise<Reply> => {
        if (++sent % 8 === 0) {
          client.close();
          client = (await RawSmtp.open(l.port)).client;
        }
        client.write(Buffer.from(`${line}\r\n`, 'utf8'));
        return client.reply();
      };
      const verbs = l === listeners.lmtp ? ['LHLO'] : ['EHLO', 'HELO'];
      for (const verb of verbs) {
        for (const name of bad) {
          const r = await send(`${verb} ${name}`);
          assert.equal(r.code, 501, `${l.name} ${verb} ${name}: ${r.text}`);
          assert.match(r.text, /^501 Invalid domain name/);
        }
        for (const name of good) assert.equal((await send(`${verb} ${name}`)).code, 250, `${l.name} ${verb} ${name}`);
      }
      client.close();
    }
  });

  test('8-bit bytes (raw latin-1 or UTF-8) are refused, and a refused EHLO does not open the session', async () => {
    const { client } = await RawSmtp.open(listeners.mx.port);
    for (const raw of [Buffer.from('EHLO caf\xe9.test\r\n', 'latin1'), Buffer.from('EHLO \xff\r\n', 'latin1'), Buffer.from('EHLO \u0445\u043e\u0441\u0442.test\r\n', 'utf8')]) {
      client.write(raw);
      assert.equal((await client.reply()).code, 501);
    }
    assert.equal((await client.cmd('MAIL FROM:<a@remote.test>')).code, 503, 'still no EHLO');
    assert.equal((await client.cmd('EHLO [1.2.3.4')).code, 501);
    assert.equal((await client.cmd('EHLO')).code, 501, 'missing argument');
    assert.equal((await client.cmd('EHLO [192.0.2.7]')).code, 250);
    assert.equal((await client.cmd('MAIL FROM:<a@remote.test>')).code, 250);
    assert.equal((await client.cmd('RCPT TO:<alice@example.org>')).code, 250);
    const r = await client.data('Subject: literal helo\r\n\r\nx\r\n');
    assert.equal(r.code, 250);
    client.close();
    assert.match((await inboxWith('alice@example.org', 'literal helo'))!.toString(), /Received: from \[192\.0\.2\.7\] /);
  });
});
