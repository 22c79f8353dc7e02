import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Directory } from '../store/directory.js';
import { isBarePostmaster, isPostmasterAddress, postmasterDomain } from './postmaster.js';

/** A directory holding only `domains` (what postmasterDomain asks). */
function domains(list: string[]): Directory {
  return { hasDomain: async (d: string) => list.includes(d), listDomains: async () => [...list].sort() } as unknown as Directory;
}

test('postmasterDomain: the hostname or its nearest local parent, else the first local domain, else null', async () => {
  assert.equal(await postmasterDomain(domains(['example.org', 'sub.example.org']), 'mx.sub.example.org'), 'sub.example.org');
  assert.equal(await postmasterDomain(domains(['example.org']), 'MX.Example.Org.'), 'example.org');
  assert.equal(await postmasterDomain(domains(['mx.example.org', 'example.org']), 'mx.example.org'), 'mx.example.org');
  assert.equal(await postmasterDomain(domains(['b.test', 'a.test']), 'localhost'), 'a.test');
  assert.equal(await postmasterDomain(domains([]), 'mx.example.org'), null);
});

test('postmaster address recognition', () => {
  for (const s of ['postmaster', 'Postmaster', ' POSTMASTER ']) assert.equal(isBarePostmaster(s), true, s);
  for (const s of ['postmaster@x', 'postmasters', '']) assert.equal(isBarePostmaster(s), false, s);
  for (const s of ['postmaster@example.org', 'PostMaster+x@example.org', 'postmaster']) assert.equal(isPostmasterAddress(s), true, s);
  for (const s of ['postmasterx@example.org', 'abuse@example.org', 'x@postmaster']) assert.equal(isPostmasterAddress(s), false, s);
});
