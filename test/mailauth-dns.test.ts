/**
 * The DNS stub resolver (src/lib/dns.ts) against a DNS server on loopback (support/dns.ts): record types,
 * CNAME chains, error codes (NXDOMAIN, NODATA, SERVFAIL, no answer), TCP after a truncated UDP answer,
 * caching for the TTL (negative answers for the SOA's TTL, failures not at all), one query for concurrent
 * look-ups, failover to the next server, and a slow name not holding up others.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { createResolver, parseDnsServer, type DnsResolver } from '../src/lib/dns.js';
import { startTestDns, type TestDns } from '../support/dns.js';

let dns: TestDns;
const BIG = 'k'.repeat(1600);
before(async () => {
  dns = await startTestDns({
    records: [
      ['a.test', 'A', '192.0.2.1', 120],
      ['a.test', 'A', '192.0.2.2', 60],
      ['a.test', 'AAAA', '2001:db8::1'],
      ['a.test', 'AAAA', '2001:db8:0:0:1:0:0:2'],
      ['a.test', 'TXT', ['v=spf1 ', 'ip4:192.0.2.1 -all']],
      ['a.test', 'MX', [20, 'mx2.a.test']],
      ['a.test', 'MX', [10, 'mx1.a.test']],
      ['alias.test', 'CNAME', 'a.test', 30],
      ['1.2.0.192.in-addr.arpa', 'PTR', 'host.a.test'],
      ['big.test', 'TXT', BIG],
    ],
    servfail: ['broken.test'],
    drop: ['slow.test'],
    soaTtl: 45,
  });
});
after(async () => {
  await dns.stop();
});

function resolver(now?: () => number): DnsResolver {
  return createResolver({ servers: [parseDnsServer(dns.server)], timeoutMs: 400, tries: 1, ...(now ? { now } : {}) });
}

function count(q: string): number {
  return dns.queries.filter((x) => x === q).length;
}

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'resolved';
  } catch (e) {
    return String((e as { code?: string }).code);
  }
}

test('record types, a CNAME chain, and the answer shapes of node:dns', async () => {
  const r = resolver();
  assert.deepEqual(((await r.resolve('A.Test.', 'A')) as string[]).sort(), ['192.0.2.1', '192.0.2.2']);
  assert.deepEqual(((await r.resolve('a.test', 'AAAA')) as string[]).sort(), ['2001:db8::1', '2001:db8::1:0:0:2']);
  assert.deepEqual(await r.resolveTxt('a.test'), [['v=spf1 ', 'ip4:192.0.2.1 -all']]);
  assert.deepEqual((await r.resolveMx('a.test')).sort((x, y) => x.priority - y.priority), [
    { priority: 10, exchange: 'mx1.a.test' },
    { priority: 20, exchange: 'mx2.a.test' },
  ]);
  assert.deepEqual(((await r.resolve('alias.test', 'A')) as string[]).sort(), ['192.0.2.1', '192.0.2.2']);
  assert.deepEqual(await r.resolve('1.2.0.192.in-addr.arpa', 'PTR'), ['host.a.test']);
  assert.deepEqual((await r.lookupAll('a.test')).map((a) => a.family).sort(), [4, 4, 6, 6]);
});

test('errors: ENOTFOUND, ENODATA, ESERVFAIL, ETIMEOUT; impossible names are ENOTFOUND without a query', async () => {
  const r = resolver();
  assert.equal(await code(r.resolve('nowhere.test', 'A')), 'ENOTFOUND');
  assert.equal(await code(r.resolve('a.test', 'PTR')), 'ENODATA');
  assert.equal(await code(r.resolve('broken.test', 'TXT')), 'ESERVFAIL');
  assert.equal(await code(r.resolve('slow.test', 'A')), 'ETIMEOUT');
  const before = r.queries;
  assert.equal(await code(r.resolve(`${'x'.repeat(64)}.test`, 'A')), 'ENOTFOUND');
  assert.equal(await code(r.resolve('a..test', 'TXT')), 'ENOTFOUND');
  assert.equal(await code(r.resolve('bücher.test', 'TXT')), 'ENOTFOUND');
  assert.equal(r.queries, before);
});

test('a truncated UDP answer is asked again over TCP', async () => {
  const r = resolver();
  const before = count('big.test TXT');
  assert.equal((await r.resolveTxt('big.test'))[0]!.join(''), BIG);
  await new Promise((resolve) => setTimeout(resolve, 200)); // the server's log line may trail its answer
  assert.equal(count('big.test TXT') - before, 2, 'once over UDP (truncated), once over TCP');
});

test('answers are cached for their TTL, negative answers for the SOA TTL, failures not at all', async () => {
  let now = 1_000_000;
  const r = resolver(() => now);
  await r.resolve('a.test', 'A');
  await r.resolve('a.test', 'A');
  assert.equal(r.queries, 1);
  now += 59_000;
  await r.resolve('a.test', 'A');
  assert.equal(r.queries, 1, 'within the smallest TTL (60 s)');
  now += 2_000;
  await r.resolve('a.test', 'A');
  assert.equal(r.queries, 2, 'expired after 60 s');
  await r.resolve('alias.test', 'A');
  now += 31_000;
  await r.resolve('alias.test', 'A');
  assert.equal(r.queries, 4, 'the CNAME TTL (30 s) bounds the chain');
  await code(r.resolve('nowhere.test', 'A'));
  now += 44_000;
  assert.equal(await code(r.resolve('nowhere.test', 'A')), 'ENOTFOUND');
  assert.equal(r.queries, 5, 'NXDOMAIN cached for the SOA TTL (45 s)');
  now += 2_000;
  await code(r.resolve('nowhere.test', 'A'));
  assert.equal(r.queries, 6);
  await code(r.resolve('broken.test', 'A'));
  await code(r.resolve('broken.test', 'A'));
  assert.equal(r.queries, 8, 'SERVFAIL is not cached');
});

test('concurrent look-ups of one name share a query; a slow name does not hold up others', async () => {
  const r = resolver();
  const before = count('a.test MX');
  await Promise.all([r.resolveMx('a.test'), r.resolveMx('a.test'), r.resolveMx('A.TEST')]);
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.equal(count('a.test MX') - before, 1);
  const started = Date.now();
  const slow = code(r.resolve('slow.test', 'TXT'));
  await r.resolve('a.test', 'AAAA');
  assert.ok(Date.now() - started < 300, 'answered while the slow query waits');
  assert.equal(await slow, 'ETIMEOUT');
});

test('a server that does not answer is skipped for the next one; parseDnsServer', async () => {
  const dead = createSocket('udp4');
  await new Promise<void>((resolve) => dead.bind(0, '127.0.0.1', () => resolve()));
  const deadPort = dead.address().port;
  try {
    const r = createResolver({ servers: [{ host: '127.0.0.1', port: deadPort }, parseDnsServer(dns.server)], timeoutMs: 300, tries: 1 });
    assert.deepEqual(await r.resolveTxt('a.test'), [['v=spf1 ', 'ip4:192.0.2.1 -all']]);
  } finally {
    dead.close();
  }
  assert.deepEqual(parseDnsServer('127.0.0.1:5353'), { host: '127.0.0.1', port: 5353 });
  assert.deepEqual(parseDnsServer('[::1]:53'), { host: '::1', port: 53 });
  assert.deepEqual(parseDnsServer('::1'), { host: '::1', port: 53 });
  assert.deepEqual(parseDnsServer('ns.example'), { host: 'ns.example', port: 53 });
  for (const bad of ['', '1.2.3.4:0', '1.2.3.4:70000', 'a b:53']) assert.throws(() => parseDnsServer(bad));
});
