/**
 * DKIM keys and signing end to end: `mailroom domain dkim` / `domain dns` create and print the keys and
 * records (private keys never printed, the database private); the outbound queue signs what leaves for a
 * remote host with every key of the sender's domain (RSA and Ed25519), and Python's dkim module (Debian's
 * python3-dkim, an independent verifier) accepts both signatures; a From added afterwards breaks them; mail
 * of other domains leaves unsigned; bounces are signed by the host name's parent domain. Finally mailroom's
 * own MX (checks on, DNS on loopback) reports dkim=pass and dmarc=pass for what the queue sent.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../src/cli/main.js';
import { createOutboundQueue, createSmtpService } from '../src/delivery/index.js';
import { openServerStore } from '../src/server/store.js';
import { silentLogger } from '../src/lib/logger.js';
import { Authenticator } from '../src/auth/index.js';
import { createResolver } from '../src/lib/dns.js';
import { createMxChecker, mailAuthOptions } from '../src/mailauth/index.js';
import { startTestDns } from '../support/dns.js';
import { makeEnv, mailboxContents, runProgram, startSink } from './delivery/helpers.js';

/** Runs `mailroom ARGS` in this process (main() as bin/mailroom runs it), capturing what it prints. */
async function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const out = process.stdout.write.bind(process.stdout);
  const err = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((chunk: string | Uint8Array) => ((stdout += String(chunk)), true)) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array) => ((stderr += String(chunk)), true)) as typeof process.stderr.write;
  try {
    const code = await main(args);
    return { code, stdout, stderr };
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
  }
}

const VERIFY = `
import dkim, json, sys
a = json.loads(sys.argv[1])
msg = open(a['file'], 'rb').read()
def dnsfunc(name, timeout=5):
    n = name.decode() if isinstance(name, bytes) else name
    return a['keys'].get(n.rstrip('.'), '').encode()
d = dkim.DKIM(msg)
n = msg.count(b'\\nDKIM-Signature:') + (1 if msg.startswith(b'DKIM-Signature:') else 0)
print(json.dumps([bool(d.verify(idx=i, dnsfunc=dnsfunc)) for i in range(n)]))
`;

