/**
 * Quotas wired through createMailroom (what `serve --quota-storage --quota-messages --quota-full-temporary`
 * hands it): the defaults reach the store for users without their own limits, LMTP answers 452 4.2.2 under
 * quota-full-temporary, a user's own limit wins over the default, and POP3 DELE (like EXPUNGE) works over
 * quota and brings the usage back under the limit, after which delivery succeeds again.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createMailroom, type Mailroom } from '../src/server/mailroom.js';
import { RawSmtp } from './delivery/helpers.js';
import { RawPop3 } from './pop3-helpers.js';

let m: Mailroom;
let aliceId = 0;

before(async () => {
  m = createMailroom({ ports: { pop3: 0, lmtp: 0 }, hostname: 'mx.test', quota: { storage: 100_000, messages: 2, fullTemporary: true } });
  await m.start();
  aliceId = (await m.addUser('alice@example.org', 'secret')).id;
  await m.addUser('bob@example.org', 'secret');
});
after(async () => {
  await m?.stop();
});

async function lmtp(rcpt: string, subject: string): Promise<{ code: number; text: string }> {
  const { client } = await RawSmtp.open(m.ports.lmtp!);
  try {
    await client.cmd('LHLO mta.test');
    await client.cmd('MAIL FROM:<sender@remote.test>');
    const r = await client.cmd(`RCPT TO:<${rcpt}>`);
    if (r.code !== 250) return { code: r.code, text: r.lines.join('\n') };
    const d = await client.data(`From: sender@remote.test\r\nSubject: ${subject}\r\n\r\nbody\r\n`);
    return { code: d.code, text: d.lines.join('\n') };
  } finally {
    client.close();
  }
}

test('server defaults apply to users without their own limits; quota-full-temporary answers 452 4.2.2', async () => {
  assert.deepEqual(await m.store.quota.limits(aliceId), { storage: 100_000, messages: 2 });
  assert.equal((await lmtp('alice@example.org', 'one')).code, 250);
  assert.equal((await lmtp('alice@example.org', 'two')).code, 250);
  const over = await lmtp('alice@example.org', 'three');
  assert.equal(over.code, 452);
  assert.match(over.text, /4\.2\.2/);
  // bob's own setting wins over the default.
  const bob = (await m.store.directory.getUser('bob@example.org'))!;
  await m.store.quota.setLimits(bob.id, { messages: Number.POSITIVE_INFINITY });
  for (const s of ['a', 'b', 'c']) assert.equal((await lmtp('bob@example.org', s)).code, 250);
  assert.equal((await m.store.quota.usage(bob.id)).messages, 3);
});

test('POP3 DELE works over quota and makes room for new mail', async () => {
  // Lower the limit below the usage: alice is over quota now.
  await m.store.quota.setLimits(aliceId, { messages: 1 });
  const { c } = await RawPop3.open(m.ports.pop3!);
  await c.login('alice@example.org', 'secret');
  assert.match(await c.cmd('DELE 1'), /^\+OK/);
  assert.match(await c.cmd('DELE 2'), /^\+OK/);
  assert.match(await c.cmd('QUIT'), /^\+OK/);
  await c.closed();
  assert.deepEqual(await m.store.quota.usage(aliceId), { storage: 0, messages: 0 });
  assert.equal((await lmtp('alice@example.org', 'after')).code, 250);
  assert.equal((await lmtp('alice@example.org', 'after 2')).code, 452);
});
