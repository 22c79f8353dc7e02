/**
 * Outbound queue connection policy (security review): the smart host's certificate is verified by default
 * (system CAs plus smarthostCa; 'none' turns it off), and direct MX delivery refuses internal addresses
 * unless allowInternal (serve: queue-allow-internal) is set.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { buildServeConfig, mailroomOptions } from '../src/cli/serve.js';
import { silentLogger } from '../src/lib/logger.js';
import { createOutboundQueue, type OutboundOptions } from '../src/delivery/index.js';
import { isInternalAddress } from '../src/delivery/outbound.js';
import { makeEnv, mailboxContents, startSink, testTls, type Env } from './delivery/helpers.js';

const MESSAGE = Buffer.from('From: alice@example.org\r\nSubject: out\r\nMessage-ID: <out@example.org>\r\n\r\nbody\r\n');

/** Queues one message from alice to `rcpt` and runs one pass of a queue made with `opts`. */
async function onePass(env: Env, rcpt: string, opts: Partial<OutboundOptions>) {
  const id = await env.store.queue.enqueue('alice@example.org', [rcpt], MESSAGE);
  const queue = createOutboundQueue({ store: env.store, auth: env.auth, hostname: 'mail.example.org', ...opts });
  await queue.runOnce();
  await queue.stop();
  const left = (await env.store.queue.list()).find((m) => m.id === id) ?? null;
  if (left) await env.store.queue.remove(id);
  return left;
}

test('smart host TLS: verified by default (refused self-signed, STARTTLS required), trusted through smarthostCa, unchecked with none', async () => {
  const env = await makeEnv([['alice@example.org', 'pw']]);
  const tls = await testTls(); // self-signed, valid for 127.0.0.1
  const sink = await startSink({ tls });
  const plainSink = await startSink();
  try {
    const smarthost = { host: '127.0.0.1', port: sink.port };
    const refused = await onePass(env, 'a@far.test', { smarthost });
    assert.ok(refused, 'still queued');
    assert.match(refused.lastError ?? '', /certificate/i);
    assert.equal(sink.messages.length, 0);

    const noTls = await onePass(env, 'b@far.test', { smarthost: { host: '127.0.0.1', port: plainSink.port } });
    assert.ok(noTls, 'a smart host without STARTTLS is not used in verify mode');
    assert.equal(plainSink.messages.length, 0);

    assert.equal(await onePass(env, 'c@far.test', { smarthost, smarthostCa: tls.cert }), null);
    assert.equal(sink.messages.length, 1);
    assert.ok(sink.messages[0]!.secure);
    assert.deepEqual(sink.messages[0]!.to, ['c@far.test']);

    assert.equal(await onePass(env, 'd@far.test', { smarthost, smarthostTls: 'none' }), null);
    assert.equal(sink.messages.length, 2);
    assert.equal(await onePass(env, 'e@far.test', { smarthost: { host: '127.0.0.1', port: plainSink.port }, smarthostTls: 'none' }), null);
    assert.equal(plainSink.messages.length, 1);
  } finally {
    await sink.close();
    await plainSink.close();
    await env.close();
  }
});

