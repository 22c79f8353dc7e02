/**
 * A client that pipelines a flood of cheap commands must not hold the event loop: commands that complete
 * without I/O resolve as microtasks, so a connection lets the loop turn between slices of them and other
 * clients are served meanwhile (raw IMAP and ManageSieve sockets, in-process servers).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Duplex } from 'node:stream';
import { startImap, RawClient, type ImapFixture } from './imap-helpers.js';
import { createManageSieveService, type ManageSieveService } from '../src/managesieve/index.js';
import { startServerFixture, PASSWORD, USER, type ServerFixture } from './helpers/server-fixture.js';
import { plain, sieveConnect } from './managesieve-helpers.js';

const N = 100_000;

let imap: ImapFixture;
let sieve: ServerFixture<ManageSieveService>;
before(async () => {
  imap = await startImap();
  sieve = await startServerFixture({ prefix: 'mailroom-msieve-flood-', fsync: false }, (store, auth) => createManageSieveService({ store, auth }));
});
after(async () => {
  await imap.close();
  await sieve.close();
});

/**
 * Writes `N` pipelined commands on `flood` (command(i)) and counts the replies matching `reply` as they
 * arrive (without keeping them); meanwhile runs `ping` 4 times on another connection. Returns how many
 * flood replies arrived during each ping, and whether all replies then came, in order.
 */
async function floodWhilePinging(flood: Duplex, command: (i: number) => string, reply: RegExp, ping: () => Promise<void>): Promise<{ during: number[]; early: boolean; ordered: boolean }> {
  let replies = 0;
  let tail = '';
  let ordered = true;
  const done = new Promise<void>((resolve) => {
    flood.on('data', (d: Buffer) => {
      const lines = (tail + d.toString('latin1')).split('\r\n');
      tail = lines.pop()!;
      for (const l of lines) {
        const m = reply.exec(l);
        if (!m) continue;
        if (m[1] !== undefined && Number(m[1]) !== replies) ordered = false;
        if (++replies === N) resolve();
      }
    });
  });
  const cmds: string[] = [];
  for (let i = 0; i < N; i++) cmds.push(command(i));
  flood.write(cmds.join(''));
  const during: number[] = [];
  for (let i = 0; i < 4; i++) {
    const start = replies;
    await ping();
    during.push(replies - start);
  }
  const early = replies < N;
  await done;
  return { during, early, ordered };
}

function assertSliced(r: { during: number[]; early: boolean; ordered: boolean }): void {
  assert.ok(r.early, 'the other client was served while the flood was still being answered');
  // Each ping waited for a slice of the flood (a few hundred commands), not for thousands of them.
  assert.ok(Math.max(...r.during) < 1024, `flood replies during the other client's commands: ${r.during.join(', ')}`);
  assert.ok(r.ordered, 'flood replies in order');
}

test('IMAP: another client is answered while one client pipelines 100 000 NOOPs; the flood is answered in full and in order', { timeout: 120_000 }, async () => {
  const flood = await RawClient.connect(imap.port);
  await flood.login();
  const other = await RawClient.connect(imap.port);
  let n = 0;
  const r = await floodWhilePinging(flood.socket, (i) => `f${i} NOOP\r\n`, /^f(\d+) OK /, async () => {
    assert.match(await other.cmd('NOOP', `o${n++}`), /^o\d OK /);
  });
  assertSliced(r);
  flood.close();
  other.close();
});

test('ManageSieve: another client is answered while one client pipelines 100 000 NOOPs', { timeout: 120_000 }, async () => {
  const { c: flood } = await sieveConnect(sieve.port);
  assert.match((await flood.cmd(`AUTHENTICATE "PLAIN" "${plain(USER, PASSWORD)}"`)).status, /^OK/);
  const { c: other } = await sieveConnect(sieve.port);
  const r = await floodWhilePinging(flood.socket, () => 'NOOP\r\n', /^OK/, async () => {
    assert.match((await other.cmd('NOOP')).status, /^OK/);
  });
  assertSliced(r);
  flood.socket.destroy();
  other.socket.destroy();
});
