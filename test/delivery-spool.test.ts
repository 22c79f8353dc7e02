/**
 * DATA spooling (security review M6): several sessions sending large messages slowly keep the bytes the
 * delivery services hold in memory under the budget; the messages still arrive byte-exact; spool files go
 * away on completion, on disconnect and (files of dead processes) at startup.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createSmtpService } from '../src/delivery/index.js';
import { MemoryBudget } from '../src/delivery/spool.js';
import { makeEnv, mailboxContents, RawSmtp, stripTrace } from './delivery/helpers.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function deadPid(): number {
  for (let pid = 4_000_000; pid > 1000; pid -= 7919) {
    try {
      process.kill(pid, 0);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ESRCH') return pid;
    }
  }
  throw new Error('no free pid found');
}

test('M6 slow large DATA in 6 sessions: in-memory bytes stay under the budget, messages byte-exact, spool cleaned', { timeout: 120_000 }, async () => {
  const env = await makeEnv([['alice@example.org', 'pw']]);
  const dir = join(env.dir, 'spool');
  await mkdir(dir, { recursive: true });
  const stale = `${deadPid()}.0123456789ab.msg`;
  await writeFile(join(dir, stale), 'left by a crashed process');
  await writeFile(join(dir, `${process.pid}.00000000000a.msg`), 'ours: kept');
  const budget = new MemoryBudget(1024 * 1024);
  const svc = createSmtpService({ store: env.store, auth: env.auth, hostname: 'mx', spool: { dir, threshold: 256 * 1024, budget } });
  const port = (await svc.listen({ host: '127.0.0.1', port: 0, implicitTls: false })).port;
  try {
    assert.deepEqual((await readdir(dir)).sort(), [`${process.pid}.00000000000a.msg`], 'the dead process\'s spool file was removed at startup');
    const sessions = 6;
    const chunk = 64 * 1024;
    const chunks = 48; // 3 MiB per message
    const messages = Array.from({ length: sessions }, (_, s) => {
      const head = `Subject: spool ${s}\r\nMessage-ID: <spool${s}@remote.test>\r\n\r\n`;
      const line = (i: number) => `${s}:${String(i).padStart(7, '0')} ${'abcdefghijklmnopqrstuvwxyz'.repeat(2)}\r\n`;
      let body = '';
      for (let i = 0; body.length < chunk * chunks - head.length; i++) body += line(i);
      return Buffer.from(head + body, 'latin1');
    });
    let receiving = true;
    let maxWhileReceiving = 0;
    const sampler = setInterval(() => {
      if (receiving) maxWhileReceiving = Math.max(maxWhileReceiving, budget.used);
    }, 2);
    const clients = await Promise.all(
      messages.map(async () => {
        const { client } = await RawSmtp.open(port);
        await client.cmd('EHLO t');
        await client.cmd('MAIL FROM:<s@remote.test>');
        await client.cmd('RCPT TO:<alice@example.org>');
        assert.equal((await client.cmd('DATA')).code, 354);
        return client;
      }),
    );
    // every session sends its message slowly, interleaved with the others
    for (let off = 0; off < messages[0]!.length; off += chunk) {
      for (const [s, c] of clients.entries()) c.write(messages[s]!.subarray(off, off + chunk));
      await sleep(5);
    }
    await sleep(50);
    receiving = false;
    const replies = await Promise.all(
      clients.map(async (c) => {
        c.write('.\r\n');
        return (await c.reply(60_000)).code;
      }),
    );
    clearInterval(sampler);
    assert.deepEqual(replies, Array(sessions).fill(250));
    assert.ok(maxWhileReceiving > 0 && maxWhileReceiving <= budget.limit, `in memory while receiving: ${maxWhileReceiving}, limit ${budget.limit}`);
    assert.ok(budget.peak <= messages[0]!.length, `peak ${budget.peak}: one large message at a time`);
    assert.equal(budget.used, 0, 'everything given back');
    // a session that leaves in the middle of a spooled DATA leaves no file behind
    const { client: quitter } = await RawSmtp.open(port);
    await quitter.cmd('EHLO t');
    await quitter.cmd('MAIL FROM:<s@remote.test>');
    await quitter.cmd('RCPT TO:<alice@example.org>');
    await quitter.cmd('DATA');
    quitter.write(messages[0]!.subarray(0, 1024 * 1024));
    await sleep(100);
    quitter.close();
    await quitter.closedPromise;
    for (const c of clients) c.close();
    await sleep(200);
    assert.deepEqual(await readdir(dir), [`${process.pid}.00000000000a.msg`], 'no spool file left');
    assert.equal(budget.used, 0);
    const inbox = await mailboxContents(env.store, 'alice@example.org');
    assert.equal(inbox.length, sessions);
    for (const m of messages) {
      const id = /Message-ID: (<[^>]+>)/.exec(m.toString('latin1'))![1]!;
      const copy = inbox.find((x) => x.includes(id));
      assert.ok(copy, id);
      assert.ok(stripTrace(copy).equals(m), `${id} byte-exact`);
    }
  } finally {
    await svc.close();
    await env.close();
  }
});
