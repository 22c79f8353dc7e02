import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { relaxedBody, relaxedHeader, headerList, signMessage } from './sign.js';
import { verifyDkim, DkimKeyCache } from './verify.js';
import { publicKeyValue } from './keys.js';
import { splitFields, authservId, removeOwnAuthResults } from './headers.js';

const rb = (s: string): string => relaxedBody(Buffer.from(s, 'latin1')).toString('latin1');

test('relaxed body canonicalization (RFC 6376 3.4.4), fast path and full path alike', () => {
  assert.equal(rb(''), '');
  assert.equal(rb('\r\n\r\n'), '');
  assert.equal(rb('abc'), 'abc\r\n');
  assert.equal(rb('abc\r\n'), 'abc\r\n');
  assert.equal(rb('abc\r\n\r\n\r\n'), 'abc\r\n');
  assert.equal(rb('a b\r\nc\r\n'), 'a b\r\nc\r\n');
  assert.equal(rb('a  b \t\r\n \r\nc\t\r\n\r\n'), 'a b\r\n\r\nc\r\n');
  assert.equal(rb(' C \r\nD \t E\r\n\r\n\r\n'), ' C\r\nD E\r\n'); // RFC 6376 3.4.6 example body
  assert.equal(rb('x \r\n'), 'x\r\n');
  assert.equal(rb('x '), 'x\r\n');
});

test('relaxed header canonicalization (RFC 6376 3.4.2) and the signed field list', () => {
  assert.equal(relaxedHeader('SUBJect ', ' AbC \r\n\t d  e '), 'subject:AbC d e\r\n');
  const fields = splitFields(Buffer.from('From: a@x\r\nTo: b@y\r\nReceived: z\r\nTo: c@y\r\nX-Other: 1\r\n\r\nbody'));
  assert.deepEqual(headerList(fields), ['From', 'From', 'To', 'To']);
});

test('Authentication-Results authserv-id and removal of our own', () => {
  assert.equal(authservId(' (c) MX.Example.org 1; spf=pass'), 'mx.example.org');
  assert.equal(authservId('"mx.example.org"; none'), 'mx.example.org');
  assert.equal(authservId(''), null);
  const raw = Buffer.from('Authentication-Results: mx.example.org;\r\n dkim=pass\r\nSubject: s\r\nauthentication-results: other; spf=pass\r\n\r\nAuthentication-Results: mx.example.org; in the body\r\n');
  const out = removeOwnAuthResults(raw, 'MX.example.org');
  assert.equal(out.removed, 1);
  assert.equal(out.raw.toString(), 'Subject: s\r\nauthentication-results: other; spf=pass\r\n\r\nAuthentication-Results: mx.example.org; in the body\r\n');
  assert.equal(removeOwnAuthResults(out.raw, 'mx.example.org').raw, out.raw);
});

test('a message of header fields only is signed over an empty body; one without From is not signed', async () => {
  const pair = generateKeyPairSync('ed25519');
  const key = { domain: 'example.org', selector: 'ed', algorithm: 'ed25519' as const, key: pair.privateKey };
  const resolver = {
    queries: 0,
    resolve: () => Promise.reject(new Error('unused')),
    resolveTxt: async () => [[`v=DKIM1; k=ed25519; p=${publicKeyValue(pair.publicKey)}`]],
    resolveMx: async () => [],
    lookupAll: async () => [],
  };
  const headerOnly = signMessage(Buffer.from('From: a@example.org\r\nSubject: s\r\n'), [key]);
  assert.match(headerOnly.toString(), /^DKIM-Signature: /);
  const [res] = await verifyDkim(headerOnly, resolver, new DkimKeyCache());
  assert.equal(res!.result, 'pass');
  const noFrom = Buffer.from('Subject: s\r\n\r\nbody\r\n');
  assert.equal(signMessage(noFrom, [key]), noFrom);
});
