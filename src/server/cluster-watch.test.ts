import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChangeBus, KeyedBus, type LoggedListEvent } from '../store/bus.js';
import type { ChangeEvent } from '../store/types.js';
import { ChangeRelay, WatchTable, type WatchToPrimary, type WatchToWorker } from './cluster-watch.js';

interface Worker {
  relay: ChangeRelay;
  mailboxes: ChangeBus;
  users: KeyedBus<LoggedListEvent>;
  /** Wake-ups the primary passed to this worker. */
  heard: ChangeEvent[];
  heardLists: LoggedListEvent[];
}

/** A primary and `n` workers joined by messages delivered on later turns, as over IPC. */
function cluster(n: number, lingerMs = 0) {
  const sent = { events: 0, watch: 0 };
  const live = new Set<number>();
  const workers: Worker[] = [];
  const table = new WatchTable(
    (slot, m: WatchToWorker) => {
      if (live.has(slot)) setImmediate(() => deliver(workers[slot - 1]!, m));
    },
    () => live,
  );
  const deliver = (w: Worker, m: WatchToWorker): void => {
    if (m.t === 'mr:watched') w.relay.othersWatch(m);
    else {
      w.heard.push(...m.evs);
      w.heardLists.push(...m.lists);
    }
  };
  const start = (slot: number): Worker => {
    live.add(slot);
    const mailboxes = new ChangeBus();
    const users = new KeyedBus<LoggedListEvent>((ev) => ev.userId);
    const relay = new ChangeRelay(
      (m: WatchToPrimary) => {
        if (!live.has(slot)) return;
        if (m.t === 'mr:events') sent.events++;
        else sent.watch++;
        setImmediate(() => (m.t === 'mr:events' ? table.relay(slot, m.evs, m.lists) : table.update(slot, m)));
      },
      mailboxes,
      users,
      lingerMs,
    );
    const w: Worker = { relay, mailboxes, users, heard: [], heardLists: [] };
    const others = table.othersOf(slot);
    relay.othersWatch({ mailboxes: { on: others.mailboxes, off: [] }, users: { on: others.users, off: [] } }, true);
    workers[slot - 1] = w;
    return w;
  };
  for (let slot = 1; slot <= n; slot++) start(slot);
  return {
    table,
    workers,
    sent,
    start,
    kill(slot: number): void {
      live.delete(slot);
      workers[slot - 1]!.relay.close();
      table.drop(slot);
    },
  };
}

/** Lets the batches (a turn, a few milliseconds) go through. */
async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise((r) => setTimeout(r, 15));
}

const ev = (mailboxId: number, highestModseq: number, userId = 1): ChangeEvent => ({ userId, mailboxId, highestModseq });
const listEv = (userId: number, seq: number, name: string): LoggedListEvent => ({ userId, seq, kind: 'create', name, origin: null });

test('a commit nobody else watches sends nothing; one another worker watches reaches that worker only', async () => {
  const c = cluster(3);
  const [w1, w2, w3] = c.workers as [Worker, Worker, Worker];
  w1.relay.publish(ev(7, 1));
  await settle();
  assert.equal(c.sent.events, 0);
  const off = w2.mailboxes.subscribe(7, () => undefined);
  await settle();
  assert.ok(w1.relay.others.mailboxes.has(7));
  assert.ok(w3.relay.others.mailboxes.has(7));
  assert.ok(!w2.relay.others.mailboxes.has(7), 'a worker is not told of its own watch');
  w2.heard.length = 0;
  w1.relay.publish(ev(7, 2));
  w1.relay.publish(ev(7, 3));
  w1.relay.publish(ev(8, 1));
  await settle();
  assert.deepEqual(w2.heard, [ev(7, 3)], 'the latest wake-up of the watched mailbox only');
  assert.deepEqual(w3.heard, []);
  off();
});

