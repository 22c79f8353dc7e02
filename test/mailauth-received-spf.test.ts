/**
 * Received-SPF (RFC 7208 section 9.1): the field's syntax per result (result, comment, key-value pairs with
 * quoted values where a dot-atom will not do), HELO as the identity for the null sender, hostile values kept
 * inside the field, and the SMTP MX putting it beside Authentication-Results (DNS on loopback).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSmtpService } from '../src/delivery/index.js';
import { createResolver, type RecordType } from '../src/lib/dns.js';
import { createMxChecker } from '../src/mailauth/index.js';
import { receivedSpfField } from '../src/mailauth/received-spf.js';
import { startTestDns } from '../support/dns.js';
import { mailboxContents, makeEnv, RawSmtp } from './delivery/helpers.js';

const base = { ip: '192.0.2.1', sender: 'a@example.com', envelopeFrom: 'a@example.com', helo: 'mail.example.com', receiver: 'mx.example.org' };

test('the field for each result, quoting, the null sender, hostile values', () => {
  assert.equal(
    receivedSpfField({ ...base, result: 'pass' }),
    'Received-SPF: pass (mx.example.org: domain of a@example.com designates 192.0.2.1 as permitted sender)\r\n client-ip=192.0.2.1;\r\n envelope-from="a@example.com";\r\n helo=mail.example.com;\r\n receiver=mx.example.org;\r\n identity=mailfrom\r\n',
  );
  assert.match(receivedSpfField({ ...base, result: 'fail' }), /^Received-SPF: fail \(mx\.example\.org: domain of a@example\.com does not designate 192\.0\.2\.1 as permitted sender\)/);
  assert.match(receivedSpfField({ ...base, result: 'softfail' }), /^Received-SPF: softfail \(mx\.example\.org: domain of transitioning a@example\.com does not designate/);
  assert.match(receivedSpfField({ ...base, result: 'neutral' }), /^Received-SPF: neutral \(mx\.example\.org: 192\.0\.2\.1 is neither permitted nor denied by domain of a@example\.com\)/);
  assert.match(receivedSpfField({ ...base, result: 'none' }), /^Received-SPF: none \(mx\.example\.org: example\.com does not publish an SPF record\)/);
  assert.match(receivedSpfField({ ...base, result: 'temperror' }), /^Received-SPF: temperror \(mx\.example\.org: error in processing during lookup of example\.com\)/);
  assert.match(receivedSpfField({ ...base, result: 'bogus' }), /^Received-SPF: temperror /, 'an unknown result is not written as it is');
  const v6 = receivedSpfField({ ...base, result: 'pass', ip: '2001:db8::1' });
  assert.match(v6, /client-ip="2001:db8::1";/, 'an IPv6 address is not a dot-atom');
  const nullSender = receivedSpfField({ ...base, result: 'pass', sender: 'postmaster@mail.example.com', envelopeFrom: '' });
  assert.doesNotMatch(nullSender, /envelope-from/);
  assert.match(nullSender, /helo=mail\.example\.com;\r\n receiver=mx\.example\.org;\r\n identity=helo\r\n$/);
  const hostile = receivedSpfField({ ...base, result: 'pass', envelopeFrom: 'x"y\r\nBcc: z@evil.test', sender: 'a)(b@example.com', helo: 'h\\(x' });
  assert.equal(hostile.split('\r\n').filter((l) => l && !l.startsWith(' ')).length, 1, 'one field, every line folded under it');
  assert.match(hostile, /envelope-from="x\\"yBcc: z@evil\.test";/);
  assert.match(hostile, /\(mx\.example\.org: domain of ab@example\.com designates/);
  assert.match(hostile, /helo="h\\\\\(x";/);
});

test('the SMTP MX adds Received-SPF beside Authentication-Results', { timeout: 30_000 }, async () => {
  const dns = await startTestDns({ records: [['sender.test', 'TXT', 'v=spf1 ip4:127.0.0.1 -all'], ['other.test', 'TXT', 'v=spf1 -all']] });
  const env = await makeEnv([['bob@example.org', 'pw']]);
  const resolver = createResolver({ servers: [{ host: '127.0.0.1', port: dns.port }], timeoutMs: 1000, tries: 1 });
  const mx = createSmtpService({ store: env.store, auth: env.auth, hostname: 'mx.example.org', mxChecks: createMxChecker({ hostname: 'mx.example.org', resolver }) });
  try {
    const port = (await mx.listen({ host: '127.0.0.1', port: 0, implicitTls: false })).port;
    for (const from of ['s@sender.test', 's@other.test']) {
      const { client } = await RawSmtp.open(port);
      await client.cmd('EHLO client.sender.test');
      await client.cmd(`MAIL FROM:<${from}>`);
      await client.cmd('RCPT TO:<bob@example.org>');
      assert.equal((await client.data(`From: ${from}\r\nTo: bob@example.org\r\nSubject: hi\r\n\r\nbody\r\n`)).code, 250);
      client.close();
    }
    const [pass, fail] = (await mailboxContents(env.store, 'bob@example.org')).map((b) => b.toString('latin1'));
    assert.match(pass!, /\r\nAuthentication-Results: mx\.example\.org;[^]*?\r\nReceived-SPF: pass \(mx\.example\.org: domain of s@sender\.test designates 127\.0\.0\.1 as permitted sender\)\r\n client-ip=127\.0\.0\.1;\r\n envelope-from="s@sender\.test";\r\n helo=client\.sender\.test;\r\n receiver=mx\.example\.org;\r\n identity=mailfrom\r\nFrom: s@sender\.test/);
    assert.match(fail!, /\r\nReceived-SPF: fail \(mx\.example\.org: domain of s@other\.test does not designate 127\.0\.0\.1 as permitted sender\)/);
    assert.equal(pass!.match(/^Received-SPF:/gm)?.length, 1);
  } finally {
    await mx.close();
    await env.close();
    await dns.stop();
  }
});

test('SPF started when DATA begins is joined by the check at its end, not repeated', { timeout: 30_000 }, async () => {
  const dns = await startTestDns({ records: [['early.test', 'TXT', 'v=spf1 ip4:127.0.0.1 -all']] });
  try {
    const real = createResolver({ servers: [{ host: '127.0.0.1', port: dns.port }], timeoutMs: 1000, tries: 1 });
    const asked: string[] = [];
    const resolve = (name: string, type: RecordType) => (asked.push(`${name} ${type}`), real.resolve(name, type));
    const resolver = { queries: 0, resolve, resolveTxt: async (n: string) => (await resolve(n, 'TXT')) as string[][], resolveMx: (n: string) => real.resolveMx(n), lookupAll: (n: string) => real.lookupAll(n) };
    const checker = createMxChecker({ hostname: 'mx.example.org', resolver });
    const who = { ip: '127.0.0.1', helo: 'client.early.test', mailFrom: 's@early.test' };
    checker.start!(who);
    const r = await checker(Buffer.from('From: s@early.test\r\nSubject: hi\r\n\r\nbody\r\n'), who);
    assert.equal(r.verdict.spf.mailfrom, 'pass');
    assert.deepEqual(asked.filter((q) => q === 'early.test TXT' || q === 'client.early.test TXT').sort(), ['client.early.test TXT', 'early.test TXT'], 'each SPF record asked for once');
    checker.start!({ ...who, ip: '192.0.2.9' });
    checker.start!({ ...who, ip: '192.0.2.9' });
    const other = await checker(Buffer.from('From: s@early.test\r\n\r\nx\r\n'), { ...who, ip: '192.0.2.9' });
    assert.equal(other.verdict.spf.mailfrom, 'fail', 'a different client address is checked on its own');
  } finally {
    await dns.stop();
  }
});
