/**
 * The check pool (src/mailauth/pool.ts): DKIM/ARC verification and spam tokenizing on worker threads give
 * exactly what the in-process functions give (signed, sealed, damaged, forged, unsigned messages, DNS
 * failures, the spam corpus); a thread that crashes or times out loses nothing (the MX checker and the
 * spam filter fall back to in-process and answer the same); a crashed thread is replaced; a full queue
 * answers BUSY at once; size 0 is never used.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey } from 'node:crypto';
import { createResolver, type DnsResolver } from '../src/lib/dns.js';
import { createMxChecker, dkimRecordValue, generateDkimKey, sealMessage, signMessage, DkimKeyCache } from '../src/mailauth/index.js';
import { checkSignatures } from '../src/mailauth/inbound.js';
import { CheckPool, PoolError } from '../src/mailauth/pool.js';
import { dnsSettingsText, octets, packParts, runBatch, runTask, unpackParts } from '../src/mailauth/tasks.js';
import { removeSpans } from '../src/mailauth/headers.js';
import { authTokenList, tokenIdParts, tokenParts, tokenize } from '../src/spam/tokenize.js';
import { tokenIdList } from '../src/spam/token-ids.js';
import { noteTokensWanted, rememberedAuthIds, rememberedTokenIds, rememberedTokenParts } from '../src/spam/pretokens.js';
import { startTestDns, type TestDns } from '../support/dns.js';
import { spamCorpus } from '../bench/spam-corpus.js';

const HOST = 'mx.example.org';
const rsa = generateDkimKey('rsa');
const ed = generateDkimKey('ed25519');
const fwd = generateDkimKey('rsa');

function message(from: string, subject: string, extra = ''): Buffer {
  return Buffer.from(`${extra}From: A <${from}>\r\nTo: bob@example.org\r\nSubject: ${subject}\r\nMessage-ID: <${subject.replace(/\W/g, '')}@x>\r\n\r\nHello  there.\r\n`);
}

/** Messages that take every path of the checks. */
function messages(): Buffer[] {
  const key = (s: 'rsa1' | 'ed1' | 'gone', domain = 'pass.test') => ({ domain, selector: s, algorithm: s === 'ed1' ? ('ed25519' as const) : ('rsa' as const), key: createPrivateKey(s === 'ed1' ? ed.privateKey : rsa.privateKey) });
  const ok = signMessage(message('a@pass.test', 'rsa and ed'), [key('rsa1'), key('ed1')]);
  const sealed = sealMessage(ok, { domain: 'forwarder.test', selector: 'arc1', algorithm: 'rsa', key: createPrivateKey(fwd.privateKey) }, 'forwarder.test; dkim=pass header.d=pass.test', 'none');
  const damaged = Buffer.from(ok.toString('latin1').replace('Hello  there.', 'Hello there!'), 'latin1');
  return [
    ok,
    sealed,
    damaged,
    Buffer.from(sealed.toString('latin1').replace('Hello  there.', 'Changed.'), 'latin1'),
    message('a@pass.test', 'unsigned'),
    signMessage(message('a@pass.test', 'no key'), [key('gone')]),
    signMessage(message('a@tempfail.test', 'servfail key'), [key('rsa1', 'tempfail.test')]),
    signMessage(message('a@pass.test', 'forged', `Authentication-Results: ${HOST}; dkim=pass\r\nAuthentication-Results: other.example; spf=pass\r\n`), [key('rsa1')]),
    Buffer.from('no header at all'),
    Buffer.alloc(0),
  ];
}

/** The auth task of `raw` on `pool`. */
function auth(pool: CheckPool, raw: Buffer, resolver: DnsResolver, tokens = false) {
  const { bytes, transfer } = octets(raw);
  return pool.run('auth', { bytes, hostname: HOST, dns: resolver.settings!, tokens }, transfer);
}

