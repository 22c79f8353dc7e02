import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { createLmtpService, type DeliveryStage } from '../src/delivery/index.js';
import type { NetService } from '../src/lib/service.js';
import { makeEnv, RawSmtp, type Env } from './delivery/helpers.js';

/** Stages decide per user: file into another mailbox with flags, add headers, discard, refuse, or fail. */
const stage: DeliveryStage = {
  name: 'test',
  async run(msg, d) {
    const subject = /^Subject: (.*)$/m.exec(msg.raw.toString('utf8'))?.[1]?.trim() ?? '';
    if (subject === 'file') d.targets = [{ mailbox: 'Lists/Work', flags: ['\\Flagged'], create: true }, { mailbox: 'INBOX' }];
    if (subject === 'missing') d.targets = [{ mailbox: 'Nowhere' }];
    if (subject === 'discard') d.targets = [];
    if (subject === 'refuse') d.refuse = { code: 550, enhanced: '5.7.1', message: 'Refused by filter' };
    if (subject === 'crash') {
      d.targets = [];
      throw new Error('boom');
    }
    d.headers.push(`X-Stage: ${msg.address} ${msg.transport}\r\n`);
  },
};

describe('delivery pipeline stages over LMTP', () => {
  let env: Env;
  let svc: NetService;
  let port: number;
  before(async () => {
    env = await makeEnv([
      ['alice@example.org', 'pw'],
      ['bob@example.org', 'pw'],
    ]);
    svc = createLmtpService({ store: env.store, auth: env.auth, hostname: 'mx.example.org', stages: [stage] });
    port = ((await svc.listen({ host: '127.0.0.1', port: 0, implicitTls: false })) as AddressInfo).port;
  });
  after(async () => {
    await svc.close();
    await env.close();
  });

  async function send(subject: string, rcpts: string[]): Promise<string[]> {
    const { client: c } = await RawSmtp.open(port);
    try {
      await c.cmd('LHLO t.test');
      await c.cmd('MAIL FROM:<s@remote.test>');
      for (const r of rcpts) assert.equal((await c.cmd(`RCPT TO:<${r}>`)).code, 250);
      const first = await c.data(`From: s@remote.test\r\nSubject: ${subject}\r\n\r\nbody\r\n`);
      const out: string[] = [first.text];
      for (let i = 1; i < rcpts.length; i++) out.push((await c.reply()).text);
      return out;
    } finally {
      c.close();
    }
  }

  async function messages(user: string, mailbox: string): Promise<Array<{ text: string; flags: string[] }>> {
    const u = (await env.store.directory.getUser(user))!;
    const mb = await env.store.mail.getMailbox(u.id, mailbox);
    if (!mb) return [];
    const out = [];
    for (const m of await env.store.mail.listMessages(mb.id)) out.push({ text: (await env.store.mail.readBytes(mb.id, m.uid)).toString('utf8'), flags: m.flags });
    return out;
  }

  test('a stage files into a created mailbox with flags and into INBOX, adding its header to both copies', async () => {
    const replies = await send('file', ['alice@example.org']);
    assert.match(replies[0]!, /^250 /);
    const work = await messages('alice@example.org', 'Lists/Work');
    assert.equal(work.length, 1);
    assert.ok(work[0]!.flags.includes('\\Flagged'));
    assert.match(work[0]!.text, /^Return-Path: <s@remote.test>\r\n[\s\S]*X-Stage: alice@example.org lmtp\r\nFrom: s@remote.test/);
    const inbox = await messages('alice@example.org', 'INBOX');
    assert.ok(inbox.some((m) => m.text.includes('Subject: file') && !m.flags.includes('\\Flagged')));
  });

  test('a missing mailbox without create falls back to INBOX', async () => {
    await send('missing', ['bob@example.org']);
    const inbox = await messages('bob@example.org', 'INBOX');
    assert.ok(inbox.some((m) => m.text.includes('Subject: missing')));
    assert.equal(await env.store.mail.getMailbox((await env.store.directory.getUser('bob@example.org'))!.id, 'Nowhere'), null);
  });

  test('discard acknowledges without storing; refuse answers per recipient; a failing stage keeps the message', async () => {
    const [d] = await send('discard', ['bob@example.org']);
    assert.match(d!, /^250 .*discarded/);
    assert.ok(!(await messages('bob@example.org', 'INBOX')).some((m) => m.text.includes('Subject: discard')));
    const r = await send('refuse', ['alice@example.org', 'bob@example.org']);
    assert.deepEqual(r.map((x) => x.slice(0, 9)), ['550 5.7.1', '550 5.7.1']);
    assert.ok(!(await messages('alice@example.org', 'INBOX')).some((m) => m.text.includes('Subject: refuse')));
    const [c] = await send('crash', ['alice@example.org']);
    assert.match(c!, /^250 /);
    const kept = (await messages('alice@example.org', 'INBOX')).find((m) => m.text.includes('Subject: crash'));
    assert.ok(kept, 'kept in INBOX despite the stage error');
    assert.ok(!kept.text.includes('X-Stage'), 'the failed stage added nothing');
  });
});
