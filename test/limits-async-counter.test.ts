/**
 * The protocol servers with a connection counter that answers later (as a worker of `serve --workers N`
 * does while it asks the primary): connections wait for the answer and are then served or refused, and a
 * connection or login that ends while its answer is on its way leaves no count behind.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { LocalCounter, type ConnectionCounter } from '../src/lib/connection-limit.js';
import { RawClient, startImap, USER, PASSWORD } from './imap-helpers.js';
import { RawPop3, startPop3 } from './pop3-helpers.js';
import { SocketReader } from './helpers/server-fixture.js';

/** A LocalCounter whose answers are held until release() of the gate (or given at once when open). */
class GatedCounter implements ConnectionCounter {
  readonly inner = new LocalCounter();
  open = true;
  #held: Array<() => void> = [];

  admit(key: string, max: number): boolean | Promise<boolean> {
    if (this.open) return Promise.resolve(this.inner.admit(key, max));
    return new Promise((resolve) => this.#held.push(() => resolve(this.inner.admit(key, max))));
  }

  release(key: string): void {
    this.inner.release(key);
  }

  /** Answers every held admission. */
  answer(): void {
    const held = this.#held;
    this.#held = [];
    for (const f of held) f();
  }

  get waiting(): number {
    return this.#held.length;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !cond(); i++) await sleep(10);
  assert.ok(cond(), 'condition never held');
}

test('IMAP: connections wait for the answer; the one past the limit is refused; a client gone meanwhile is not counted', async () => {
  const counter = new GatedCounter();
  const f = await startImap({ connections: counter, maxConnectionsPerIp: 2, countLoopback: true });
  try {
    const a = await RawClient.connect(f.port);
    const b = await RawClient.connect(f.port);
    const third = connect({ host: '127.0.0.1', port: f.port });
    assert.match(await new SocketReader(third).line(), /^\* BYE Too many connections/);
    third.destroy();
    // A client that goes away while its admission is asked for leaves nothing counted.
    counter.open = false;
    const gone = connect({ host: '127.0.0.1', port: f.port });
    await until(() => counter.waiting === 1);
    gone.destroy();
    await sleep(50);
    a.close();
    await until(() => counter.inner.count('imap/127.0.0.1') === 1);
    counter.answer();
    await until(() => counter.inner.count('imap/127.0.0.1') === 1);
    await sleep(50);
    assert.equal(counter.inner.count('imap/127.0.0.1'), 1, 'only b is counted');
    counter.open = true;
    b.close();
  } finally {
    await f.close();
  }
});

test('IMAP: a login whose session count is still being asked for, on a connection that closes, is released', async () => {
  const counter = new GatedCounter();
  const f = await startImap({ connections: counter, maxConnectionsPerUser: 5 });
  try {
    const c = await RawClient.connect(f.port);
    counter.open = false;
    c.write(`a LOGIN "${USER}" "${PASSWORD}"\r\n`);
    await until(() => counter.waiting === 1);
    c.close();
    await sleep(50);
    counter.answer();
    await sleep(50);
    const [key] = [...Array(10).keys()].map((i) => `imap-user/${i}/127.0.0.1`).filter((k) => counter.inner.count(k) > 0);
    assert.equal(key, undefined, 'no session counted for any user');
    counter.open = true;
    const d = await RawClient.connect(f.port);
    await d.login();
    assert.equal([...Array(10).keys()].filter((i) => counter.inner.count(`imap-user/${i}/127.0.0.1`) === 1).length, 1, 'a real session is counted');
    d.close();
  } finally {
    await f.close();
  }
});

test('POP3: the connection past the limit is refused with the answer given later', async () => {
  const counter = new GatedCounter();
  const f = await startPop3({ connections: counter, maxConnectionsPerIp: 1, countLoopback: true });
  try {
    const first = await RawPop3.open(f.port);
    assert.match(first.greeting, /^\+OK/);
    counter.open = false;
    const second = RawPop3.open(f.port);
    await until(() => counter.waiting === 1);
    counter.answer();
    assert.match((await second).greeting, /^-ERR \[SYS\/TEMP\] Too many connections/);
    counter.open = true;
    first.c.socket.destroy();
  } finally {
    await f.close();
  }
});
