/**
 * A client that pipelines a flood of cheap commands must not hold the event loop: commands that complete
 * without I/O resolve as microtasks, so the connection lets the loop turn between slices of them and other
 * clients are served meanwhile (raw IMAP sockets, in-process server).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startImap, RawClient, type ImapFixture } from './imap-helpers.js';

let f: ImapFixture;
before(async () => {
  f = await startImap();
});
after(async () => {
  await f.close();
});

test('another client is answered while one client pipelines 100 000 NOOPs; the flood is answered in full and in order', { timeout: 120_000 }, async () => {
  const N = 100_000;
  const flood = await RawClient.connect(f.port);
  await flood.login();
  // Count replies as they arrive without keeping them (the raw client's buffer would grow quadratically).
  let replies = 0;
  let tail = '';
  let lastTag = -1;
  let ordered = true;
  const done = new Promise<void>((resolve) => {
    flood.socket.on('data', (d: Buffer) => {
      const text = tail + d.toString('latin1');
      const lines = text.split('\r\n');
      tail = lines.pop()!;
      for (const l of lines) {
        const m = /^f(\d+) OK /.exec(l);
        if (!m) continue;
        const n = Number(m[1]);
        if (n !== lastTag + 1) ordered = false;
        lastTag = n;
        replies++;
        if (replies === N) resolve();
      }
    });
  });
  const cmds: string[] = [];
  for (let i = 0; i < N; i++) cmds.push(`f${i} NOOP\r\n`);
  flood.write(cmds.join(''));

  const other = await RawClient.connect(f.port);
  // How many flood replies arrive during each of the other client's NOOP round trips.
  const during: number[] = [];
  for (let i = 0; i < 4; i++) {
    const before = replies;
    assert.match(await other.cmd('NOOP', `o${i}`), /^o\d OK /);
    during.push(replies - before);
  }
  assert.ok(replies < N, 'the other client was served while the flood was still being answered');
  // Each waited for a slice of the flood (at most a few hundred commands), not for thousands of them.
  assert.ok(Math.max(...during) < 1024, `flood replies during the other client's NOOPs: ${during.join(', ')}`);
  await done;
  assert.ok(ordered, 'flood replies in order');
  flood.close();
  other.close();
});