describe('check pool', () => {
  let dns: TestDns;
  let resolver: DnsResolver;
  let pool: CheckPool;

  before(async () => {
    dns = await startTestDns({
      records: [
        ['rsa1._domainkey.pass.test', 'TXT', dkimRecordValue({ algorithm: 'rsa', publicKey: rsa.publicKey })],
        ['ed1._domainkey.pass.test', 'TXT', dkimRecordValue({ algorithm: 'ed25519', publicKey: ed.publicKey })],
        ['arc1._domainkey.forwarder.test', 'TXT', dkimRecordValue({ algorithm: 'rsa', publicKey: fwd.publicKey })],
        ['pass.test', 'TXT', 'v=spf1 ip4:127.0.0.1 -all'],
        ['_dmarc.pass.test', 'TXT', 'v=DMARC1; p=reject'],
      ],
      servfail: ['rsa1._domainkey.tempfail.test', '_dmarc.tempfail.test', 'tempfail.test'],
      drop: ['rsa1._domainkey.drop.test'],
    });
    resolver = createResolver({ servers: [{ host: '127.0.0.1', port: dns.port }], timeoutMs: 1000, tries: 1 });
    pool = new CheckPool({ size: 2 });
  });

  after(async () => {
    await pool.close();
    await dns.stop();
  });

  test('DKIM and ARC results on a thread equal the in-process ones', async () => {
    const keys = new DkimKeyCache();
    const big = signMessage(message('a@pass.test', 'big', `X-Big: ${'x'.repeat(100)}\r\n`.repeat(1000)), [{ domain: 'pass.test', selector: 'rsa1', algorithm: 'rsa', key: createPrivateKey(rsa.privateKey) }]);
    for (const raw of [...messages(), big]) {
      const here = await checkSignatures(raw, HOST, resolver, keys);
      assert.deepEqual(await auth(pool, raw, resolver), here, raw.toString('latin1', 0, 80));
      const { parts, ...report } = await auth(pool, raw, resolver, true);
      assert.deepEqual(report, here);
      assert.deepEqual(unpackParts(parts!), tokenParts(removeSpans(raw, here.own).raw));
    }
    const { bytes, transfer } = octets(big);
    assert.ok(bytes instanceof ArrayBuffer && transfer[0] === bytes, 'a big message is handed over');
    await pool.run('tokens', { bytes }, transfer);
    assert.equal(bytes.byteLength, 0, 'handed over, not cloned');
    const [ok, sealed, , , , , temp, forged] = await Promise.all(messages().map((raw) => checkSignatures(raw, HOST, resolver, keys)));
    assert.deepEqual(ok!.dkim!.map((d) => d.result), ['pass', 'pass']);
    assert.equal(sealed!.arc!.result, 'pass');
    assert.equal(temp!.dkim![0]!.result, 'temperror');
    assert.equal(forged!.own.length, 1);
  });

  test('spam tokens from a thread equal the in-process ones', async () => {
    const corpus = spamCorpus(120, 7).map((m) => m.raw);
    const parts = (await Promise.all(corpus.map((raw) => {
      const { bytes, transfer } = octets(raw);
      return pool.run('tokens', { bytes }, transfer);
    }))).map(unpackParts);
    const ids = await Promise.all(corpus.map((raw) => {
      const { bytes, transfer } = octets(raw);
      return pool.run('tokenIds', { bytes }, transfer);
    }));
    for (const [i, raw] of corpus.entries()) {
      assert.deepEqual(parts[i], tokenParts(raw));
      assert.ok(parts[i]!.body.length > 0);
      assert.deepEqual(ids[i], tokenIdParts(parts[i]!), 'the ids of the same tokens');
    }
    assert.ok(pool.started >= 1 && pool.started <= 2, `${pool.started} threads started`);
    // tokenize is joinTokens over the parts: header, auth results, size, body.
    const t = tokenize(corpus[0]!, { authResults: `${HOST}; spf=pass smtp.mailfrom=a.test` });
    assert.ok(t.indexOf('auth:spf=pass:a.test') > t.indexOf(parts[0]!.head.at(-1)!));
    assert.ok(t.indexOf('auth:spf=pass:a.test') < t.indexOf(parts[0]!.body[0]!));
    // A token holding the separator travels as a list.
    const odd = { head: ['a\nb', 'c'], body: [], failed: null };
    assert.deepEqual(unpackParts(packParts(odd)), odd);
  });

  test('a batch of tasks (tokens made first, then the checks) gives what each task gives alone', async () => {
    const corpus = [...messages(), ...spamCorpus(20, 11).map((m) => m.raw)];
    const session = { ip: '127.0.0.1', helo: 'mail.pass.test', mailFrom: 'a@pass.test' };
    const dns = dnsSettingsText(resolver.settings!);
    const task = (raw: Buffer, forms: { tokens: boolean; ids?: boolean }) => ({ kind: 'inbound' as const, payload: { bytes: new Uint8Array(raw), hostname: HOST, dns, session, ...forms } });
    for (const forms of [{ tokens: false, ids: true }, { tokens: true, ids: true }, { tokens: true }]) {
      const batch = await Promise.all(runBatch(corpus.map((raw) => task(raw, forms))));
      for (const [i, raw] of corpus.entries()) {
        const alone = (await runTask('inbound', task(raw, forms).payload)) as { own: unknown[] };
        assert.deepEqual(batch[i], alone, raw.toString('latin1', 0, 80));
      }
      // The forged field claiming our authserv-id is removed before tokenizing, in a batch too.
      assert.ok(batch.some((r) => (r as { own: unknown[] }).own.length > 0));
    }
  });

  test('tokens made ahead by the MX are those of the message it delivers', async () => {
    noteTokensWanted();
    noteTokensWanted('ids');
    const checker = createMxChecker({ hostname: HOST, resolver, pool });
    const session = { ip: '127.0.0.1', helo: 'mail.pass.test', mailFrom: 'a@pass.test' };
    const corpus = [...messages(), ...spamCorpus(40, 9).map((m) => m.raw), Buffer.from(' folded first line\r\nFrom: a@pass.test\r\n\r\nx\r\n')];
    let ahead = 0;
    for (const raw of corpus) {
      const { raw: out, facts } = await checker(raw, session);
      const parts = rememberedTokenParts(out);
      if (!parts) continue;
      ahead++;
      assert.deepEqual(parts, tokenParts(out), out.toString('latin1', 0, 300));
      assert.deepEqual(rememberedTokenIds(out), tokenIdParts(parts), 'ids of the same parts');
      assert.deepEqual(rememberedAuthIds(out, facts.authResults), tokenIdList(authTokenList(facts.authResults)));
      assert.equal(rememberedAuthIds(out, `${facts.authResults} `), undefined, 'made of another value');
    }
    assert.ok(ahead >= corpus.length - 4, `${ahead} of ${corpus.length} made ahead`);
  });

  test('the MX checker gives the same message and facts with and without threads', async () => {
    // Every check (SPF and DMARC too) runs on the thread: the tasks are counted.
    const kinds: string[] = [];
    const counted = { get available() { return pool.available; }, run: (k: 'inbound', p: never, t?: ArrayBuffer[]) => (kinds.push(k), pool.run(k, p, t)) } as unknown as CheckPool;
    const threaded = createMxChecker({ hostname: HOST, resolver, pool: counted });
    const inProcess = createMxChecker({ hostname: HOST, resolver, pool: null });
    const sessions = [
      { ip: '127.0.0.1', helo: 'mail.pass.test', mailFrom: 'a@pass.test' },
      { ip: '127.0.0.1', helo: 'mail.pass.test', mailFrom: '' },
      { ip: '192.0.2.9', helo: 'elsewhere.test', mailFrom: 'a@pass.test' },
    ];
    let refused = 0;
    for (const session of sessions) {
      for (const raw of messages()) {
        const [a, b] = [await threaded(raw, session), await inProcess(raw, session)];
        assert.equal(a.raw.toString('latin1'), b.raw.toString('latin1'));
        assert.deepEqual(a.facts, b.facts);
        assert.deepEqual(a.refuse, b.refuse);
        assert.deepEqual(a.verdict, b.verdict);
        if (a.refuse) refused++;
      }
    }
    assert.equal(kinds.length, 3 * messages().length);
    assert.ok(kinds.every((k) => k === 'inbound'));
    assert.ok(refused > 0, 'SPF fail from another address makes DMARC refuse some');
    // A caller's own random (DMARC pct sampling) keeps the checks in-process.
    kinds.length = 0;
    await createMxChecker({ hostname: HOST, resolver, pool: counted, random: () => 0 })(messages()[0]!, sessions[0]!);
    assert.equal(kinds.length, 0);
  });

  test('the cpu task reads the thread\'s own CPU time, which only grows as it works', async () => {
    const one = new CheckPool({ size: 1 });
    try {
      const first = await one.run('cpu', {});
      if (process.platform !== 'linux') return assert.ok(first === null || first >= 0);
      assert.equal(typeof first, 'number');
      assert.ok(Number.isFinite(first) && first! >= 0, String(first));
      for (const raw of messages().slice(0, 4)) await auth(one, raw, resolver);
      const later = await one.run('cpu', {});
      assert.ok(later! >= first!, `${later} after ${first}`);
      assert.equal(one.started, 1, 'the same thread answered');
    } finally {
      await one.close();
    }
  });

  test('tasks made while a batch is out go together with the next answer, and a batch waiting on DNS holds none of them long', async () => {
    const one = new CheckPool({ size: 1, timeoutMs: 20_000 });
    const tokens = (raw: Buffer) => {
      const { bytes, transfer } = octets(raw);
      return one.run('tokens', { bytes }, transfer);
    };
    try {
      const raws = messages().slice(0, 6);
      const first = tokens(raws[0]!);
      await new Promise((r) => setImmediate(r)); // the first task is on its way; its answer cannot have come yet
      assert.equal(one.posts, 1);
      const rest = raws.slice(1).map(tokens);
      const got = await Promise.all([first, ...rest]);
      assert.equal(one.posts, 2, 'the five tasks made while the first was out went in one message');
      for (const [i, raw] of raws.entries()) assert.deepEqual(unpackParts(got[i]!), tokenParts(raw), `message ${i}`);
      // A task that waits on DNS (a dropped query) is out; a task made meanwhile goes after a short hold, not after it.
      const dropped = createResolver({ servers: [{ host: '127.0.0.1', port: dns.port }], timeoutMs: 3000, tries: 1 });
      const key = { domain: 'drop.test', selector: 'rsa1', algorithm: 'rsa' as const, key: createPrivateKey(rsa.privateKey) };
      const waiting = auth(one, signMessage(message('a@drop.test', 'dropped key'), [key]), dropped);
      await new Promise((r) => setImmediate(r));
      const t0 = performance.now();
      assert.deepEqual(unpackParts(await tokens(raws[4]!)), tokenParts(raws[4]!));
      assert.ok(performance.now() - t0 < 1000, `answered after ${(performance.now() - t0).toFixed(0)} ms`);
      // Tasks made in consecutive turns while that batch is out share messages (one per turn without the hold).
      const before = one.posts;
      const spread: Array<Promise<unknown>> = [];
      for (const raw of raws.slice(1)) {
        spread.push(tokens(raw));
        await new Promise((r) => setImmediate(r));
      }
      await Promise.all(spread);
      assert.ok(one.posts - before <= 4, `${one.posts - before} messages for 5 tasks made in 5 turns`);
      const report = await waiting;
      assert.equal(report.dkim?.[0]?.result, 'temperror', 'the waiting task still answers');
    } finally {
      await one.close();
    }
  });

  test('a crashed thread loses nothing: its tasks reject, callers check in-process, a new thread follows', async () => {
    const one = new CheckPool({ size: 1 });
    try {
      const raw = messages()[1]!;
      const session = { ip: '127.0.0.1', helo: 'mail.pass.test', mailFrom: 'a@pass.test' };
      const want = await createMxChecker({ hostname: HOST, resolver, pool: null })(raw, session);
      // The exit task reaches the thread first; the check queued behind it sees the thread die.
      const crash = one.run('exit', { code: 7 });
      const lost = auth(one, raw, resolver);
      await assert.rejects(crash, (e: unknown) => e instanceof PoolError && e.code === 'CRASHED');
      await assert.rejects(lost, (e: unknown) => e instanceof PoolError && e.code === 'CRASHED');
      const checker = createMxChecker({ hostname: HOST, resolver, pool: one });
      const [dying, got] = [one.run('exit', { code: 7 }).catch((e: unknown) => e), await checker(raw, session)];
      assert.ok((await dying) instanceof PoolError);
      assert.equal(got.raw.toString('latin1'), want.raw.toString('latin1'));
      assert.deepEqual(got.facts, want.facts);
      // The next task gets a new thread.
      assert.deepEqual(await auth(one, raw, resolver), await checkSignatures(raw, HOST, resolver, new DkimKeyCache()));
      assert.ok(one.started >= 2, `${one.started} threads started`);
    } finally {
      await one.close();
    }
  });

  test('a task over its time: a stuck thread is ended, a waiting one kept; the checker answers in-process; a full queue is BUSY', async () => {
    const slow = new CheckPool({ size: 1, timeoutMs: 1, maxQueue: 1 });
    try {
      const raw = messages()[0]!;
      const session = { ip: '127.0.0.1', helo: 'mail.pass.test', mailFrom: 'a@pass.test' };
      const want = await createMxChecker({ hostname: HOST, resolver, pool: null })(raw, session);
      const got = await createMxChecker({ hostname: HOST, resolver, pool: slow })(raw, session);
      assert.equal(got.raw.toString('latin1'), want.raw.toString('latin1'));
      const runs = Array.from({ length: 12 }, () => {
        const { bytes, transfer } = octets(raw);
        return slow.run('tokens', { bytes }, transfer).then(() => 'ok', (e: unknown) => (e instanceof PoolError ? e.code : String(e)));
      });
      const codes = await Promise.all(runs);
      assert.ok(codes.includes('BUSY'), codes.join(','));
      assert.ok(codes.every((c) => c === 'BUSY' || c === 'TIMEOUT' || c === 'CRASHED' || c === 'ok' || c === 'UNAVAILABLE'), codes.join(','));
    } finally {
      await slow.close();
    }
    // A task waiting on DNS past its time rejects; its thread, answering other tasks meanwhile, stays.
    const waiting = new CheckPool({ size: 1, timeoutMs: 4000 });
    try {
      const quick = () => {
        const { bytes, transfer } = octets(messages()[4]!);
        return waiting.run('tokens', { bytes }, transfer);
      };
      await quick();
      const dropped = createResolver({ servers: [{ host: '127.0.0.1', port: dns.port }], timeoutMs: 20_000, tries: 1 });
      const key = { domain: 'drop.test', selector: 'rsa1', algorithm: 'rsa' as const, key: createPrivateKey(rsa.privateKey) };
      const slow = auth(waiting, signMessage(message('a@drop.test', 'dropped key'), [key]), dropped);
      await quick();
      await assert.rejects(slow, (e: unknown) => e instanceof PoolError && e.code === 'TIMEOUT');
      await quick();
      assert.equal(waiting.started, 1, 'the waiting thread was kept');
    } finally {
      await waiting.close();
    }
    const none = new CheckPool({ size: 0 });
    assert.equal(none.available, false);
    await assert.rejects(none.run('tokens', { bytes: new ArrayBuffer(1) }), (e: unknown) => e instanceof PoolError && e.code === 'UNAVAILABLE');
  });
});
