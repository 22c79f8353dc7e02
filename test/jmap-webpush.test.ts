/**
 * Encrypted JMAP push (RFC 8620 7.2 keys, RFC 8291 Web Push encryption, RFC 8188 aes128gcm): the test is
 * the subscriber. It makes a P-256 key pair and an auth secret, receives the PushVerification and the
 * StateChanges on a loopback URL and decrypts them with its private key (the decryption here follows the
 * RFCs on its own); tampered messages fail to decrypt; bad keys are refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createDecipheriv, createECDH, hkdfSync, randomBytes, type ECDH } from 'node:crypto';
import { startJmap, inboxId, rfc822 } from './jmap-helpers.js';
import { encryptPush } from '../src/jmap/webpush.js';

type R = Record<string, unknown>;

/** Decrypts one aes128gcm Web Push message with the subscriber's key pair (RFC 8291 3.4, RFC 8188 2). */
function decrypt(msg: Buffer, ua: ECDH, auth: Buffer): Buffer {
  const salt = msg.subarray(0, 16);
  const rs = msg.readUInt32BE(16);
  const idlen = msg[20]!;
  const asPublic = msg.subarray(21, 21 + idlen);
  const record = msg.subarray(21 + idlen);
  assert.equal(idlen, 65);
  assert.ok(record.length <= rs, 'one record');
  const secret = ua.computeSecret(asPublic);
  const info = Buffer.concat([Buffer.from('WebPush: info\0'), ua.getPublicKey(), asPublic]);
  const ikm = Buffer.from(hkdfSync('sha256', secret, auth, info, 32));
  const cek = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: aes128gcm\0'), 16));
  const nonce = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: nonce\0'), 12));
  const d = createDecipheriv('aes-128-gcm', cek, nonce);
  d.setAuthTag(record.subarray(record.length - 16));
  const plain = Buffer.concat([d.update(record.subarray(0, record.length - 16)), d.final()]);
  let end = plain.length - 1;
  while (end >= 0 && plain[end] === 0) end--;
  assert.equal(plain[end], 2, 'last-record delimiter');
  return plain.subarray(0, end);
}

function subscriber(): { ua: ECDH; auth: Buffer; keys: { p256dh: string; auth: string } } {
  const ua = createECDH('prime256v1');
  ua.generateKeys();
  const auth = randomBytes(16);
  return { ua, auth, keys: { p256dh: ua.getPublicKey().toString('base64url'), auth: auth.toString('base64url') } };
}

test('encryptPush output decrypts with the subscriber key only, and fresh keys and salt each time', () => {
  const s = subscriber();
  const text = Buffer.from('{"@type":"StateChange","changed":{}}');
  const a = encryptPush(text, s.keys);
  const b = encryptPush(text, s.keys);
  assert.deepEqual(decrypt(a, s.ua, s.auth), text);
  assert.notDeepEqual(a.subarray(0, 16), b.subarray(0, 16), 'a new salt per message');
  assert.notDeepEqual(a.subarray(21, 86), b.subarray(21, 86), 'a new ephemeral key per message');
  const tampered = Buffer.from(a);
  tampered[tampered.length - 20]! ^= 1;
  assert.throws(() => decrypt(tampered, s.ua, s.auth));
  const other = subscriber();
  assert.throws(() => decrypt(a, other.ua, other.auth), 'another subscriber cannot read it');
  assert.throws(() => encryptPush(text, { p256dh: '!!', auth: s.keys.auth }));
});

test('PushSubscription with keys: encrypted PushVerification and StateChange; bad keys refused', async (t) => {
  const f = await startJmap();
  t.after(() => f.stop());
  const got: Array<{ headers: IncomingHttpHeaders; body: Buffer }> = [];
  const srv = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      got.push({ headers: req.headers, body: Buffer.concat(chunks) });
      res.writeHead(201).end();
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  t.after(() => srv.close());
  const url = `http://127.0.0.1:${(srv.address() as AddressInfo).port}/push`;
  const wait = async (): Promise<{ headers: IncomingHttpHeaders; body: Buffer }> => {
    for (let i = 0; i < 200 && got.length === 0; i++) await new Promise((r) => setTimeout(r, 25));
    const m = got.shift();
    assert.ok(m, 'a push arrived');
    return m;
  };
  const s = subscriber();
  const c = await f.call('PushSubscription/set', { create: { p: { deviceClientId: 'phone', url, keys: s.keys, types: ['Email'] } } });
  const id = ((c['created'] as R)['p'] as R)['id'] as string;
  const v = await wait();
  assert.equal(v.headers['content-encoding'], 'aes128gcm');
  assert.ok(!v.body.toString('latin1').includes('PushVerification'), 'not in clear text');
  const ver = JSON.parse(decrypt(v.body, s.ua, s.auth).toString('utf8')) as R;
  assert.equal(ver['@type'], 'PushVerification');
  assert.equal(ver['pushSubscriptionId'], id);
  await f.call('PushSubscription/set', { update: { [id]: { verificationCode: ver['verificationCode'] } } });
  await f.m.store.mail.append(await inboxId(f), rfc822('encrypted push'));
  const sc = JSON.parse(decrypt((await wait()).body, s.ua, s.auth).toString('utf8')) as R;
  assert.equal(sc['@type'], 'StateChange');
  assert.ok(((sc['changed'] as R)[f.accountId] as R)['Email']);
  const g = await f.call('PushSubscription/get', { ids: [id] });
  assert.equal(((g['list'] as R[])[0]!)['keys'], undefined, 'keys are never returned');

  const offCurve = Buffer.alloc(65, 1);
  offCurve[0] = 4;
  const bad = await f.call('PushSubscription/set', {
    create: {
      short: { deviceClientId: 'd', url, keys: { p256dh: s.keys.p256dh, auth: 'AAAA' } },
      curve: { deviceClientId: 'd', url, keys: { p256dh: offCurve.toString('base64url'), auth: s.keys.auth } },
      shape: { deviceClientId: 'd', url, keys: 'x' },
    },
  });
  for (const k of ['short', 'curve', 'shape']) assert.equal(((bad['notCreated'] as R)[k] as R)['type'], 'invalidProperties', k);
});
