/**
 * The SMTP MX's mail authentication (src/mailauth/inbound.ts, mx.ts) over real SMTP from 127.0.0.1, with
 * every look-up answered by a DNS server on loopback (support/dns.ts): SPF (MAIL FROM and HELO), DKIM,
 * DMARC and ARC verdicts pass/fail/none/temperror in the one Authentication-Results field, forged fields of
 * our authserv-id removed, DMARC reject refused at the end of DATA, quarantine handed to the stages.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey } from 'node:crypto';
import { createSmtpService, type DeliveryStage } from '../src/delivery/index.js';
import type { NetService } from '../src/lib/service.js';
import { createResolver } from '../src/lib/dns.js';
import { createMxChecker, generateDkimKey, dkimRecordValue, signMessage } from '../src/mailauth/index.js';
import { startTestDns, type TestDns, type ZoneRecord } from '../support/dns.js';
import { sealMessage, type ARCSealOptions } from 'mailauth';
import { makeEnv, mailboxContents, RawSmtp, type Env } from './delivery/helpers.js';

const HOST = 'mx.example.org';
const rsa = generateDkimKey('rsa');
const ed = generateDkimKey('ed25519');
const arcKey = generateDkimKey('rsa');

const spf = (d: string, v: string): ZoneRecord => [d, 'TXT', v];
const dmarc = (d: string, p: string): ZoneRecord => [`_dmarc.${d}`, 'TXT', `v=DMARC1; p=${p}`];
const ZONE: ZoneRecord[] = [
  spf('pass.test', 'v=spf1 ip4:127.0.0.1 -all'),
  dmarc('pass.test', 'reject'),
  ['rsa1._domainkey.pass.test', 'TXT', dkimRecordValue({ algorithm: 'rsa', publicKey: rsa.publicKey })],
  ['ed1._domainkey.pass.test', 'TXT', dkimRecordValue({ algorithm: 'ed25519', publicKey: ed.publicKey })],
  spf('helo.pass.test', 'v=spf1 ip4:127.0.0.1 -all'),
  spf('reject.test', 'v=spf1 ip4:192.0.2.1 -all'),
  dmarc('reject.test', 'reject'),
  spf('quarantine.test', 'v=spf1 ip4:192.0.2.1 -all'),
  dmarc('quarantine.test', 'quarantine'),
  spf('softfail.test', 'v=spf1 ~all'),
  dmarc('rt.test', 'reject'),
  ['dk.test', 'A', '192.0.2.7'],
  ['arc1._domainkey.forwarder.test', 'TXT', dkimRecordValue({ algorithm: 'rsa', publicKey: arcKey.publicKey })],
  spf('forwarder.test', 'v=spf1 ip4:127.0.0.1 -all'),
];
const SERVFAIL = ['tempfail.test', 'rt.test', 'bad._domainkey.pass.test', '_dmarc.dt.test'];

/** The delivery stage that records the facts and files quarantined mail into Junk, as the spam stage does. */
const seen: Array<Record<string, unknown>> = [];
const junkStage: DeliveryStage = {
  name: 'record',
  async run(msg, d) {
    seen.push({ ...msg.facts });
    if (msg.facts['quarantine'] === true) d.targets = [{ mailbox: 'Junk', create: true }];
  },
};

function message(from: string, subject: string, extra = ''): Buffer {
  return Buffer.from(
    `${extra}From: Sender <${from}>\r\nTo: bob@example.org\r\nSubject: ${subject}\r\nDate: Mon, 07 Dec 2026 01:00:00 +0000\r\nMessage-ID: <${subject.replace(/\W/g, '')}@x>\r\n\r\nHello  there.\r\n`,
  );
}

function signed(raw: Buffer, selectors: Array<'rsa1' | 'ed1' | 'bad'>, domain = 'pass.test'): Buffer {
  return signMessage(
    raw,
    selectors.map((s) => ({ domain, selector: s, algorithm: s === 'ed1' ? 'ed25519' : 'rsa', key: createPrivateKey(s === 'ed1' ? ed.privateKey : rsa.privateKey) })),
  );
}