test('a commit made just before another worker starts watching is sent again when the watch is heard', async () => {
  const c = cluster(2);
  const [w1, w2] = c.workers as [Worker, Worker];
  w1.relay.publish(ev(5, 9));
  await settle();
  w2.mailboxes.subscribe(5, () => undefined);
  await settle();
  assert.deepEqual(w2.heard, [ev(5, 9)]);
  w1.relay.publishList(listEv(3, 40, 'A'));
  await settle();
  assert.equal(w2.heardLists.length, 0);
  w2.users.subscribe(3, () => undefined);
  await settle();
  assert.deepEqual(
    w2.heardLists.map((e) => e.seq),
    [40],
  );
  w1.relay.publishList(listEv(3, 41, 'B'));
  w1.relay.publishList(listEv(4, 42, 'C'));
  await settle();
  assert.deepEqual(
    w2.heardLists.map((e) => e.seq),
    [40, 41],
  );
});

test('the last listener gone, the key is unwatched after the linger; a new listener meanwhile keeps it', async () => {
  const c = cluster(2, 30);
  const [w1, w2] = c.workers as [Worker, Worker];
  const off = w2.mailboxes.subscribe(11, () => undefined);
  await settle();
  const watches = c.sent.watch;
  off();
  const off2 = w2.mailboxes.subscribe(11, () => undefined);
  await settle();
  await new Promise((r) => setTimeout(r, 60));
  assert.equal(c.sent.watch, watches, 'unsubscribe and subscribe again changes nothing');
  assert.ok(w1.relay.others.mailboxes.has(11));
  off2();
  await new Promise((r) => setTimeout(r, 60));
  await settle();
  assert.ok(!w1.relay.others.mailboxes.has(11));
  w1.relay.publish(ev(11, 2));
  await settle();
  assert.deepEqual(w2.heard, []);
});

test('a key watched by two workers stays watched for the third until both stop; a dead worker stops watching', async () => {
  const c = cluster(3);
  const [w1, w2, w3] = c.workers as [Worker, Worker, Worker];
  w2.mailboxes.subscribe(1, () => undefined);
  w3.mailboxes.subscribe(1, () => undefined);
  await settle();
  assert.ok(w1.relay.others.mailboxes.has(1));
  assert.ok(w2.relay.others.mailboxes.has(1), 'worker 3 watches it');
  c.kill(3);
  await settle();
  assert.ok(w1.relay.others.mailboxes.has(1));
  assert.ok(!w2.relay.others.mailboxes.has(1));
  c.kill(2);
  await settle();
  assert.ok(!w1.relay.others.mailboxes.has(1));
  const w2b = c.start(2);
  assert.equal(w2b.relay.others.mailboxes.size, 0);
  w1.mailboxes.subscribe(4, () => undefined);
  await settle();
  assert.ok(w2b.relay.others.mailboxes.has(4));
  assert.deepEqual(c.table.othersOf(2), { mailboxes: [4], users: [] });
  assert.deepEqual(c.table.othersOf(1), { mailboxes: [], users: [] });
});

test('bad watch input is ignored: keys that are not integers, and keys unwatched that were never watched', async () => {
  const told: Array<[number, WatchToWorker]> = [];
  const table = new WatchTable(
    (n, m) => told.push([n, m]),
    () => [1, 2],
  );
  table.update(1, { mailboxes: { on: [Number.NaN, 1.5, -0.5], off: [3] }, users: { on: [], off: [9] } });
  table.relay(2, [ev(3, 1)], [listEv(9, 1, 'x')]);
  await settle();
  assert.deepEqual(told, []);
  table.drop(7);
  table.update(1, { mailboxes: { on: [3, 3], off: [] }, users: { on: [], off: [] } });
  await settle();
  assert.deepEqual(told, [[2, { t: 'mr:watched', mailboxes: { on: [3], off: [] }, users: { on: [], off: [] } }]]);
});

test('a closed relay reports and sends nothing', async () => {
  const c = cluster(2);
  const [w1, w2] = c.workers as [Worker, Worker];
  w2.mailboxes.subscribe(2, () => undefined);
  await settle();
  w1.relay.close();
  w1.relay.publish(ev(2, 1));
  w1.mailboxes.subscribe(6, () => undefined);
  await settle();
  assert.deepEqual(w2.heard, []);
  assert.ok(!w2.relay.others.mailboxes.has(6));
});
