/**
 * The MX's DKIM verifier (src/mailauth/verify.ts) on signatures made by an independent signer, Python's
 * dkim module (python3-dkim): RSA and Ed25519, simple and relaxed canonicalization, l=, folded fields; and
 * the results for damaged signatures, missing and revoked keys, weak keys, unsigned From, DNS failures.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DnsError, type DnsResolver } from '../src/lib/dns.js';
import { generateDkimKey, dkimRecordValue, signMessage } from '../src/mailauth/index.js';
import { DkimKeyCache, verifyDkim } from '../src/mailauth/verify.js';
import { runProgram } from './delivery/helpers.js';

const rsa = generateDkimKey('rsa');
const ed = generateDkimKey('ed25519');
const weak = generateKeyPairSync('rsa', { modulusLength: 512 });
const weakP = weak.publicKey.export({ type: 'spki', format: 'der' }).toString('base64');

const RECORDS: Record<string, string> = {
  'rsa._domainkey.example.org': dkimRecordValue({ algorithm: 'rsa', publicKey: rsa.publicKey }),
  'ed._domainkey.example.org': dkimRecordValue({ algorithm: 'ed25519', publicKey: ed.publicKey }),
  'revoked._domainkey.example.org': 'v=DKIM1; k=rsa; p=',
  'weak._domainkey.example.org': `v=DKIM1; k=rsa; p=${weakP}`,
};

const resolver: DnsResolver = {
  queries: 0,
  async resolve() {
    throw new Error('unused');
  },
  async resolveTxt(name: string) {
    if (name.startsWith('temp.')) throw new DnsError('ESERVFAIL', name, 'TXT');
    const v = RECORDS[name];
    if (v === undefined) throw new DnsError('ENOTFOUND', name, 'TXT');
    return [[v.slice(0, 200), v.slice(200)]];
  },
  async resolveMx() {
    return [];
  },
  async lookupAll() {
    return [];
  },
};

const MSG = 'From: Alice <alice@example.org>\r\nTo: bob@example.net,\r\n  carol@example.net\r\nSubject: a  folded\r\n\tsubject\r\nDate: Mon, 07 Dec 2026 01:00:00 +0000\r\n\r\nLine one  \r\n\tLine two\r\n\r\n\r\n';

const SIGN = `
import dkim, json, sys
a = json.loads(sys.argv[1])
msg = open(a['file'], 'rb').read()
out = {}
for name, sel, key, canon, length in a['jobs']:
    sig = dkim.sign(msg, sel.encode(), b'example.org', key.encode(), canonicalize=(canon[0].encode(), canon[1].encode()),
                    include_headers=[b'from', b'to', b'subject', b'date'], signature_algorithm=(b'ed25519-sha256' if sel == 'ed' else b'rsa-sha256'), length=length)
    out[name] = sig.decode()
print(json.dumps(out))
`;

test('signatures made by python3-dkim verify; damage is reported', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'mailroom-verify-'));
  try {
    const file = join(dir, 'msg.eml');
    await writeFile(file, MSG);
    const edSeed = createPrivateKey(ed.privateKey).export({ format: 'der', type: 'pkcs8' }).subarray(-32).toString('base64');
    const jobs = [
      ['rsa-relaxed', 'rsa', rsa.privateKey, ['relaxed', 'relaxed'], false],
      ['rsa-simple', 'rsa', rsa.privateKey, ['simple', 'simple'], false],
      ['rsa-mixed', 'rsa', rsa.privateKey, ['relaxed', 'simple'], false],
      ['rsa-length', 'rsa', rsa.privateKey, ['relaxed', 'relaxed'], true],
      ['ed-relaxed', 'ed', edSeed, ['relaxed', 'relaxed'], false],
    ];
    const r = await runProgram('/usr/bin/python3', ['-c', SIGN, JSON.stringify({ file, jobs })]);
    assert.equal(r.code, 0, r.stderr);
    const sigs = JSON.parse(r.stdout) as Record<string, string>;
    const keys = new DkimKeyCache();
    for (const [name, sig] of Object.entries(sigs)) {
      const res = await verifyDkim(Buffer.from(sig + MSG, 'latin1'), resolver, keys);
      assert.equal(res.length, 1);
      assert.equal(res[0]!.result, 'pass', `${name}: ${res[0]!.info}`);
      assert.match(res[0]!.info, /^dkim=pass header\.d=example\.org header\.i=@example\.org header\.s=(rsa|ed) header\.a=(rsa|ed25519)-sha256 header\.b=\S{8}$/);
    }
    // l= covers the body signed; text appended after it still verifies
    const appended = await verifyDkim(Buffer.from(sigs['rsa-length'] + MSG + 'appended\r\n', 'latin1'), resolver, keys);
    assert.equal(appended[0]!.result, 'pass');
    const changed = await verifyDkim(Buffer.from(sigs['rsa-simple'] + MSG.replace('a  folded', 'a folded'), 'latin1'), resolver, keys);
    assert.equal(changed[0]!.result, 'fail', 'simple canonicalization keeps spaces');
    const relaxedOk = await verifyDkim(Buffer.from(sigs['rsa-relaxed'] + MSG.replace('a  folded', 'a folded'), 'latin1'), resolver, keys);
    assert.equal(relaxedOk[0]!.result, 'pass', 'relaxed canonicalization does not');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('results for keys, algorithms and tags that do not hold', async () => {
  const keys = new DkimKeyCache();
  const raw = Buffer.from(MSG);
  const sign = (selector: string, algorithm: 'rsa' | 'ed25519' = 'rsa'): Buffer =>
    signMessage(raw, [{ domain: 'example.org', selector, algorithm, key: createPrivateKey(algorithm === 'rsa' ? rsa.privateKey : ed.privateKey) }]);
  const one = async (m: Buffer): Promise<string> => {
    const [res] = await verifyDkim(m, resolver, keys);
    return `${res!.result}${res!.comment ? ` (${res!.comment})` : ''}`;
  };
  assert.deepEqual(await verifyDkim(raw, resolver, keys), []);
  assert.equal(await one(sign('rsa')), 'pass');
  assert.equal(await one(sign('ed', 'ed25519')), 'pass');
  assert.equal(await one(sign('missing')), 'permerror (no key)');
  assert.equal(await one(sign('revoked')), 'permerror (key revoked)');
  assert.equal(await one(sign('temp')), 'temperror (key lookup failed)');
  assert.equal(await one(sign('ed')), 'permerror (key type does not match the algorithm)');
  const edit = (m: Buffer, from: RegExp, to: string): Buffer => Buffer.from(m.toString('latin1').replace(from, to), 'latin1');
  assert.equal(await one(edit(sign('rsa'), /a=rsa-sha256/, 'a=rsa-sha1')), 'neutral (rsa-sha1 is not accepted)');
  assert.equal(await one(edit(sign('rsa'), /h=From:From:/, 'h=')), 'permerror (From is not signed)');
  assert.equal(await one(edit(sign('rsa'), /;(\s*)t=/, '; i=@evil.test;$1t=')), 'permerror (i= is not within d=)');
  assert.equal(await one(edit(sign('rsa'), /;(\s*)t=/, '; x=1000;$1t=')), 'fail (signature expired)');
  assert.equal(await one(edit(sign('rsa'), /v=1;/, 'v=1; v=2;')), 'neutral (signature syntax error)');
  assert.equal(await one(edit(sign('rsa'), /Date: Mon/, 'Date: Tue')), 'fail (bad signature)');
  assert.equal(await one(edit(sign('rsa'), /Line one/, 'Line 1')), 'fail (body hash did not verify)');
  const weakSigned = signMessage(raw, [{ domain: 'example.org', selector: 'weak', algorithm: 'rsa', key: weak.privateKey }]);
  assert.equal(await one(weakSigned), 'policy (weak key)');
});