describe('SMTP MX mail authentication', () => {
  let dns: TestDns;
  let env: Env;
  let svc: NetService;
  let port: number;

  before(async () => {
    dns = await startTestDns({ records: ZONE, servfail: SERVFAIL });
    env = await makeEnv([['bob@example.org', 'pw']]);
    const resolver = createResolver({ servers: [{ host: '127.0.0.1', port: dns.port }], timeoutMs: 1000, tries: 1 });
    svc = createSmtpService({ store: env.store, auth: env.auth, hostname: HOST, stages: [junkStage], mxChecks: createMxChecker({ hostname: HOST, resolver }) });
    port = (await svc.listen({ host: '127.0.0.1', port: 0, implicitTls: false })).port;
  });
  after(async () => {
    await svc.close();
    await env.close();
    await dns.stop();
  });

  /** Sends one message; returns the DATA reply and the stored copy (the newest in `mailbox`) when accepted. */
  async function send(mailFrom: string, raw: Buffer, helo = 'helo.pass.test', mailbox = 'INBOX'): Promise<{ code: number; text: string; stored: string | null }> {
    const before = (await mailboxContents(env.store, 'bob@example.org', mailbox).catch(() => [])).length;
    const { client } = await RawSmtp.open(port);
    try {
      assert.equal((await client.cmd(`EHLO ${helo}`)).code, 250);
      assert.equal((await client.cmd(`MAIL FROM:<${mailFrom}>`)).code, 250);
      assert.equal((await client.cmd('RCPT TO:<bob@example.org>')).code, 250);
      const r = await client.data(raw);
      const after = await mailboxContents(env.store, 'bob@example.org', mailbox).catch(() => []);
      return { code: r.code, text: r.text, stored: after.length > before ? after[after.length - 1]!.toString('latin1') : null };
    } finally {
      client.close();
    }
  }

  function authResults(stored: string | null): string {
    assert.ok(stored, 'message stored');
    const fields = stored.split(/\r\n(?![ \t])/).filter((l) => /^Authentication-Results:/i.test(l));
    const ours = fields.filter((f) => f.startsWith(`Authentication-Results: ${HOST};`));
    assert.equal(ours.length, 1, `exactly one field of ours:\n${fields.join('\n')}`);
    assert.ok(stored.startsWith(`Return-Path:`), 'trace fields first');
    return ours[0]!.replace(/\r\n[ \t]+/g, ' ');
  }

  test('SPF, DKIM (RSA and Ed25519) and DMARC pass; the facts reach the stages', async () => {
    seen.length = 0;
    const r = await send('alice@pass.test', signed(message('alice@pass.test', 'all pass'), ['rsa1', 'ed1']));
    assert.equal(r.code, 250, r.text);
    const ar = authResults(r.stored);
    assert.match(ar, /dkim=pass [^;]*header\.i=@pass\.test[^;]*header\.s=rsa1/);
    assert.match(ar, /dkim=pass [^;]*header\.s=ed1[^;]*header\.a=ed25519-sha256/);
    assert.match(ar, /spf=pass \(MAIL FROM of 127\.0\.0\.1\) smtp\.mailfrom=alice@pass\.test/);
    assert.match(ar, /spf=pass \(HELO of 127\.0\.0\.1\) smtp\.helo=helo\.pass\.test/);
    assert.match(ar, /arc=none/);
    assert.match(ar, /dmarc=pass [^;]*header\.from=pass\.test/);
    assert.equal(seen.length, 1);
    assert.equal(seen[0]!['quarantine'], false);
    assert.deepEqual(seen[0]!['dmarc'], { result: 'pass', policy: 'reject' });
    assert.match(String(seen[0]!['authResults']), new RegExp(`^${HOST.replace(/\./g, '\\.')};`));
    assert.match(String(seen[0]!['authResults']), /dmarc=pass/);
  });

  test('DKIM fail (changed after signing) and none; SPF fail, softfail and none', async () => {
    const good = signed(message('alice@pass.test', 'tampered'), ['rsa1']);
    const tampered = Buffer.from(good.toString('latin1').replace('Subject: tampered', 'Subject: tampered!'), 'latin1');
    let r = await send('alice@pass.test', tampered);
    assert.equal(r.code, 250, 'SPF still passes aligned, so DMARC passes');
    let ar = authResults(r.stored);
    assert.match(ar, /dkim=fail/);
    assert.match(ar, /dmarc=pass/);
    const body = Buffer.from(good.toString('latin1').replace('Hello  there.', 'Hello there, changed.'), 'latin1');
    ar = authResults((await send('alice@pass.test', body)).stored);
    assert.match(ar, /dkim=fail \(body hash did not verify\)/);

    r = await send('x@softfail.test', message('x@softfail.test', 'softfail'), 'unknown.invalid');
    ar = authResults(r.stored);
    assert.match(ar, /dkim=none/);
    assert.match(ar, /spf=softfail [^;]*smtp\.mailfrom=x@softfail\.test/);
    assert.match(ar, /spf=none [^;]*smtp\.helo=unknown\.invalid/);
    assert.match(ar, /dmarc=none/);

    r = await send('x@dk.test', message('x@dk.test', 'no spf record'));
    ar = authResults(r.stored);
    assert.match(ar, /spf=none [^;]*smtp\.mailfrom=x@dk\.test/);
  });

  test('temperror: SPF, DKIM key and DMARC look-ups that fail are recorded and the message delivered', async () => {
    let ar = authResults((await send('x@tempfail.test', message('x@tempfail.test', 'spf temp'))).stored);
    assert.match(ar, /spf=temperror [^;]*smtp\.mailfrom=x@tempfail\.test/);
    ar = authResults((await send('alice@pass.test', signed(message('alice@pass.test', 'key temp'), ['bad']))).stored);
    assert.match(ar, /dkim=temperror/);
    ar = authResults((await send('x@dt.test', message('x@dt.test', 'dmarc temp'))).stored);
    assert.match(ar, /dmarc=temperror/);
  });

  test('DMARC p=reject fails: 550 5.7.1 at the end of DATA and nothing stored; a DNS failure makes it 451 4.7.5', async () => {
    seen.length = 0;
    let r = await send('spoof@reject.test', message('ceo@reject.test', 'spoofed'));
    assert.equal(r.code, 550);
    assert.match(r.text, /5\.7\.1 .*DMARC.*reject\.test/);
    assert.equal(r.stored, null);
    assert.equal(seen.length, 0, 'no stage ran');
    // From a domain that publishes p=reject, with a From the envelope does not align with, signed by a key that verifies but is not aligned
    r = await send('alice@pass.test', signed(message('ceo@reject.test', 'unaligned'), ['rsa1']));
    assert.equal(r.code, 550);
    r = await send('x@rt.test', message('x@rt.test', 'reject but spf temp'));
    assert.equal(r.code, 451);
    assert.match(r.text, /4\.7\.5 /);
    assert.equal(r.stored, null);
  });

  test('DMARC p=quarantine fails: delivered with facts.quarantine, which the stage files into Junk', async () => {
    seen.length = 0;
    const r = await send('x@quarantine.test', message('boss@quarantine.test', 'quarantined'), 'helo.pass.test', 'Junk');
    assert.equal(r.code, 250);
    const ar = authResults(r.stored);
    assert.match(ar, /dmarc=fail/);
    assert.equal(seen[0]!['quarantine'], true);
    assert.deepEqual(seen[0]!['dmarc'], { result: 'fail', policy: 'quarantine' });
  });

  test('Authentication-Results claiming our authserv-id are removed; others stay', async () => {
    const forged = `Authentication-Results: ${HOST.toUpperCase()}; dkim=pass header.d=bank.test\r\nAuthentication-Results: (comment) ${HOST}\r\n  1; spf=pass\r\nAuthentication-Results: other.example; spf=pass smtp.mailfrom=x@y\r\n`;
    const r = await send('alice@pass.test', message('alice@pass.test', 'forged results', forged));
    const ar = authResults(r.stored);
    assert.match(ar, /dkim=none/);
    assert.doesNotMatch(r.stored!, /bank\.test/);
    assert.match(r.stored!, /\r\nAuthentication-Results: other\.example; spf=pass smtp\.mailfrom=x@y\r\n/);
  });

  test('ARC: a chain sealed by a forwarder verifies (arc=pass); a broken seal does not', async () => {
    const original = message('list@arcsender.test', 'forwarded');
    const seal = { signingDomain: 'forwarder.test', selector: 'arc1', privateKey: arcKey.privateKey, authResults: 'forwarder.test; spf=pass smtp.mailfrom=alice@pass.test', cv: 'none' };
    const sealed = Buffer.concat([await sealMessage(original, seal as ARCSealOptions), original]);
    assert.match(sealed.toString('latin1'), /^ARC-Seal: i=1;/);
    let ar = authResults((await send('alice@forwarder.test', sealed)).stored);
    assert.match(ar, /arc=pass/);
    const broken = Buffer.from(sealed.toString('latin1').replace('Subject: forwarded', 'Subject: changed'), 'latin1');
    ar = authResults((await send('alice@forwarder.test', broken)).stored);
    assert.match(ar, /arc=fail/);
  });
});
