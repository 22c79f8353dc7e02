/**
 * ARC sealing (RFC 8617) of forwarded mail, checked by an independent verifier: Python's dkim module
 * (Debian's python3-dkim, dkim.arc_verify) looking the keys up on a DNS server on loopback (dnspython).
 * - sealMessage: a first set (cv=none) and a second one over it (cv=pass) verify; a changed body or a
 *   changed earlier AAR breaks the chain; no seal past instance 50 or without From.
 * - End to end: a signed message from a remote domain reaches our MX (checks on, DNS on loopback), a Sieve
 *   redirect sends it on through the outbound queue; what leaves carries an ARC set of example.org whose
 *   ARC-Authentication-Results is our MX's verdict, and Python verifies the chain; our own MX (a second
 *   mailroom) reports arc=pass for it. Mail the MX did not verify (LMTP) is not sealed.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createMailroom } from '../src/server/mailroom.js';
import { createResolver } from '../src/lib/dns.js';
import { createSmtpService } from '../src/delivery/index.js';
import { DEFAULT_SIEVE_QUOTA } from '../src/store/sieve.js';
import { chainState, createMxChecker, dkimRecordValue, generateDkimKey, sealMessage, signMessage, type SigningKey } from '../src/mailauth/index.js';
import { startTestDns, type TestDns } from '../support/dns.js';
import { mailboxContents, makeEnv, RawSmtp, runProgram, startSink } from './delivery/helpers.js';

const ARC_VERIFY = `
import dkim, json, sys
import dns.resolver
a = json.loads(sys.argv[1])
r = dns.resolver.Resolver(configure=False)
r.nameservers = ['127.0.0.1']
r.port = a['port']
def dnsfunc(name, timeout=5):
    n = name.decode() if isinstance(name, bytes) else name
    try:
        ans = r.resolve(n, 'TXT', lifetime=timeout)
    except Exception:
        return None
    return b''.join(b''.join(rd.strings) for rd in ans)
out = []
for f in a['files']:
    cv, results, why = dkim.arc_verify(open(f, 'rb').read(), dnsfunc=dnsfunc)
    out.append({'cv': cv.decode(), 'why': why, 'instances': [x['instance'] for x in results]})
print(json.dumps(out))
`;

let dns: TestDns;
let dir: string;
const fwd = generateDkimKey('rsa');
const fwdKey: SigningKey = { domain: 'example.org', selector: 'arc1', algorithm: 'rsa', key: createPrivateKey(fwd.privateKey) };
const sender = generateDkimKey('rsa');
const senderKey: SigningKey = { domain: 'sender.test', selector: 's1', algorithm: 'rsa', key: createPrivateKey(sender.privateKey) };

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mailroom-arc-'));
  dns = await startTestDns({
    records: [
      ['arc1._domainkey.example.org', 'TXT', dkimRecordValue({ algorithm: 'rsa', publicKey: fwd.publicKey })],
      ['s1._domainkey.sender.test', 'TXT', dkimRecordValue({ algorithm: 'rsa', publicKey: sender.publicKey })],
      ['sender.test', 'TXT', 'v=spf1 ip4:127.0.0.1 -all'],
      ['_dmarc.sender.test', 'TXT', 'v=DMARC1; p=reject'],
      ['example.org', 'TXT', 'v=spf1 ip4:127.0.0.1 -all'],
    ],
  });
});
after(async () => {
  await dns.stop();
  await rm(dir, { recursive: true, force: true });
});

async function arcVerify(...messages: Buffer[]): Promise<Array<{ cv: string; why: string; instances: number[] }>> {
  const files: string[] = [];
  for (const m of messages) {
    const f = join(dir, `m${Math.random().toString(36).slice(2)}.eml`);
    await writeFile(f, m);
    files.push(f);
  }
  const r = await runProgram('/usr/bin/python3', ['-c', ARC_VERIFY, JSON.stringify({ port: dns.port, files })]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as Array<{ cv: string; why: string; instances: number[] }>;
}

const MESSAGE = Buffer.from(
  'From: Sam <sam@sender.test>\r\nTo: bob@example.org\r\nSubject: forwarded  mail\r\nDate: Mon, 07 Dec 2026 01:00:00 +0000\r\nMessage-ID: <a1@sender.test>\r\n\r\nHello  world \r\n\r\n\r\n',
);

test('sealMessage: instance 1 (cv=none) and 2 (cv=pass) verify with python3-dkim; damage breaks the chain', async () => {
  const one = sealMessage(MESSAGE, fwdKey, 'mx.example.org;\r\n spf=pass smtp.mailfrom=sam@sender.test;\r\n arc=none', 'none');
  const text = one.toString('latin1');
  assert.match(text, /^ARC-Seal: i=1; a=rsa-sha256; t=\d+; cv=none; d=example\.org; s=arc1;\r\n\tb=/);
  assert.match(text, /\r\nARC-Message-Signature: i=1; a=rsa-sha256; c=relaxed\/relaxed; d=example\.org;\r\n\ts=arc1; t=\d+; h=From:From:To:Subject:Date:Message-ID;/);
  assert.match(text, /\r\nARC-Authentication-Results: i=1; mx\.example\.org;\r\n spf=pass smtp\.mailfrom=sam@sender\.test;\r\n arc=none\r\nFrom: Sam/);
  assert.ok(one.subarray(one.length - MESSAGE.length).equals(MESSAGE), 'the message itself is unchanged below the set');
  // The next hop seals on top; cv=pass is what it found.
  const two = sealMessage(Buffer.concat([Buffer.from('Received: from a by b; Mon, 07 Dec 2026 01:00:01 +0000\r\n'), one]), fwdKey, 'mx2.example.org; arc=pass', 'pass');
  assert.match(two.toString('latin1'), /^ARC-Seal: i=2; a=rsa-sha256; t=\d+; cv=pass;/);
  const body = Buffer.from(one.toString('latin1').replace('Hello  world', 'Hello  World'), 'latin1');
  const aar = Buffer.from(two.toString('latin1').replace('i=1; mx.example.org;', 'i=1; mx.example.net;'), 'latin1');
  const [r1, r2, r3, r4] = await arcVerify(one, two, body, aar);
  assert.deepEqual(r1, { cv: 'pass', why: 'success', instances: [1] });
  assert.deepEqual(r2, { cv: 'pass', why: 'success', instances: [2, 1] });
  assert.equal(r3!.cv, 'fail', 'a changed body fails the message signature');
  assert.equal(r4!.cv, 'fail', 'a changed earlier ARC-Authentication-Results fails the seal');
});

test('sealMessage: nothing past instance 50, nothing without From; a broken chain is sealed cv=fail; chainState', () => {
  let m: Buffer = MESSAGE;
  for (let i = 0; i < 50; i++) m = sealMessage(m, fwdKey, 'mx.example.org; arc=pass', i ? 'pass' : 'none');
  assert.match(m.toString('latin1'), /^ARC-Seal: i=50;/);
  assert.equal(sealMessage(m, fwdKey, 'mx.example.org; arc=pass', 'pass'), m, 'the 51st set is not added');
  const noFrom = Buffer.from('To: x@example.org\r\nSubject: s\r\n\r\nbody\r\n');
  assert.equal(sealMessage(noFrom, fwdKey, 'mx.example.org; arc=none', 'none'), noFrom);
  const partial = Buffer.from(`ARC-Seal: i=1; cv=none; a=rsa-sha256; d=x.test; s=a; b=AAAA\r\n${MESSAGE.toString('latin1')}`, 'latin1');
  assert.match(sealMessage(partial, fwdKey, 'mx.example.org; arc=pass', 'pass').toString('latin1'), /^ARC-Seal: i=2; a=rsa-sha256; t=\d+; cv=fail;/, 'a set without its AAR and AMS cannot pass');
  assert.equal(chainState('mx.example.org; dkim=pass; arc=pass (i=1); dmarc=pass'), 'pass');
  assert.equal(chainState('mx.example.org; dkim=pass; dmarc=pass'), 'none');
  assert.equal(chainState('mx.example.org; arc=none'), 'none');
  assert.equal(chainState('mx.example.org; arc=fail; dmarc=pass'), 'fail');
  assert.equal(chainState('mx.example.org; arc=temperror'), 'fail');
});

test('a Sieve redirect of mail our MX verified leaves ARC-sealed; python3-dkim and our MX verify the chain', { timeout: 60_000 }, async () => {
  const sink = await startSink();
  const m = createMailroom({
    hostname: 'mx.example.org',
    ports: { smtp: 0, lmtp: 0 },
    mailAuth: { checks: true, dnsServers: [dns.server] },
    outbound: { allowInternal: true, routes: { 'remote.test': { host: '127.0.0.1', port: sink.port } } },
    auth: { failureDelayMs: 0 },
  });
  try {
    await m.start();
    const bob = await m.addUser('bob@example.org', 'pw');
    await m.store.dkim.add({ domain: 'example.org', selector: 'arc1', algorithm: 'rsa', ...fwd });
    assert.equal(await m.store.sieve.putScript(bob.id, 'fwd', 'redirect "carol@remote.test";\r\n', DEFAULT_SIEVE_QUOTA), 'ok');
    await m.store.sieve.setActive(bob.id, 'fwd');
    for (const [port, hello] of [[m.ports.smtp!, 'EHLO'], [m.ports.lmtp!, 'LHLO']] as const) {
      // Two different messages: Sieve redirects one message once.
      const signed = signMessage(Buffer.from(MESSAGE.toString('latin1').replace('<a1@', `<${hello}@`), 'latin1'), [senderKey]);
      const { client } = await RawSmtp.open(port);
      await client.cmd(`${hello} mail.sender.test`);
      await client.cmd('MAIL FROM:<sam@sender.test>');
      await client.cmd('RCPT TO:<bob@example.org>');
      assert.equal((await client.data(signed.toString('latin1'))).code, 250);
      client.close();
    }
    for (let i = 0; i < 50 && sink.messages.length < 2; i++) {
      await m.outboundQueue!.runOnce();
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.equal(sink.messages.length, 2, 'both redirects left');
    const texts = sink.messages.map((s) => s.raw.toString('latin1'));
    const sealed = sink.messages.filter((s) => s.raw.toString('latin1').startsWith('ARC-Seal:'));
    assert.equal(sealed.length, 1, `only the copy our MX checked is sealed:\n${texts.join('\n----\n')}`);
    const out = sealed[0]!.raw;
    const flat = out.toString('latin1').replace(/\r\n[ \t]+/g, ' ');
    assert.match(flat, /^ARC-Seal: i=1; a=rsa-sha256; t=\d+; cv=none; d=example\.org; s=arc1; b=/);
    assert.match(flat, /\r\nARC-Authentication-Results: i=1; mx\.example\.org; dkim=pass [^;]*header\.d=sender\.test[^\r]*; spf=pass [^\r]*dmarc=pass/);
    const [r] = await arcVerify(out);
    assert.deepEqual(r, { cv: 'pass', why: 'success', instances: [1] });

    // Our own MX, receiving the forwarded copy, finds the chain valid.
    const b = await makeEnv([['carol@remote.test', 'pw']]);
    const resolver = createResolver({ servers: [{ host: '127.0.0.1', port: dns.port }], timeoutMs: 1000, tries: 1 });
    const mx = createSmtpService({ store: b.store, auth: b.auth, hostname: 'mx.remote.test', mxChecks: createMxChecker({ hostname: 'mx.remote.test', resolver }) });
    try {
      const port = (await mx.listen({ host: '127.0.0.1', port: 0, implicitTls: false })).port;
      const { client } = await RawSmtp.open(port);
      await client.cmd('EHLO mail.example.org');
      await client.cmd('MAIL FROM:<sam@sender.test>');
      await client.cmd('RCPT TO:<carol@remote.test>');
      assert.equal((await client.data(out.toString('latin1'))).code, 250);
      client.close();
      const got = (await mailboxContents(b.store, 'carol@remote.test'))[0]!.toString('latin1').replace(/\r\n[ \t]+/g, ' ');
      assert.match(got, /Authentication-Results: mx\.remote\.test; [^\r]*arc=pass/);
    } finally {
      await mx.close();
      await b.close();
    }
  } finally {
    await m.stop();
    await sink.close();
  }
});