async function pythonVerify(dir: string, raw: Buffer, keys: Record<string, string>): Promise<boolean[]> {
  const file = join(dir, `verify-${Math.random().toString(36).slice(2)}.eml`);
  await writeFile(file, raw);
  const r = await runProgram('/usr/bin/python3', ['-c', VERIFY, JSON.stringify({ file, keys })]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as boolean[];
}

test('domain dkim / domain dns, then queue signing verified by python3-dkim and by our MX', { timeout: 90_000 }, async () => {
  const data = await mkdtemp(join(tmpdir(), 'mailroom-dkim-'));
  const sink = await startSink();
  const dns = await startTestDns({ records: [] });
  try {
    // --- the CLI ---
    assert.equal((await cli(['--data', data, 'domain', 'add', 'example.org'])).code, 0);
    let r = await cli(['--data', data, 'domain', 'dkim', 'other.test']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /other\.test is not a local domain/);
    r = await cli(['--data', data, 'domain', 'dkim', 'example.org', '--algorithm', 'dsa']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /invalid --algorithm/);
    r = await cli(['--data', data, 'domain', 'dkim', 'example.org', '--selector', 'bad_selector']);
    assert.notEqual(r.code, 0);
    r = await cli(['--data', data, 'domain', 'dkim', 'example.org', '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /created rsa DKIM key rsa\d{8} for example\.org/);
    let keys = JSON.parse(r.stdout) as Array<{ selector: string; name: string; value: string }>;
    assert.equal(keys.length, 1);
    assert.match(keys[0]!.value, /^v=DKIM1; k=rsa; p=MIIBIjAN[A-Za-z0-9+/=]{380,}$/);
    r = await cli(['--data', data, 'domain', 'dkim', 'example.org', '--algorithm', 'ed25519', '--selector', 'ed1', '--json']);
    keys = JSON.parse(r.stdout) as typeof keys;
    assert.deepEqual(keys.map((k) => k.name), [`${keys[0]!.selector}._domainkey.example.org`, 'ed1._domainkey.example.org']);
    assert.match(keys[1]!.value, /^v=DKIM1; k=ed25519; p=[A-Za-z0-9+/]{43}=$/);
    r = await cli(['--data', data, 'domain', 'dkim', 'example.org']); // nothing new: prints both records
    assert.equal(r.stderr, '');
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines.length, 2);
    assert.match(lines[0]!, /^rsa\d{8}\._domainkey\.example\.org\. IN TXT "v=DKIM1; k=rsa; p=[^"]{200,}" "[^"]+"$/);
    assert.equal(lines[1], `ed1._domainkey.example.org. IN TXT "${keys[1]!.value}"`);
    r = await cli(['--data', data, 'domain', 'dkim', 'example.org', '--rotate', '--json']);
    assert.equal((JSON.parse(r.stdout) as unknown[]).length, 3);
    const rotated = (JSON.parse(r.stdout) as typeof keys)[2]!.selector;
    assert.match(rotated, /^rsa\d{8}b$/);
    r = await cli(['--data', data, 'domain', 'dkim', 'example.org', '--remove', rotated, '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), keys);
    r = await cli(['--data', data, 'domain', 'dkim', 'example.org', '--remove', rotated]);
    assert.notEqual(r.code, 0);
    r = await cli(['--data', data, 'domain', 'dns', 'example.org', '--hostname', 'mail.example.org']);
    assert.equal(r.code, 0, r.stderr);
    const zone = r.stdout.trim().split('\n');
    assert.equal(zone[0], 'example.org. IN MX 10 mail.example.org.');
    assert.equal(zone[1], 'example.org. IN TXT "v=spf1 mx -all"');
    assert.match(zone[2]!, /^rsa\d{8}\._domainkey\.example\.org\. IN TXT "v=DKIM1; k=rsa; /);
    assert.match(zone[3]!, /^ed1\._domainkey\.example\.org\. IN TXT "v=DKIM1; k=ed25519; /);
    assert.equal(zone[4], '_dmarc.example.org. IN TXT "v=DMARC1; p=quarantine; adkim=r; aspf=r"');
    const json = JSON.parse((await cli(['--data', data, 'domain', 'dns', 'example.org', '--hostname', 'mail.example.org', '--json'])).stdout) as Array<{ kind: string }>;
    assert.deepEqual(json.map((x) => x.kind), ['MX', 'SPF', 'DKIM', 'DKIM', 'DMARC']);
    for (const out of [r.stdout, r.stderr]) assert.doesNotMatch(out, /PRIVATE KEY/);
    assert.equal((await stat(join(data, 'mail.db'))).mode & 0o077, 0, 'the database holding the keys is private');

    // --- the queue signs ---
    const byName = Object.fromEntries(keys.map((k) => [k.name, k.value]));
    const store = await openServerStore({ dataDir: data });
    const auth = mailAuthOptions(store, 'mail.example.org', silentLogger);
    const authenticator = new Authenticator(store.directory, { failureDelayMs: 0 });
    const queue = createOutboundQueue({ store, auth: authenticator, hostname: 'mail.example.org', routes: { 'remote.test': { host: '127.0.0.1', port: sink.port } }, ...auth.outbound });
    try {
      const msg = Buffer.from('From: Alice <alice@example.org>\r\nTo: x@remote.test\r\nCc: y@remote.test\r\nSubject: signed  mail\r\nDate: Mon, 07 Dec 2026 01:00:00 +0000\r\nMessage-ID: <s1@example.org>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHello  world \r\n\r\n\r\n');
      await store.queue.enqueue('alice@example.org', ['x@remote.test'], msg);
      await store.queue.enqueue('someone@elsewhere.test', ['x@remote.test'], Buffer.from('From: someone@elsewhere.test\r\nTo: x@remote.test\r\nSubject: not ours\r\n\r\nbody\r\n'));
      await queue.runOnce();
      assert.equal(sink.messages.length, 2);
      const out = sink.messages.find((m) => m.from === 'alice@example.org')!.raw;
      const text = out.toString('latin1');
      const flat = text.replace(/\r\n\t/g, ' ');
      assert.match(flat, /^DKIM-Signature: v=1; a=rsa-sha256; c=relaxed\/relaxed; d=example\.org; s=rsa\d{8}; t=\d+; h=From:From:To:Cc:Subject:Date:Message-ID:MIME-Version:Content-Type; bh=[^;]+; b=[A-Za-z0-9+/= ]+\r\n/);
      assert.match(flat, /\r\nDKIM-Signature: v=1; a=ed25519-sha256; c=relaxed\/relaxed; d=example\.org; s=ed1; t=\d+; h=From:From:To:Cc/);
      assert.ok(out.subarray(out.length - msg.length).equals(msg), 'the message itself is unchanged below the signatures');
      assert.deepEqual(await pythonVerify(data, out, byName), [true, true]);
      const added = Buffer.concat([out.subarray(0, text.indexOf('From: Alice')), Buffer.from('From: mallory@evil.test\r\n'), out.subarray(text.indexOf('From: Alice'))]);
      assert.deepEqual(await pythonVerify(data, added, byName), [false, false], 'a From added later breaks both signatures');
      assert.doesNotMatch(sink.messages.find((m) => m.from === 'someone@elsewhere.test')!.raw.toString('latin1'), /DKIM-Signature/);

      // a bounce to a remote sender: From MAILER-DAEMON@mail.example.org, signed as example.org
      sink.setRcptReply((a) => (a === 'gone@remote.test' ? [550, 'No such user'] : null));
      await store.queue.enqueue('x@remote.test', ['gone@remote.test'], msg);
      await queue.runOnce();
      const bounce = sink.messages.find((m) => m.from === '')!;
      assert.deepEqual(bounce.to, ['x@remote.test']);
      assert.match(bounce.raw.toString('latin1'), /^DKIM-Signature: [^]*d=example\.org;[^]*From: Mail Delivery System <MAILER-DAEMON@mail\.example\.org>/);
      assert.deepEqual(await pythonVerify(data, bounce.raw, byName), [true, true]);

      // --- and our own MX (another mailroom) verifies what the queue sends ---
      await dns.setZone({
        records: [
          ...keys.map((k): [string, string, string] => [k.name, 'TXT', k.value]),
          ['example.org', 'TXT', 'v=spf1 ip4:127.0.0.1 -all'],
          ['_dmarc.example.org', 'TXT', 'v=DMARC1; p=reject'],
        ],
      });
      const b = await makeEnv([['bob@remote.test', 'pw']]);
      const resolver = createResolver({ servers: [{ host: '127.0.0.1', port: dns.port }], timeoutMs: 1000, tries: 1 });
      const mx = createSmtpService({ store: b.store, auth: b.auth, hostname: 'mx.remote.test', mxChecks: createMxChecker({ hostname: 'mx.remote.test', resolver }) });
      const mxPort = (await mx.listen({ host: '127.0.0.1', port: 0, implicitTls: false })).port;
      const toMx = createOutboundQueue({ store, auth: authenticator, hostname: 'mail.example.org', routes: { 'remote.test': { host: '127.0.0.1', port: mxPort } }, ...auth.outbound });
      try {
        await store.queue.enqueue('alice@example.org', ['bob@remote.test'], msg);
        await toMx.runOnce();
        const got = (await mailboxContents(b.store, 'bob@remote.test'))[0]!.toString('latin1').replace(/\r\n[ \t]+/g, ' ');
        assert.match(got, /Authentication-Results: mx\.remote\.test; dkim=pass [^;]*header\.s=rsa\d{8}[^;]*; dkim=pass [^;]*header\.s=ed1/);
        assert.match(got, /dmarc=pass/);
      } finally {
        await mx.close();
        await b.close();
      }
    } finally {
      await store.close();
    }
  } finally {
    await sink.close();
    await dns.stop();
    await rm(data, { recursive: true, force: true });
  }
});
