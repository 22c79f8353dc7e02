/**
 * The SpamStore contract (src/store/spam.ts): per-user token counts and totals read in one call, training
 * that is idempotent per message digest, re-classing that moves a message from one class to the other,
 * untraining, counts that never go below zero, stats per user and for all users, reset, users apart.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { storeRunner, type StoreFactory } from './harness.js';

const plain = (m: Map<string, { spam: number; ham: number }>): Record<string, [number, number]> =>
  Object.fromEntries([...m].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => [k, [v.spam, v.ham]]));

export function runSpamContract(name: string, factory: StoreFactory): void {
  const withStore = storeRunner(factory);

  describe(`SpamStore contract: ${name}`, () => {
    test(
      'train, re-train (idempotent), re-class, untrain; counts and totals',
      withStore(async (s, user) => {
        const sp = s.spam;
        let c = await sp.counts(user.id, ['a', 'b']);
        assert.deepEqual(c.totals, { spam: 0, ham: 0 });
        assert.equal(c.tokens.size, 0);
        assert.equal(await sp.trainedAs(user.id, 'm1'), null);

        const g0 = c.generation;
        assert.equal(await sp.train(user.id, 'm1', 'spam', ['a', 'b', 'b', 'ünï']), 'trained');
        const g1 = (await sp.counts(user.id, [])).generation;
        assert.notEqual(g1, g0, 'training changes the generation');
        assert.equal(await sp.train(user.id, 'm1', 'spam', ['a', 'b']), 'unchanged');
        assert.equal((await sp.counts(user.id, [])).generation, g1, 'a step that changes nothing keeps it');
        assert.equal(await sp.train(user.id, 'm2', 'ham', ['b', 'c']), 'trained');
        c = await sp.counts(user.id, ['a', 'b', 'c', 'ünï', 'zzz']);
        assert.deepEqual(c.totals, { spam: 1, ham: 1 });
        assert.deepEqual(plain(c.tokens), { a: [1, 0], b: [1, 1], c: [0, 1], 'ünï': [1, 0] });
        const v = await sp.vocabulary(user.id, 4);
        assert.deepEqual([v.complete, plain(v.tokens), v.totals, v.generation], [true, plain(c.tokens), c.totals, c.generation], 'the whole vocabulary in one read');
        const big = await sp.vocabulary(user.id, 3);
        assert.deepEqual([big.complete, big.tokens.size, big.totals], [false, 0, c.totals], 'more tokens than asked for: incomplete');
        assert.equal(await sp.trainedAs(user.id, 'm1'), 'spam');

        // m1 was spam: now ham. Its tokens move from one class to the other.
        assert.equal(await sp.train(user.id, 'm1', 'ham', ['a', 'b', 'ünï']), 'retrained');
        c = await sp.counts(user.id, ['a', 'b', 'c', 'ünï']);
        assert.deepEqual(c.totals, { spam: 0, ham: 2 });
        assert.deepEqual(plain(c.tokens), { a: [0, 1], b: [0, 2], c: [0, 1], 'ünï': [0, 1] });

        assert.equal(await sp.untrain(user.id, 'm1', ['a', 'b', 'ünï']), 'ham');
        assert.equal(await sp.untrain(user.id, 'm1', ['a', 'b', 'ünï']), null);
        c = await sp.counts(user.id, ['a', 'b', 'c', 'ünï']);
        assert.deepEqual(c.totals, { spam: 0, ham: 1 });
        assert.deepEqual(plain(c.tokens), { b: [0, 1], c: [0, 1] });
        assert.equal(await sp.trainedAs(user.id, 'm1'), null);
      }),
    );

    test(
      'counts never go below zero when the token list changed; zero tokens are dropped',
      withStore(async (s, user) => {
        const sp = s.spam;
        await sp.train(user.id, 'x', 'spam', ['p']);
        assert.equal(await sp.train(user.id, 'x', 'ham', ['p', 'q', 'never-trained']), 'retrained');
        const c = await sp.counts(user.id, ['p', 'q', 'never-trained']);
        assert.deepEqual(plain(c.tokens), { 'never-trained': [0, 1], p: [0, 1], q: [0, 1] });
        await sp.untrain(user.id, 'x', ['p', 'other']);
        const d = await sp.counts(user.id, ['p', 'q', 'other']);
        assert.deepEqual(d.totals, { spam: 0, ham: 0 });
        assert.deepEqual(plain(d.tokens), { q: [0, 1] });
      }),
    );

    test(
      'stats per user and for all, users apart, reset, many tokens in one read',
      withStore(async (s, user) => {
        const sp = s.spam;
        const bob = await s.directory.createUser('bob@example.org', '$test$hash');
        const many = Array.from({ length: 1500 }, (_, i) => `tok:${i}`);
        await sp.train(user.id, 'm', 'spam', many);
        await sp.train(bob.id, 'n', 'ham', ['tok:1', 'other']);
        const c = await sp.counts(user.id, many);
        assert.equal(c.tokens.size, 1500);
        assert.deepEqual(c.tokens.get('tok:1'), { spam: 1, ham: 0 });
        assert.deepEqual((await sp.counts(bob.id, ['tok:1'])).tokens.get('tok:1'), { spam: 0, ham: 1 });
        assert.deepEqual(await sp.stats(user.id), [{ userId: user.id, spamMessages: 1, hamMessages: 0, tokens: 1500 }]);
        assert.deepEqual(await sp.stats(), [
          { userId: user.id, spamMessages: 1, hamMessages: 0, tokens: 1500 },
          { userId: bob.id, spamMessages: 0, hamMessages: 1, tokens: 2 },
        ]);
        await sp.reset(user.id);
        assert.deepEqual(await sp.stats(user.id), [{ userId: user.id, spamMessages: 0, hamMessages: 0, tokens: 0 }]);
        assert.equal(await sp.trainedAs(user.id, 'm'), null);
        assert.equal((await sp.stats()).length, 1);
        // Concurrent training steps of one user all count.
        await Promise.all(Array.from({ length: 20 }, (_, i) => sp.train(user.id, `c${i}`, i % 2 ? 'spam' : 'ham', ['shared', `own${i}`])));
        const t = await sp.counts(user.id, ['shared']);
        assert.deepEqual(t.totals, { spam: 10, ham: 10 });
        assert.deepEqual(t.tokens.get('shared'), { spam: 10, ham: 10 });
      }),
    );

    test(
      'a deleted user leaves no counts behind',
      withStore(async (s, user) => {
        const bob = await s.directory.createUser('bob@example.org', '$test$hash');
        await s.spam.train(bob.id, 'n', 'spam', ['gone', 'too']);
        await s.spam.train(user.id, 'm', 'ham', ['kept']);
        await s.directory.deleteUser('bob@example.org');
        assert.deepEqual(await s.spam.stats(), [{ userId: user.id, spamMessages: 0, hamMessages: 1, tokens: 1 }]);
        assert.deepEqual((await s.spam.counts(bob.id, ['gone'])).tokens.size, 0);
      }),
    );
  });
}
