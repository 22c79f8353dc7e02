import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { hashPassword, verifyPassword, isSupportedHash, plaintextSecret } from './hash.js';
import { decodeSaslPlain, encodeSaslPlain, decodeBase64Strict } from './sasl.js';

test('argon2id hashes name their algorithm, are salted, and verify', async () => {
  const a = await hashPassword('correct horse');
  const b = await hashPassword('correct horse');
  assert.match(a, /^\$argon2id\$v=19\$/);
  assert.notEqual(a, b, 'per-user salt makes equal passwords hash differently');
  assert.equal(await verifyPassword(a, 'correct horse'), true);
  assert.equal(await verifyPassword(a, 'correct horsf'), false);
  assert.equal(await verifyPassword(a, ''), false);
});

test('Dovecot-style {SCHEME} hashes can be imported and verified', async () => {
  const salt = randomBytes(8);
  const ssha512 = '{SSHA512}' + Buffer.concat([createHash('sha512').update('pw').update(salt).digest(), salt]).toString('base64');
  const sha256 = '{SHA256}' + createHash('sha256').update('pw').digest('base64');
  const ssha = '{SSHA}' + Buffer.concat([createHash('sha1').update('pw').update(salt).digest(), salt]).toString('base64');
  for (const h of [ssha512, sha256, ssha, '{PLAIN}pw', '{plain}pw', '{CLEARTEXT}pw']) {
    assert.equal(isSupportedHash(h), true, h);
    assert.equal(await verifyPassword(h, 'pw'), true, h);
    assert.equal(await verifyPassword(h, 'pW'), false, h);
  }
  const argon = await hashPassword('pw');
  assert.equal(await verifyPassword('{ARGON2ID}' + argon, 'pw'), true);
});

test('unknown or malformed hashes never match', async () => {
  for (const h of ['', 'pw', '{MD5-CRYPT}$1$abc', '{SHA256}', '{SSHA512}!!!!', '$argon2id$garbage']) {
    assert.equal(await verifyPassword(h, 'pw'), false, h);
  }
  assert.equal(isSupportedHash('{MD5-CRYPT}x'), false);
});

test('plaintextSecret only for {PLAIN}', () => {
  assert.equal(plaintextSecret('{PLAIN}s3cret'), 's3cret');
  assert.equal(plaintextSecret('$argon2id$v=19$x'), null);
});

test('SASL PLAIN decoding (RFC 4616)', () => {
  assert.deepEqual(decodeSaslPlain(encodeSaslPlain('alice@x', 'pw')), { authzid: '', authcid: 'alice@x', password: 'pw' });
  assert.deepEqual(decodeSaslPlain(encodeSaslPlain('alice@x', 'pä ss', 'admin')), { authzid: 'admin', authcid: 'alice@x', password: 'pä ss' });
  assert.equal(decodeSaslPlain('not base64!'), null);
  assert.equal(decodeSaslPlain(Buffer.from('alice\0pw').toString('base64')), null, 'two fields');
  assert.equal(decodeSaslPlain(Buffer.from('\0\0pw').toString('base64')), null, 'empty authcid');
  assert.equal(decodeSaslPlain(Buffer.from('a\0b\0c\0d').toString('base64')), null, 'four fields');
  assert.deepEqual(decodeBase64Strict('='), Buffer.alloc(0));
  assert.equal(decodeBase64Strict('abc'), null, 'length not a multiple of 4');
});

test('argon2 checks queued behind one another all get their own answer (at most two run at a time)', async () => {
  const [a, b] = await Promise.all([hashPassword('first'), hashPassword('second')]);
  const checks = await Promise.all([
    verifyPassword(a, 'first'),
    verifyPassword(b, 'first'),
    verifyPassword(b, 'second'),
    verifyPassword(`{ARGON2ID}${a}`, 'first'),
    verifyPassword(a, 'second'),
    verifyPassword('$argon2id$v=19$broken', 'first'),
  ]);
  assert.deepEqual(checks, [true, false, true, true, false, false]);
  assert.equal(await verifyPassword(a, 'first'), true, 'the queue is free again after a malformed hash');
});
