/**
 * The spam filter's parts without servers: tokens (headers, authentication results, decoded MIME text,
 * URLs, obfuscation), Robinson/chi-squared combining, the untrained rule, the delivery stage's verdicts
 * and header fields, untrusted X-Spam fields, quarantine, and hostile input that must never throw.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../store/index.js';
import type { Store } from '../store/handle.js';
import { defaultDisposition, runStages, type LocalMessage } from '../delivery/pipeline.js';
import { silentLogger } from '../lib/logger.js';
import { chi2Q, classify, tokenProbability } from './classify.js';
import { tokenize } from './tokenize.js';
import { messageDigest, renameSpamFields, storedAuthResults } from './message.js';
import { SpamFilter, spamStage, noteTransfer } from './index.js';
import { CountsCache, GENERATION_RECHECK_MS, VOCABULARY_RELOAD_MS } from './cache.js';

const msg = (s: string): Buffer => Buffer.from(s.replace(/\r?\n/g, '\r\n'), 'utf8');

async function withStore(fn: (s: Store, userId: number) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'mailroom-spam-unit-'));
  const store = await openStore({ dataDir: dir, fsync: false });
  try {
    const u = await store.directory.createUser('alice@example.org', '$test$hash');
    await fn(store, u.id);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function local(userId: number, raw: Buffer, facts: Record<string, unknown> = {}): LocalMessage {
  return { userId, address: 'alice@example.org', recipient: 'alice@example.org', members: ['alice@example.org'], tag: null, envelopeFrom: 's@remote.test', transport: 'lmtp', raw, facts };
}

test('tokens: header fields, auth results, decoded base64 HTML, URLs, obfuscation, CJK, skipped fields', () => {
  const html = Buffer.from('<p>Buy <b>V.I.A.G.R.A</b> now at <a href="http://pills.example.top/x?id=5">https://www.paypal.com</a></p><div style="display:none">lovely garden</div>').toString('base64');
  const t = new Set(
    tokenize(
      msg(
        `From: "Shop" <deals1234@promo.example.top>\nSubject: =?UTF-8?B?${Buffer.from('Grüße aus Köln').toString('base64')}?=\nX-Spam-Status: No, score=-100\nReceived: from evil\nMessage-ID: <1@promo.example.top>\nContent-Type: multipart/alternative; boundary=b\n\n--b\nContent-Type: text/plain; charset=utf-8\n\n今日は良い天気 free\u200bmoney visit www.example.org/path\n--b\nContent-Type: text/html; charset=utf-8\nContent-Transfer-Encoding: base64\n\n${html}\n--b--\n`,
      ),
      { authResults: 'mx.test; spf=pass smtp.mailfrom=promo.example.top; dkim=fail header.d=promo.example.top; dmarc=none' },
    ),
  );
  for (const want of ['from:addr:deals1234@promo.example.top', 'from:domain:promo.example.top', 'from:digits', 'subject:grüße', 'subject:köln', 'auth:spf=pass', 'auth:spf=pass:promo.example.top', 'auth:dkim=fail', 'auth:dmarc=none', 'message-id:matches-from', 'mime:multipart/alternative', 'cte:base64', 'viagra', 'obf:spaced', 'html:hidden', 'html:link-mismatch', 'url:domain:example.top', 'url:tld:top', 'url:tracking-param', 'url:domain:example.org', '今日', 'text:invisible-chars', 'freemoney']) {
    assert.ok(t.has(want), `missing ${want}; have ${[...t].join(' ')}`);
  }
  for (const t2 of t) assert.ok(!/x-spam|score=-100|evil/i.test(t2), `untrusted or own field learnt: ${t2}`);
  assert.ok(tokenize(msg('Subject: a\n\nb\n')).includes('auth:none'));
});

test('hostile input never throws and costs bounded time', () => {
  const cases: Buffer[] = [
    Buffer.alloc(0),
    Buffer.from('\r\n\r\n'),
    Buffer.concat([Buffer.from('X-Long: '), Buffer.alloc(3 * 1024 * 1024, 0x61), Buffer.from('\r\n\r\nbody\r\n')]),
    Buffer.from(Array.from({ length: 200_000 }, (_, i) => (i * 7919) % 256)),
    msg('Content-Type: multipart/mixed; boundary=a\n\n' + '--a\nContent-Type: multipart/mixed; boundary=a\n\n'.repeat(500)),
    msg(`Content-Type: text/html\n\n${'<a href="http://x.example/">'.repeat(50_000)}`),
    msg(`Subject: ${'\u200b'.repeat(10000)}\nContent-Transfer-Encoding: x-unknown\n\n${'é'.repeat(300_000)}`),
  ];
  for (const c of cases) {
    const t0 = performance.now();
    const tokens = tokenize(c);
    assert.ok(Array.isArray(tokens));
    assert.ok(performance.now() - t0 < 3000, 'bounded time');
  }
});

test('Robinson f(w) and chi-squared combining', () => {
  const totals = { spam: 10, ham: 10 };
  assert.equal(tokenProbability({ spam: 0, ham: 0 }, totals), 0.5);
  assert.ok(tokenProbability({ spam: 10, ham: 0 }, totals) > 0.97);
  assert.ok(tokenProbability({ spam: 0, ham: 10 }, totals) < 0.03);
  assert.ok(Math.abs(tokenProbability({ spam: 1, ham: 0 }, totals) - (0.45 * 0.5 + 1) / 1.45) < 1e-12);
  // Unbalanced training: a token in half of each class is neutral.
  assert.equal(tokenProbability({ spam: 50, ham: 5 }, { spam: 100, ham: 10 }), 0.5);
  assert.ok(Math.abs(chi2Q(2, 2) - Math.exp(-1)) < 1e-12);
  assert.equal(chi2Q(0, 10), 1);
  const counts = (m: Record<string, [number, number]>) => ({ totals, generation: 0, tokens: new Map(Object.entries(m).map(([k, [s, h]]) => [k, { spam: s, ham: h }])) });
  assert.ok(classify(['a', 'b', 'c'], counts({ a: [9, 0], b: [8, 1], c: [10, 0] })).probability > 0.95);
  assert.ok(classify(['a', 'b', 'c'], counts({ a: [0, 9], b: [1, 8], c: [0, 10] })).probability < 0.05);
  const mixed = classify(['a', 'b'], counts({ a: [10, 0], b: [0, 10] })).probability;
  assert.ok(mixed > 0.3 && mixed < 0.7, `disagreeing clues are unsure: ${mixed}`);
  assert.deepEqual(classify(['x'], counts({})), { probability: 0.5, clues: 0 });
});

test('digest ignores X-Spam fields; untrusted fields are renamed; our Authentication-Results is found', () => {
  const a = msg('Subject: x\nX-Spam-Status: Yes\n\nbody\n');
  const b = msg('X-Spam: Yes\nSubject: x\n\nbody\n');
  assert.equal(messageDigest(a), messageDigest(msg('Subject: x\n\nbody\n')));
  assert.equal(messageDigest(b), messageDigest(msg('Subject: x\n\nbody\n')));
  assert.notEqual(messageDigest(a), messageDigest(msg('Subject: x\n\nbody!\n')));
  assert.equal(renameSpamFields(msg('Subject: x\n\nX-Spam: in body\n')), null);
  assert.equal(renameSpamFields(a)!.toString(), 'Subject: x\r\nUntrusted-X-Spam-Status: Yes\r\n\r\nbody\r\n');
  assert.equal(messageDigest(renameSpamFields(a)!), messageDigest(a));
  const ar = msg('Authentication-Results: mx.test; spf=pass\nAuthentication-Results: other.example; dkim=pass\n\nb\n');
  assert.equal(storedAuthResults(ar), 'mx.test; spf=pass');
  assert.equal(storedAuthResults(ar, 'other.example'), 'other.example; dkim=pass');
  assert.equal(storedAuthResults(msg('Subject: x\n\n')), null);
});

const SPAM = (i: number): Buffer =>
  msg(`From: winner${i}@lottery.example.top\nSubject: You won the lottery prize ${i}\n\nClaim your lottery prize money now, send bank details to claims agent ${i}. Transfer fee required urgently.\n`);
const HAM = (i: number): Buffer =>
  msg(`From: bob@friends.example\nSubject: Dinner on Saturday ${i}\n\nHi Alice, are we still on for dinner on Saturday? I will bring the salad and the garden photos ${i}.\n`);

test('the stage: untrained users are never misfiled, trained ones get verdicts, headers, notes and Junk', async () => {
  await withStore(async (store, userId) => {
    const filter = new SpamFilter(store, { minTrained: 3 });
    const stage = [spamStage(filter)];
    await store.mail.deleteMailbox(userId, 'Junk');
    let d = await runStages(stage, local(userId, SPAM(100)), silentLogger);
    assert.deepEqual(d.targets, [{ mailbox: 'INBOX' }]);
    assert.deepEqual(d.notes['spam'], { probability: 0.5, isSpam: false, score: 0, tested: false, engine: 'bayes' });
    assert.match(d.headers.join(''), /^X-Spam-Status: No, score=0\.0 required=9\.0 engine=bayes untrained\r\n$/);

    for (let i = 0; i < 4; i++) {
      assert.equal(await filter.train(userId, SPAM(i), 'spam'), 'trained');
      assert.equal(await filter.train(userId, HAM(i), 'ham'), 'trained');
    }
    assert.equal(await filter.train(userId, SPAM(0), 'spam'), 'unchanged');
    d = await runStages(stage, local(userId, SPAM(101)), silentLogger);
    const note = d.notes['spam'] as { probability: number; isSpam: boolean; score: number };
    assert.equal(note.isSpam, true);
    assert.ok(note.probability >= 0.9 && note.score >= 9, JSON.stringify(note));
    const junk = (await store.mail.listMailboxes(userId)).find((b) => b.name === 'Junk');
    assert.equal(junk?.specialUse, '\\Junk', 'Junk is created and marked \\Junk');
    assert.deepEqual(d.targets, [{ mailbox: 'Junk', mailboxId: junk.id }], 'the target carries the id of the Junk mailbox');
    assert.match(d.headers[0]!, /^X-Spam-Status: Yes, score=\d+\.\d required=9\.0 engine=bayes clues=\d+\r\n$/);
    assert.equal(d.headers[1], 'X-Spam: Yes\r\n');

    // Forged verdicts of the sender decide nothing and are renamed on the stored copy.
    const forged = Buffer.concat([Buffer.from('X-Spam-Status: Yes, score=99\r\nX-Spam: Yes\r\n'), HAM(102)]);
    d = await runStages(stage, local(userId, forged), silentLogger);
    assert.deepEqual(d.targets, [{ mailbox: 'INBOX' }]);
    assert.match(d.headers[0]!, /^X-Spam-Status: No, /);
    assert.ok(d.message!.toString().startsWith('Untrusted-X-Spam-Status: Yes, score=99\r\nUntrusted-X-Spam: Yes\r\n'));

    // Quarantine (DMARC) goes to Junk even when the filter says ham, and with the filter off.
    d = await runStages(stage, local(userId, HAM(103), { quarantine: true }), silentLogger);
    assert.deepEqual(d.targets, [{ mailbox: 'Junk', mailboxId: junk.id }]);
    const off = new SpamFilter(store, { enabled: false });
    d = await runStages([spamStage(off)], local(userId, HAM(104), { quarantine: true }), silentLogger);
    assert.deepEqual(d.targets, [{ mailbox: 'Junk', mailboxId: junk.id }]);
    off.forgetJunkNames();
    assert.deepEqual(d.headers, []);
    assert.equal(d.notes['spam'], undefined);
    d = await runStages([spamStage(off)], local(userId, SPAM(105)), silentLogger);
    assert.deepEqual(d.targets, [{ mailbox: 'INBOX' }]);

    // Bad input reaches the stage: it never throws, the message is kept.
    for (const raw of [Buffer.alloc(0), Buffer.from([0, 255, 13, 10, 13, 10, 1, 2, 3]), Buffer.concat([Buffer.from('X: '), Buffer.alloc(2_000_000, 0x41)])]) {
      const disp = defaultDisposition();
      await spamStage(filter).run(local(userId, raw), disp, silentLogger);
      assert.equal(disp.targets.length, 1);
    }
  });
});

test('the counts cache: a whole vocabulary answers without queries until the generation moves; big users per token', async () => {
  await withStore(async (store, userId) => {
    let queries = 0;
    let vocab = 0;
    let now = 1_000_000;
    const spy = {
      counts: (u: number, t: readonly string[]) => (queries++, store.spam.counts(u, t)),
      vocabulary: (u: number, max: number) => (vocab++, store.spam.vocabulary(u, max)),
    };
    const cache = new CountsCache(spy, () => now);
    await store.spam.train(userId, 'd1', 'spam', ['a', 'b']);
    assert.deepEqual([...(await cache.counts(userId, ['a', 'x'])).tokens.keys()], ['a']);
    assert.deepEqual([vocab, queries], [1, 0], 'the vocabulary is read whole, once');
    const again = await cache.counts(userId, ['a', 'b', 'x']);
    assert.deepEqual(again.tokens.get('b'), { spam: 1, ham: 0 });
    assert.deepEqual([vocab, queries], [1, 0], 'answered from memory');
    const seen = await cache.lookup(userId, ['a', 'b', 'x']);
    assert.deepEqual([seen.tokens.get('a'), seen.tokens.get('b'), seen.tokens.get('x') ?? null, seen.totals], [{ spam: 1, ham: 0 }, { spam: 1, ham: 0 }, null, again.totals]);
    assert.deepEqual([vocab, queries], [1, 0], 'lookup() reads the held vocabulary too');
    // Training elsewhere is seen once GENERATION_RECHECK_MS have passed.
    await store.spam.train(userId, 'd2', 'ham', ['a', 'x']);
    assert.deepEqual((await cache.counts(userId, ['a'])).tokens.get('a'), { spam: 1, ham: 0 }, 'still the cached generation');
    now += GENERATION_RECHECK_MS;
    let after = await cache.counts(userId, ['a', 'x']);
    assert.deepEqual([after.tokens.get('a'), after.tokens.get('x'), after.totals], [{ spam: 1, ham: 1 }, { spam: 0, ham: 1 }, { spam: 1, ham: 1 }]);
    assert.equal(vocab, 1, 'within VOCABULARY_RELOAD_MS the changed user is served per token');
    assert.ok(queries >= 2);
    // Per-token mode: new tokens in one query; a moved generation drops the entries.
    const q = queries;
    await cache.counts(userId, ['a', 'x']);
    assert.equal(queries, q + 1, 'cached tokens, and the generation read with the (empty) query for new ones');
    await store.spam.train(userId, 'd3', 'spam', ['x']);
    after = await cache.counts(userId, ['x']);
    assert.deepEqual(after.tokens.get('x'), { spam: 1, ham: 1 });
    // After VOCABULARY_RELOAD_MS the vocabulary is read whole again; forget() drops it at once.
    now += VOCABULARY_RELOAD_MS;
    cache.forget(userId);
    assert.deepEqual((await cache.counts(userId, ['b', 'x'])).tokens.get('x'), { spam: 1, ham: 1 });
    assert.equal(vocab, 2);
    // A vocabulary bigger than asked for is reported incomplete.
    const v = await store.spam.vocabulary(userId, 1);
    assert.deepEqual([v.complete, v.tokens.size, v.totals], [false, 0, { spam: 2, ham: 1 }]);
    const all = await store.spam.vocabulary(userId, 10);
    assert.deepEqual([all.complete, [...all.tokens.keys()].sort()], [true, ['a', 'b', 'x']]);
  });
});

test('noteTransfer: into Junk trains spam, out of Junk (not to Trash) trains ham, others nothing', async () => {
  await withStore(async (store, userId) => {
    const inbox = (await store.mail.getMailbox(userId, 'INBOX'))!;
    // Users start with Junk (\\Junk), Trash (\\Trash) and Archive; a \\Junk mailbox of another name counts too.
    await store.mail.setSpecialUse((await store.mail.getMailbox(userId, 'Junk'))!.id, null);
    const junk = await store.mail.createMailbox(userId, 'Spam', { specialUse: '\\Junk' });
    const trash = (await store.mail.getMailbox(userId, 'Trash'))!;
    const arch = (await store.mail.getMailbox(userId, 'Archive'))!;
    const a = await store.mail.append(junk.id, SPAM(1));
    assert.equal(await noteTransfer(store, userId, inbox.id, junk.id, [a.uid]), 'spam');
    assert.deepEqual((await store.spam.stats(userId))[0], { userId, spamMessages: 1, hamMessages: 0, tokens: (await store.spam.stats(userId))[0]!.tokens });
    const t = await store.mail.append(trash.id, SPAM(1));
    assert.equal(await noteTransfer(store, userId, junk.id, trash.id, [t.uid]), null);
    const b = await store.mail.append(arch.id, SPAM(1));
    assert.equal(await noteTransfer(store.mail, userId, junk.id, arch.id, [b.uid]), null, 'a bare mail store without an attached filter trains nothing');
    assert.equal(await noteTransfer(store, userId, junk.id, arch.id, [b.uid]), 'ham');
    const s = (await store.spam.stats(userId))[0]!;
    assert.deepEqual([s.spamMessages, s.hamMessages], [0, 1], 're-classed, not counted twice');
    assert.equal(await noteTransfer(store, userId, inbox.id, arch.id, [b.uid]), null);
    assert.equal(await noteTransfer(store, userId, inbox.id, junk.id, [9999]), 'spam', 'a vanished message is skipped');
    assert.equal(await noteTransfer(store, userId, 123456, junk.id, [a.uid]), null, 'unknown mailbox: nothing, no throw');

    // A big move returns at once and trains in the background.
    const many: number[] = [];
    for (let i = 0; i < 120; i++) many.push((await store.mail.append(junk.id, SPAM(1000 + i))).uid);
    const before = (await store.spam.stats(userId))[0]!.spamMessages;
    assert.equal(await noteTransfer(store, userId, inbox.id, junk.id, many), 'spam');
    for (let tries = 0; (await store.spam.stats(userId))[0]!.spamMessages < before + 120; tries++) {
      assert.ok(tries < 300, 'background training finishes');
      await new Promise((r) => setTimeout(r, 50));
    }
  });
});

test('junkMailboxName: remembered per user, forgotten when the mailbox list changes', async () => {
  await withStore(async (store, userId) => {
    const filter = new SpamFilter(store);
    try {
      assert.equal(await filter.junkMailboxName(userId), 'Junk');
      assert.equal(await filter.junkMailboxName(userId), 'Junk', 'answered again from memory');
      await store.mail.renameMailbox(userId, 'Junk', 'Bulk');
      assert.equal(await filter.junkMailboxName(userId), 'Bulk', 'a rename is seen at once (the \\Junk mark moved with it)');
      await store.mail.deleteMailbox(userId, 'Bulk');
      assert.equal(await filter.junkMailboxName(userId), 'Junk', 'a deleted Junk is created again');
      const junk = (await store.mail.getMailbox(userId, 'Junk'))!;
      assert.equal(junk.specialUse, '\\Junk');
      await store.mail.setSpecialUse(junk.id, null);
      await store.mail.createMailbox(userId, 'Spam', { specialUse: '\\Junk' });
      assert.equal(await filter.junkMailboxName(userId), 'Spam', 'a new \\Junk mailbox is seen at once');
    } finally {
      filter.forgetJunkNames();
    }
  });
});

test('spam copies go into the remembered Junk by its id, and follow a renamed, deleted or unmarked Junk', async () => {
  const { deliver } = await import('../delivery/deliver.js');
  await withStore(async (store, userId) => {
    const filter = new SpamFilter(store, { enabled: false }); // quarantine files into Junk with the filter off
    const user = (await store.directory.getUser('alice@example.org'))!;
    const resolution = { kind: 'local' as const, user, recipient: 'alice@example.org', tag: null, via: 'user' as const };
    let lookups = 0;
    const mail = new Proxy(store.mail, {
      get(target, prop, receiver) {
        const v = Reflect.get(target, prop, receiver) as unknown;
        if (typeof v !== 'function') return v;
        return (...args: unknown[]) => {
          if (prop === 'getMailbox' && args[1] !== 'INBOX') lookups++;
          return (v as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
    const parts = { directory: store.directory, mail };
    let n = 0;
    const put = async (stages = [spamStage(filter)]) => {
      const r = await deliver(parts, 'alice@example.org', HAM(300 + n++), { envelopeFrom: 's@remote.test', resolution, stages, facts: { quarantine: true } });
      assert.ok(r.ok, JSON.stringify(r));
      const box = await store.mail.getMailboxById(r.mailboxId);
      return box!.name;
    };
    const count = async (name: string) => (await store.mail.listMessages((await store.mail.getMailbox(userId, name))!.id)).length;
    try {
      assert.equal(await put(), 'Junk');
      const before = lookups;
      assert.equal(await put(), 'Junk');
      assert.equal(await put(), 'Junk');
      assert.equal(lookups, before, 'the remembered Junk is appended to by id, without a look-up by name');
      assert.equal(await count('Junk'), 3);

      await store.mail.renameMailbox(userId, 'Junk', 'Bulk');
      assert.equal(await put(), 'Bulk', 'a renamed Junk (the \\Junk mark moved with it)');
      const bulk = (await store.mail.getMailbox(userId, 'Bulk'))!;
      await store.mail.setSpecialUse(bulk.id, null);
      await store.mail.createMailbox(userId, 'Spam', { specialUse: '\\Junk' });
      assert.equal(await put(), 'Spam', 'the \\Junk mark moved to another mailbox');
      await store.mail.deleteMailbox(userId, 'Spam');
      assert.equal(await put(), 'Junk', 'a deleted Junk is created again');
      assert.equal(await count('Bulk'), 4);
      assert.equal(await count('Junk'), 1);

      // A remembered id whose mailbox is gone by the time of the append (deleted in between): the name decides.
      const gone = (await store.mail.createMailbox(userId, 'Gone')).id;
      await store.mail.deleteMailbox(userId, 'Gone');
      const stale = (mailbox: string) => ({ name: 'stale', run: async (_m: LocalMessage, d: ReturnType<typeof defaultDisposition>) => void (d.targets = [{ mailbox, mailboxId: gone }]) });
      assert.equal(await put([stale('Junk')]), 'Junk');
      assert.equal(await put([stale('Nowhere')]), 'INBOX', 'a missing mailbox falls back to INBOX, as by name');
    } finally {
      filter.forgetJunkNames();
    }
  });
});
