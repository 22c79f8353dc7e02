/**
 * Delivery over quota with Python's smtplib: LMTP answers each recipient after DATA, 552 5.2.2 for the one
 * over quota and 250 for the others; the SMTP MX refuses the whole message (all or nothing) with 552 5.2.2
 * and keeps no copy for anyone; quotaFullTemporary answers 452 4.2.2 instead. The limit counts the
 * message being delivered (a user just under the limit receives nothing that would cross it). The outbound
 * queue's local deliveries follow the same switch: failed for good, or kept for a retry.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { createLmtpService, createOutboundQueue, createSmtpService } from '../src/delivery/index.js';
import type { NetService } from '../src/lib/service.js';
import { makeEnv, mailboxContents, runPython, type Env } from './delivery/helpers.js';

const SCRIPT = `
import json, smtplib, sys
a = json.loads(sys.argv[1])
c = smtplib.LMTP() if a['lmtp'] else smtplib.SMTP()
c.connect('127.0.0.1', a['port'])
c.ehlo('mta.test')
out = {'rcpt': [], 'data': []}
c.mail('sender@remote.test')
for r in a['rcpts']:
    code, msg = c.rcpt(r)
    out['rcpt'].append([code, msg.decode()])
c.putcmd('data')
code, msg = c.getreply()
if code == 354:
    c.send(smtplib.quotedata(a['msg']).encode() + b'\\r\\n.\\r\\n')
    for r in (out['rcpt'] if a['lmtp'] else [[250]]):
        if r[0] == 250:
            code, msg = c.getreply()
            out['data'].append([code, msg.decode()])
c.quit()
print(json.dumps(out))
`;

interface Out {
  rcpt: Array<[number, string]>;
  data: Array<[number, string]>;
}

const MSG = `From: sender@remote.test\r\nSubject: quota\r\nMessage-ID: <quota@remote.test>\r\n\r\n${'x'.repeat(2000)}\r\n`;

describe('delivery over quota (python smtplib)', () => {
  let env: Env;
  const services: NetService[] = [];
  const ports: Record<string, number> = {};

  before(async () => {
    env = await makeEnv([
      ['alice@example.org', 'pw'],
      ['bob@example.org', 'pw'],
    ]);
    const alice = (await env.store.directory.getUser('alice@example.org'))!;
    // Room for nothing more than 1000 octets: the 2 KB message does not fit.
    await env.store.quota.setLimits(alice.id, { storage: 1000 });
    const make = {
      lmtp: () => createLmtpService({ store: env.store, auth: env.auth, hostname: 'mx.example.org' }),
      lmtpTemp: () => createLmtpService({ store: env.store, auth: env.auth, hostname: 'mx.example.org', quotaFullTemporary: true }),
      smtp: () => createSmtpService({ store: env.store, auth: env.auth, hostname: 'mx.example.org' }),
      smtpTemp: () => createSmtpService({ store: env.store, auth: env.auth, hostname: 'mx.example.org', quotaFullTemporary: true }),
    };
    for (const [name, fn] of Object.entries(make)) {
      const svc = fn();
      services.push(svc);
      ports[name] = ((await svc.listen({ host: '127.0.0.1', port: 0, implicitTls: false })) as AddressInfo).port;
    }
  });
  after(async () => {
    for (const s of services) await s.close();
    await env.close();
  });

  const send = (port: string, lmtp: boolean): Promise<Out> =>
    runPython<Out>(SCRIPT, { port: ports[port], lmtp, rcpts: ['alice@example.org', 'bob@example.org'], msg: MSG });

  test('LMTP: 552 5.2.2 for the recipient over quota, 250 for the other; 452 4.2.2 with quota-full-temporary', async () => {
    const r = await send('lmtp', true);
    assert.deepEqual(
      r.rcpt.map((x) => x[0]),
      [250, 250],
    );
    assert.equal(r.data[0]![0], 552);
    assert.match(r.data[0]![1], /^5\.2\.2 Mailbox full/);
    assert.equal(r.data[1]![0], 250);
    assert.equal((await mailboxContents(env.store, 'alice@example.org')).length, 0);
    assert.equal((await mailboxContents(env.store, 'bob@example.org')).length, 1);

    const t = await send('lmtpTemp', true);
    assert.equal(t.data[0]![0], 452);
    assert.match(t.data[0]![1], /^4\.2\.2 /);
    assert.equal(t.data[1]![0], 250);
    assert.equal((await mailboxContents(env.store, 'bob@example.org')).length, 2);
  });

  test('SMTP: the message is refused for all with 552 5.2.2 (no copy kept for the other recipient); 452 4.2.2 with quota-full-temporary', async () => {
    const before = (await mailboxContents(env.store, 'bob@example.org')).length;
    const r = await send('smtp', false);
    assert.deepEqual(
      r.rcpt.map((x) => x[0]),
      [250, 250],
    );
    assert.equal(r.data[0]![0], 552);
    assert.match(r.data[0]![1], /^5\.2\.2 Mailbox full \(<alice@example\.org>\)/);
    const t = await send('smtpTemp', false);
    assert.equal(t.data[0]![0], 452);
    assert.match(t.data[0]![1], /^4\.2\.2 /);
    assert.equal((await mailboxContents(env.store, 'alice@example.org')).length, 0);
    assert.equal((await mailboxContents(env.store, 'bob@example.org')).length, before, 'copies taken back');
    // Under the limit again: delivered.
    const alice = (await env.store.directory.getUser('alice@example.org'))!;
    await env.store.quota.setLimits(alice.id, { storage: 1_000_000 });
    const ok = await send('smtp', false);
    assert.equal(ok.data[0]![0], 250);
    assert.equal((await mailboxContents(env.store, 'alice@example.org')).length, 1);
  });

  test('outbound queue: a queued local recipient over quota bounces (552 5.2.2: failed for good), or stays queued for a retry with quota-full-temporary', async () => {
    const alice = (await env.store.directory.getUser('alice@example.org'))!;
    await env.store.quota.setLimits(alice.id, { storage: 1000 });
    for (const temporary of [true, false]) {
      const queue = createOutboundQueue({ store: env.store, auth: env.auth, hostname: 'mx.example.org', quotaFullTemporary: temporary });
      const id = await env.store.queue.enqueue('', ['alice@example.org'], Buffer.from(MSG));
      await queue.runOnce();
      const left = (await env.store.queue.list()).find((o) => o.id === id);
      if (temporary) {
        assert.ok(left, 'kept for a retry');
        assert.equal(left.attempts, 1);
        assert.match(left.lastError ?? '', /Mailbox full/);
        await env.store.queue.remove(id);
      } else {
        assert.equal(left, undefined, 'failed for good (a null sender gets no bounce)');
      }
      await queue.stop();
    }
    assert.equal((await mailboxContents(env.store, 'alice@example.org')).filter((m) => m.includes('<quota@remote.test>')).length, 1, 'only the copy delivered under the raised limit');
  });
});