test('direct MX delivery refuses internal addresses (bounce 5.4.4) unless allowInternal', async () => {
  const env = await makeEnv([['alice@example.org', 'pw']]);
  const sink = await startSink();
  try {
    const mx = { port: sink.port, resolveMx: async () => [{ exchange: 'mx.internal.test', priority: 10 }] };
    const lookups: string[] = [];
    const lookupHost = async (host: string) => {
      lookups.push(host);
      return [{ address: '127.0.0.1', family: 4 }];
    };
    const left = await onePass(env, 'x@internal.test', { ...mx, lookupHost });
    assert.equal(left, null, 'failed for good, not retried');
    assert.equal(sink.messages.length, 0, 'nothing sent to the loopback address');
    assert.deepEqual(lookups, ['mx.internal.test']);
    const bounces = await mailboxContents(env.store, 'alice@example.org');
    assert.equal(bounces.length, 1, 'the authenticated sender gets a bounce');
    assert.match(bounces[0]!.toString(), /Final-Recipient: rfc822; x@internal\.test\r\nAction: failed\r\nStatus: 5\.4\.4\r\n/);

    // an MX given as an IP literal, and the implicit MX, are checked the same way
    assert.equal(await onePass(env, 'y@literal.test', { port: sink.port, resolveMx: async () => [{ exchange: '10.1.2.3', priority: 1 }] }), null);
    assert.equal(await onePass(env, 'z@implicit.test', { port: sink.port, resolveMx: async () => Promise.reject(Object.assign(new Error('no mx'), { code: 'ENODATA' })), lookupHost }), null);
    assert.equal(sink.messages.length, 0);
    assert.equal((await mailboxContents(env.store, 'alice@example.org')).length, 3);

    // allowed: delivered to the loopback sink
    assert.equal(await onePass(env, 'w@internal.test', { ...mx, lookupHost, allowInternal: true }), null);
    assert.equal(sink.messages.length, 1);
    assert.deepEqual(sink.messages[0]!.to, ['w@internal.test']);
    // configured routes are not subject to the check
    assert.equal(await onePass(env, 'v@routed.test', { routes: { 'routed.test': { host: '127.0.0.1', port: sink.port } } }), null);
    assert.equal(sink.messages.length, 2);
  } finally {
    await sink.close();
    await env.close();
  }
});

test('isInternalAddress', () => {
  for (const a of ['127.0.0.1', '10.0.0.1', '172.16.5.4', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '::1', '::', 'fe80::1', 'fd00::1', '::ffff:127.0.0.1', '224.0.0.1', 'not-an-ip']) {
    assert.equal(isInternalAddress(a), true, a);
  }
  for (const a of ['8.8.8.8', '1.1.1.1', '172.32.0.1', '2001:4860:4860::8888', '::ffff:8.8.8.8']) assert.equal(isInternalAddress(a), false, a);
});

test('serve: --smarthost-tls, --smarthost-ca, --queue-allow-internal and --submission-sent-copy reach the queue and submission', async () => {
  const env = await makeEnv();
  try {
    const ca = `${env.dir}/ca.pem`;
    await writeFile(ca, (await testTls()).cert);
    const defaults = mailroomOptions(buildServeConfig({ smarthost: 'relay.test:587' }, {}), env.dir, silentLogger);
    assert.deepEqual(defaults.outbound, { smarthost: { host: 'relay.test', port: 587 }, smarthostTls: 'verify' });
    assert.equal(defaults.delivery, undefined, 'Sent copies on by default');
    const set = mailroomOptions(
      buildServeConfig({ smarthostCa: ca }, { smarthost: 'relay.test:25', 'smarthost-tls': 'none', 'queue-allow-internal': true, 'submission-sent-copy': 'off' }),
      env.dir,
      silentLogger,
    );
    assert.equal(set.outbound?.smarthostTls, 'none');
    assert.equal(set.outbound?.allowInternal, true);
    assert.equal(set.outbound?.smarthostCa?.toString(), (await testTls()).cert);
    assert.deepEqual(set.delivery, { sentCopy: false });
    assert.deepEqual(mailroomOptions(buildServeConfig({ queueAllowInternal: true }, {}), env.dir, silentLogger).outbound, { allowInternal: true });
    assert.throws(() => buildServeConfig({ smarthostTls: 'maybe' }, {}), /invalid --smarthost-tls/);
    assert.throws(() => buildServeConfig({}, { 'submission-sent-copy': 'sometimes' }), /invalid --submission-sent-copy/);
    assert.throws(() => mailroomOptions(buildServeConfig({ smarthost: 'r:25', smarthostCa: `${env.dir}/missing.pem` }, {}), env.dir, silentLogger), /cannot read --smarthost-ca/);
  } finally {
    await env.close();
  }
});
