/**
 * The TokenStore contract (src/store/tokens.ts): create shows the secret once and stores only its hash,
 * verify accepts exactly that secret until revoke or expiry, list/revoke are per user, malformed input is
 * null or INVALID, push subscriptions are kept per user, and everything goes with the user.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { storeRunner, type StoreFactory } from './harness.js';
import { rejectsWith } from '../helpers/store.js';

export function runTokensContract(name: string, factory: StoreFactory): void {
  const withStore = storeRunner(factory);
  describe(`TokenStore contract: ${name}`, () => {
    test(
      'create, verify, list, revoke, expiry, malformed secrets',
      withStore(async (s, user) => {
        const t = await s.tokens.create(user.id, { name: 'phone', kind: 'app' });
        const v = await s.tokens.verify(t.secret);
        assert.equal(v?.id, t.id);
        assert.equal(v?.userId, user.id);
        assert.equal(v?.kind, 'app');
        assert.ok(v?.lastUsedAt);
        const wrong = t.secret.slice(0, -1) + (t.secret.endsWith('A') ? 'B' : 'A');
        assert.equal(await s.tokens.verify(wrong), null);
        for (const bad of ['', 'x', 'mrt_', `${t.secret}x`, 'Bearer ' + t.secret]) assert.equal(await s.tokens.verify(bad), null);
        const session = await s.tokens.create(user.id, { name: 'web', kind: 'session', expiresAt: new Date(Date.now() + 60_000) });
        const old = await s.tokens.create(user.id, { name: 'old', kind: 'session', expiresAt: new Date(Date.now() - 1000) });
        assert.equal((await s.tokens.verify(session.secret))?.kind, 'session');
        assert.equal(await s.tokens.verify(old.secret), null);
        const list = await s.tokens.list(user.id);
        assert.deepEqual(list.map((x) => x.name).sort(), ['old', 'phone', 'web']);
        assert.ok(!JSON.stringify(list).includes(t.secret.slice(-43)), 'the listing never shows the secret part');
        const other = await s.directory.createUser('bob@example.org', '$test$hash');
        assert.equal(await s.tokens.revoke(other.id, t.id), false);
        assert.deepEqual(await s.tokens.list(other.id), []);
        assert.equal(await s.tokens.revoke(user.id, t.id), true);
        assert.equal(await s.tokens.verify(t.secret), null);
        assert.equal(await s.tokens.revoke(user.id, t.id), false);
        await rejectsWith(s.tokens.create(user.id, { name: '', kind: 'app' }), 'INVALID');
        await rejectsWith(s.tokens.create(user.id, { name: 'x', kind: 'root' as 'app' }), 'INVALID');
        await s.directory.deleteUser('alice@example.org');
        assert.equal(await s.tokens.verify(session.secret), null);
      }),
    );
    test(
      'push subscriptions per user, updated in place, deleted',
      withStore(async (s, user) => {
        const rec = { id: 'P1', userId: user.id, deviceClientId: 'd', url: 'https://push.example/1', keys: null, verificationCode: 'c0de', verified: false, expires: new Date('2030-01-01T00:00:00Z'), types: ['Email'] };
        await s.tokens.pushPut(rec);
        assert.deepEqual(await s.tokens.pushList(user.id), [rec]);
        await s.tokens.pushPut({ ...rec, verified: true, types: null });
        const [got] = await s.tokens.pushList(user.id);
        assert.equal(got?.verified, true);
        assert.equal(got?.types, null);
        assert.equal(await s.tokens.pushDelete(user.id + 1, 'P1'), false);
        assert.equal(await s.tokens.pushDelete(user.id, 'P1'), true);
        assert.deepEqual(await s.tokens.pushList(user.id), []);
      }),
    );
  });
}
