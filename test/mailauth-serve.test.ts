/**
 * Mail authentication wired through `serve` and createMailroom: --dns-server / dns-servers and --mx-checks
 * in the serve config; a mailroom with checks on and its DNS on loopback adds Authentication-Results on the
 * SMTP MX, leaves LMTP unchecked, and its queue looks MX hosts up through the same server and signs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildServeConfig, mailroomOptions } from '../src/cli/serve.js';
import { createMailroom } from '../src/server/mailroom.js';
import { silentLogger } from '../src/lib/logger.js';
import { generateDkimKey } from '../src/mailauth/index.js';
import { startTestDns } from '../support/dns.js';
import { mailboxContents, RawSmtp, startSink } from './delivery/helpers.js';

test('serve config: --dns-server (repeatable) and dns-servers, --mx-checks', () => {
  let cfg = buildServeConfig({}, {});
  assert.equal(cfg.mxChecks, true);
  assert.equal(cfg.dnsServers, undefined);
  assert.deepEqual(mailroomOptions(cfg, '/tmp/x', silentLogger).mailAuth, { checks: true });
  cfg = buildServeConfig({ dnsServer: ['127.0.0.1:5353', '[::1]:53'] }, { 'dns-servers': ['192.0.2.53:53'], 'mx-checks': 'off' });
  assert.deepEqual(cfg.dnsServers, ['127.0.0.1:5353', '[::1]:53'], 'flags win');
  assert.equal(cfg.mxChecks, false);
  assert.deepEqual(mailroomOptions(cfg, '/tmp/x', silentLogger).mailAuth, { checks: false, dnsServers: ['127.0.0.1:5353', '[::1]:53'] });
  assert.deepEqual(buildServeConfig({}, { dnsServers: '10.0.0.1:53' }).dnsServers, ['10.0.0.1:53']);
  assert.throws(() => buildServeConfig({ dnsServer: ['1.2.3.4:99999'] }, {}), /invalid --dns-server: 1\.2\.3\.4:99999/);
  assert.throws(() => buildServeConfig({}, { 'mx-checks': 'maybe' }), /invalid --mx-checks/);
});

test('createMailroom: checks on the SMTP MX only, MX look-ups and signing in the queue, all DNS on loopback', { timeout: 60_000 }, async () => {
  const sink = await startSink();
  const dns = await startTestDns({
    records: [
      ['remote.test', 'MX', [10, 'mx.remote.test']],
      ['mx.remote.test', 'A', '127.0.0.1'],
      ['sender.test', 'TXT', 'v=spf1 ip4:127.0.0.1 -all'],
    ],
  });
  const m = createMailroom({
    hostname: 'mx.example.org',
    ports: { smtp: 0, lmtp: 0 },
    mailAuth: { checks: true, dnsServers: [dns.server] },
    outbound: { allowInternal: true, port: sink.port },
    auth: { failureDelayMs: 0 },
  });
  try {
    await m.start();
    await m.addUser('bob@example.org', 'pw');
    const msg = 'From: s@sender.test\r\nTo: bob@example.org\r\nSubject: hi\r\n\r\nbody\r\n';
    for (const [port, hello] of [[m.ports.smtp!, 'EHLO'], [m.ports.lmtp!, 'LHLO']] as const) {
      const { client } = await RawSmtp.open(port);
      await client.cmd(`${hello} client.sender.test`);
      await client.cmd('MAIL FROM:<s@sender.test>');
      await client.cmd('RCPT TO:<bob@example.org>');
      assert.equal((await client.data(msg)).code, 250);
      client.close();
    }
    const got = (await mailboxContents(m.store, 'bob@example.org')).map((b) => b.toString('latin1'));
    assert.equal(got.length, 2);
    const checked = got.filter((t) => t.includes('\r\nAuthentication-Results: mx.example.org;'));
    assert.equal(checked.length, 1, 'the SMTP copy only');
    assert.match(checked[0]!.replace(/\r\n /g, ' '), /spf=pass \(MAIL FROM of 127\.0\.0\.1\) smtp\.mailfrom=s@sender\.test/);
    await new Promise((resolve) => setTimeout(resolve, 300)); // the DNS server's log lines may trail its answers
    assert.ok(dns.queries.includes('sender.test TXT'), dns.queries.join(', '));

    await m.store.dkim.add({ domain: 'example.org', selector: 'ed1', algorithm: 'ed25519', ...generateDkimKey('ed25519') });
    await m.store.queue.enqueue('bob@example.org', ['carol@remote.test'], Buffer.from('From: bob@example.org\r\nTo: carol@remote.test\r\nSubject: out\r\n\r\nhello\r\n'));
    await m.outboundQueue!.runOnce();
    assert.equal(sink.messages.length, 1, 'delivered to the MX found through the loopback DNS server');
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.ok(dns.queries.includes('remote.test MX'), dns.queries.join(', '));
    assert.match(sink.messages[0]!.raw.toString('latin1'), /^DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed\/relaxed; d=example\.org;/);
  } finally {
    await m.stop();
    await sink.close();
    await dns.stop();
  }
});

test('createMailroom: DMARC quarantine reaches the spam stage, which files the message into Junk; reject is refused', { timeout: 60_000 }, async () => {
  const dns = await startTestDns({
    records: [
      ['q.test', 'TXT', 'v=spf1 ip4:192.0.2.1 -all'],
      ['_dmarc.q.test', 'TXT', 'v=DMARC1; p=quarantine'],
      ['r.test', 'TXT', 'v=spf1 ip4:192.0.2.1 -all'],
      ['_dmarc.r.test', 'TXT', 'v=DMARC1; p=reject'],
    ],
  });
  const m = createMailroom({ hostname: 'mx.example.org', ports: { smtp: 0 }, mailAuth: { checks: true, dnsServers: [dns.server] }, auth: { failureDelayMs: 0 } });
  try {
    await m.start();
    await m.addUser('bob@example.org', 'pw');
    const send = async (from: string): Promise<number> => {
      const { client } = await RawSmtp.open(m.ports.smtp!);
      try {
        await client.cmd('EHLO client.example.net');
        await client.cmd(`MAIL FROM:<${from}>`);
        await client.cmd('RCPT TO:<bob@example.org>');
        return (await client.data(`From: ${from}\r\nTo: bob@example.org\r\nSubject: hello\r\n\r\nbody\r\n`)).code;
      } finally {
        client.close();
      }
    };
    assert.equal(await send('boss@q.test'), 250);
    const junk = await mailboxContents(m.store, 'bob@example.org', 'Junk');
    assert.equal(junk.length, 1, 'quarantined into Junk by the spam stage');
    assert.match(junk[0]!.toString('latin1').replace(/\r\n /g, ' '), /Authentication-Results: mx\.example\.org; dkim=none; spf=fail [^;]*; spf=none [^;]*; arc=none; dmarc=fail/);
    assert.equal((await mailboxContents(m.store, 'bob@example.org')).length, 0);
    assert.equal(await send('boss@r.test'), 550);
    assert.equal((await mailboxContents(m.store, 'bob@example.org')).length, 0);
  } finally {
    await m.stop();
    await dns.stop();
  }
});
