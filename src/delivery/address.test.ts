import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseAddress, isValidDomain, domainOf } from './address.js';

test('parseAddress splits, lowercases and finds the plus tag', () => {
  assert.deepEqual(parseAddress('Bob+Lists@Example.ORG'), { local: 'bob+lists', domain: 'example.org', address: 'bob+lists@example.org', base: 'bob', tag: 'lists' });
  assert.deepEqual(parseAddress('bob@example.org'), { local: 'bob', domain: 'example.org', address: 'bob@example.org', base: 'bob', tag: null });
  assert.equal(parseAddress('bob+@example.org')?.tag, '');
  assert.equal(parseAddress('bob+a+b@example.org')?.tag, 'a+b');
  // a leading '+' is part of the name, not a tag
  assert.equal(parseAddress('+x@example.org')?.tag, null);
  assert.equal(parseAddress('"odd@local"@example.org')?.domain, 'example.org');
  assert.equal(parseAddress('josé@exämple.org')?.domain, 'exämple.org');
});

test('parseAddress refuses what is not local@domain', () => {
  for (const bad of ['', 'bob', '@example.org', 'bob@', 'bob@@example.org', 'bo b@example.org', 'bob@exa mple.org', 'bob@-x.org', 'bob@x..org', 'a\r\nb@x.org', 'a\x00@x.org', `${'a'.repeat(250)}@x.org`, '<bob@x.org>']) {
    assert.equal(parseAddress(bad), null, JSON.stringify(bad));
  }
});

test('isValidDomain and domainOf', () => {
  assert.ok(isValidDomain('example.org'));
  assert.ok(isValidDomain('[127.0.0.1]'));
  assert.ok(!isValidDomain('exa_mple..org'));
  assert.ok(!isValidDomain('a'.repeat(64) + '.org'));
  assert.equal(domainOf('X@Y.Z'), 'y.z');
  assert.equal(domainOf('nope'), null);
});
