import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { openServerStore } from '../src/server/store.js';
import { makeEnv, mailboxContents, RawSmtp } from './delivery/helpers.js';

const CHILD = fileURLToPath(new URL('./delivery/lmtp-child.ts', import.meta.url));

test('kill -9 during a stream of LMTP deliveries loses no acknowledged message and duplicates none', { timeout: 60_000 }, async () => {
  const env = await makeEnv([
    ['alice@example.org', 'pw'],
    ['bob@example.org', 'pw'],
  ]);
  const dir = env.dir;
  await env.store.close();

  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, dir], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /PORT (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.on('exit', (code) => reject(new Error(`child exited ${code}`)));
  });

  const acked = new Map<string, string[]>(); // seq -> recipients acknowledged
  let seq = 0;
  let stop = false;
  const sender = async (n: number) => {
    try {
      const { client } = await RawSmtp.open(port);
      await client.cmd('LHLO crash.test');
      while (!stop) {
        const id = `${n}-${seq++}`;
        const body = `Subject: crash ${id}\r\nX-Seq: ${id}\r\nMessage-ID: <${id}@crash.test>\r\n\r\n${'payload line\r\n'.repeat(20 + (seq % 50))}`;
        if ((await client.cmd('MAIL FROM:<s@remote.test>')).code !== 250) return;
        await client.cmd('RCPT TO:<alice@example.org>');
        await client.cmd('RCPT TO:<bob@example.org>');
        const go = await client.cmd('DATA');
        if (go.code !== 354) return;
        client.write(body + '.\r\n');
        const r1 = await client.reply();
        const r2 = await client.reply();
        const ok: string[] = [];
        if (r1.code === 250) ok.push('alice@example.org');
        if (r2.code === 250) ok.push('bob@example.org');
        acked.set(id, ok);
      }
    } catch {
      // the server died under us: expected
    }
  };
  const senders = [0, 1, 2, 3].map((n) => sender(n));
  // let a good number of deliveries through, then pull the plug mid-stream
  const t0 = Date.now();
  while (acked.size < 60 && Date.now() - t0 < 20_000) await new Promise((r) => setTimeout(r, 20));
  child.kill('SIGKILL');
  stop = true;
  await exited;
  await Promise.all(senders);
  assert.ok(acked.size >= 60, `only ${acked.size} messages acknowledged before the kill`);

  const store = await openServerStore({ dataDir: dir });
  try {
    for (const who of ['alice@example.org', 'bob@example.org']) {
      const seen = new Map<string, number>();
      for (const raw of await mailboxContents(store, who)) {
        const m = /X-Seq: (\S+)/.exec(raw.toString());
        assert.ok(m, 'every stored message is complete enough to carry its header');
        assert.match(raw.toString(), /payload line\r\n$/, 'no truncated message is stored');
        seen.set(m[1]!, (seen.get(m[1]!) ?? 0) + 1);
      }
      for (const [id, count] of seen) assert.equal(count, 1, `${who}: ${id} stored ${count} times`);
      for (const [id, rcpts] of acked) {
        if (rcpts.includes(who)) assert.equal(seen.get(id), 1, `${who}: acknowledged ${id} missing`);
      }
    }
  } finally {
    await store.close();
    await env.close();
  }
});
