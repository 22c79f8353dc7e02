/**
 * The DkimKeyStore contract (src/store/dkim.ts): add, list (per domain and all, oldest first, lower-cased),
 * remove, and the errors EXISTS, NOT_FOUND, INVALID.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { rejectsWith } from '../helpers/store.js';
import { storeRunner, type StoreFactory } from './harness.js';

const PEM = '-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIG0p0CHnKLxHsQ2nyUd6oyVcUUiGnYydtqm0Bp3wAx6E\n-----END PRIVATE KEY-----\n';

export function runDkimContract(name: string, factory: StoreFactory): void {
  const withStore = storeRunner(factory);
  describe(`DkimKeyStore contract: ${name}`, () => {
    test(
      'add, list, remove; EXISTS, NOT_FOUND, INVALID',
      withStore(async (s) => {
        assert.deepEqual(await s.dkim.list(), []);
        const a = await s.dkim.add({ domain: 'Example.ORG', selector: 'ED1', algorithm: 'ed25519', privateKey: PEM, publicKey: 'AAAA' });
        assert.equal(a.domain, 'example.org');
        assert.equal(a.selector, 'ed1');
        assert.ok(a.createdAt instanceof Date);
        await new Promise((r) => setTimeout(r, 5));
        await s.dkim.add({ domain: 'example.org', selector: 'rsa1', algorithm: 'rsa', privateKey: PEM, publicKey: 'BBBB' });
        await s.dkim.add({ domain: 'example.net', selector: 'ed1', algorithm: 'ed25519', privateKey: PEM, publicKey: 'CCCC' });
        const org = await s.dkim.list('EXAMPLE.org');
        assert.deepEqual(org.map((k) => [k.selector, k.algorithm, k.publicKey]), [['ed1', 'ed25519', 'AAAA'], ['rsa1', 'rsa', 'BBBB']]);
        assert.equal(org[0]!.privateKey, PEM);
        assert.equal((await s.dkim.list()).length, 3);
        await rejectsWith(s.dkim.add({ domain: 'example.org', selector: 'Ed1', algorithm: 'rsa', privateKey: PEM, publicKey: 'DDDD' }), 'EXISTS');
        await rejectsWith(s.dkim.add({ domain: 'example.org', selector: 'bad selector', algorithm: 'rsa', privateKey: PEM, publicKey: 'DDDD' }), 'INVALID');
        await rejectsWith(s.dkim.add({ domain: 'example.org', selector: 's2', algorithm: 'dsa' as 'rsa', privateKey: PEM, publicKey: 'DDDD' }), 'INVALID');
        await rejectsWith(s.dkim.add({ domain: 'example.org', selector: 's2', algorithm: 'rsa', privateKey: 'secret', publicKey: 'DDDD' }), 'INVALID');
        await s.dkim.remove('example.org', 'ED1');
        assert.deepEqual((await s.dkim.list('example.org')).map((k) => k.selector), ['rsa1']);
        await rejectsWith(s.dkim.remove('example.org', 'ed1'), 'NOT_FOUND');
        assert.deepEqual((await s.dkim.list('example.net')).map((k) => k.selector), ['ed1']);
      }),
    );
  });
}
