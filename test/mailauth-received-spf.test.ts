/**
 * Received-SPF (RFC 7208 section 9.1): the field's syntax per result (result, comment, key-value pairs with
 * quoted values where a dot-atom will not do), HELO as the identity for the null sender, hostile values kept
 * inside the field, and the SMTP MX putting it beside Authentication-Results (DNS on loopback).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSmtpService } from '../src/delivery/index.js';
import { createResolver } from '../src/lib/dns.js';
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
