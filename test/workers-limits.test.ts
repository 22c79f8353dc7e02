/**
 * `mailroom serve --workers 2`: the connection limit per address, the IMAP sessions per user and the login
 * throttle hold for the whole cluster, not per worker. Connections come from 127.0.0.x source addresses;
 * MAILROOM_TEST_LIMITS (src/cli/test-limits.ts) makes the per-address limit count loopback like a remote
 * address and takes the throttle's delays away. Needs the built CLI.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { makeEnv } from './delivery/helpers.js';
import { SocketReader } from './helpers/server-fixture.js';
import { outputMatches, serveWorkers, type Served } from './workers-helpers.js';

const ALICE = 'alice@example.org';
const PW = 'pw';
/** --max-connections-per-ip */
const K = 3;
/** The throttle's failures per (address, user) before that pair is refused. */
const PAIR_FAILURES = 4;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A raw IMAP connection from a chosen local (source) address. */
class Conn extends SocketReader {
  #n = 0;
  greeting = '';
  worker = '';

  static async open(port: number, from: string): Promise<Conn> {
    const socket = connect({ host: '127.0.0.1', port, localAddress: from });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const c = new Conn(socket);
    c.greeting = await c.line();
    if (c.greeting.startsWith('* OK')) c.worker = /"x-mailroom-worker" "(\d+)"/.exec(await c.cmd('ID NIL'))?.[1] ?? '';
    return c;
  }

  get admitted(): boolean {
    return this.greeting.startsWith('* OK');
  }

  /** Sends a tagged command; returns its lines up to the tagged completion. */
  async cmd(command: string): Promise<string> {
    const tag = `t${++this.#n}`;
    this.socket.write(`${tag} ${command}\r\n`);
    const lines: string[] = [];
    for (;;) {
      const l = await this.line();
      lines.push(l);
      if (l.startsWith(`${tag} `)) return lines.join('\n');
    }
  }

  close(): void {
    this.socket.destroy();
  }
}

/** The workers that logged a refusal (`what`) of a connection from `remote`. */
function refusalsBy(s: Served, remote: string, what = 'imap connection refused'): Set<string> {
  const out = new Set<string>();
  for (const line of s.output().split('\n')) {
    if (line.includes(what) && line.includes(`remote=${remote}`)) out.add(/worker=(\d+)/.exec(line)?.[1] ?? '?');
  }
  return out;
}

/** Connects from `from` and reads the first line the server sends. */
async function greeting(port: number, from: string): Promise<{ socket: Socket; line: string }> {
  const socket = connect({ host: '127.0.0.1', port, localAddress: from });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return { socket, line: await new SocketReader(socket).line() };
}

/** K admitted connections from `from`, some served by each worker (the extra tries are closed). */
async function fillOnBothWorkers(port: number, from: string): Promise<Conn[]> {
  const open: Conn[] = [];
  for (let i = 0; i < 30; i++) {
    const c = await Conn.open(port, from);
    assert.ok(c.admitted, `connection ${open.length + 1} of ${K} refused: ${c.greeting}`);
    open.push(c);
    if (open.length < K) continue;
    if (new Set(open.map((x) => x.worker)).size === 2) return open;
    // All on one worker so far: close one and connect again (the primary hands connections out in turn).
    open.shift()!.close();
    await sleep(50);
  }
  throw new Error('connections never reached both workers');
}

/** Connects from `from` until one is admitted (a close is released asynchronously); null after `tries`. */
async function admittedWithin(port: number, from: string, tries = 40): Promise<Conn | null> {
  for (let i = 0; i < tries; i++) {
    const c = await Conn.open(port, from);
    if (c.admitted) return c;
    c.close();
    await sleep(50);
  }
  return null;
}

describe('serve --workers 2: limits hold across workers', () => {
  let s: Served;
  let close: () => Promise<void>;
  let port: number;
  before(async () => {
    const env = await makeEnv([[ALICE, PW]]);
    await env.store.close();
    close = env.close;
    const limits = { countLoopback: true, auth: { failureDelayMs: 0, maxDelayMs: 0, maxFailuresPerUser: PAIR_FAILURES } };
    s = await serveWorkers(env.dir, 2, ['--max-connections-per-ip', String(K), '--max-connections-per-user', '100'], { MAILROOM_TEST_LIMITS: JSON.stringify(limits) });
    port = s.ports['imap']!;
  });
  after(async () => {
    if (s.child.exitCode === null) await s.stop();
    await close();
  });

  test('the (K+1)th connection from one address is refused by either worker, and admitted once one closes', async () => {
    const open = await fillOnBothWorkers(port, '127.0.0.2');
    try {
      for (let i = 0; i < 12 && refusalsBy(s, '127.0.0.2').size < 2; i++) {
        const c = await Conn.open(port, '127.0.0.2');
        c.close();
        assert.match(c.greeting, /^\* BYE Too many connections/, `attempt ${i + 1} past the limit was admitted`);
      }
      assert.deepEqual([...refusalsBy(s, '127.0.0.2')].sort(), ['1', '2'], 'both workers refused');
      // Another address has its own count.
      const other = await Conn.open(port, '127.0.0.3');
      assert.ok(other.admitted, other.greeting);
      other.close();
      // One closes: a connection from the address is admitted again, and the one after it refused.
      open.shift()!.close();
      const again = await admittedWithin(port, '127.0.0.2');
      assert.ok(again, 'never admitted after a close');
      open.push(again);
      const over = await Conn.open(port, '127.0.0.2');
      over.close();
      assert.match(over.greeting, /^\* BYE Too many connections/);
    } finally {
      for (const c of open) c.close();
    }
  });

  test('POP3 and LMTP connections from one address are limited over both workers too', async () => {
    const open: Socket[] = [];
    try {
      for (let i = 0; i < K; i++) {
        const g = await greeting(s.ports['pop3']!, '127.0.0.7');
        open.push(g.socket);
        assert.match(g.line, /^\+OK/);
      }
      for (let i = 0; i < 12 && refusalsBy(s, '127.0.0.7', 'pop3 connection refused').size < 2; i++) {
        const g = await greeting(s.ports['pop3']!, '127.0.0.7');
        g.socket.destroy();
        assert.match(g.line, /^-ERR \[SYS\/TEMP\] Too many connections/);
      }
      assert.deepEqual([...refusalsBy(s, '127.0.0.7', 'pop3 connection refused')].sort(), ['1', '2'], 'both workers refused');
      for (let i = 0; i < K; i++) {
        const g = await greeting(s.ports['lmtp']!, '127.0.0.8');
        open.push(g.socket);
        assert.match(g.line, /^220 /);
      }
      for (let i = 0; i < 4; i++) {
        const g = await greeting(s.ports['lmtp']!, '127.0.0.8');
        g.socket.destroy();
        assert.match(g.line, /^421 .*Too many connections/);
      }
    } finally {
      for (const c of open) c.destroy();
    }
  });

  test("a worker killed with SIGKILL frees its connections' counts", async () => {
    const open = await fillOnBothWorkers(port, '127.0.0.6');
    try {
      const victim = open[0]!.worker;
      const survivors = open.filter((c) => c.worker !== victim).length;
      const pid = s.workerPids().get(Number(victim))!;
      process.kill(pid, 'SIGKILL');
      await outputMatches(s, new RegExp(`worker ready .*worker=${victim} pid=(?!${pid}\\b)\\d+`), 60_000);
      // Its connections are gone with it: with both workers serving again, K - survivors new ones are
      // admitted (wherever they land), and no more.
      let admitted = 0;
      for (let i = 0; i < 4 * K; i++) {
        const c = await Conn.open(port, '127.0.0.6');
        if (c.admitted) {
          admitted++;
          open.push(c);
        } else c.close();
      }
      assert.equal(admitted, K - survivors);
    } finally {
      for (const c of open) c.close();
    }
  });

  test('failed logins spread over both workers are throttled as from one process', async () => {
    const cs = await fillOnBothWorkers(port, '127.0.0.4');
    const a = cs.find((c) => c.worker === '1')!;
    const b = cs.find((c) => c.worker === '2')!;
    for (const c of cs) if (c !== a && c !== b) c.close();
    try {
      // PAIR_FAILURES wrong passwords, half through each worker: fewer than the limit in either one.
      for (let i = 0; i < PAIR_FAILURES; i++) assert.match(await (i % 2 ? b : a).cmd(`LOGIN ${ALICE} wrong${i}`), /^t\d+ NO \[AUTHENTICATIONFAILED\]/m);
      await sleep(100); // the counts reach the other worker with the primary's answer
      // The pair is refused now on both workers, even with the right password.
      assert.match(await a.cmd(`LOGIN ${ALICE} ${PW}`), /^t\d+ NO /m, 'worker 1 let the guesser in');
      assert.match(await b.cmd(`LOGIN ${ALICE} ${PW}`), /^t\d+ NO /m, 'worker 2 let the guesser in');
      // Only that address: the owner logs in from another one.
      const owner = await Conn.open(port, '127.0.0.5');
      assert.match(await owner.cmd(`LOGIN ${ALICE} ${PW}`), /^t\d+ OK /m);
      owner.close();
    } finally {
      a.close();
      b.close();
    }
  });

  test('IMAP sessions per user are counted over both workers', { timeout: 60_000 }, async () => {
    const env = await makeEnv([[ALICE, PW]]);
    await env.store.close();
    const one = await serveWorkers(env.dir, 2, ['--max-connections-per-user', '2']);
    const conns: Conn[] = [];
    try {
      const p = one.ports['imap']!;
      // Logged-in sessions on both workers until the user's limit.
      for (let i = 0; i < 30 && new Set(conns.map((c) => c.worker)).size < 2; i++) {
        const c = await Conn.open(p, '127.0.0.1');
        if (conns.length === 0 || c.worker !== conns[0]!.worker) {
          assert.match(await c.cmd(`LOGIN ${ALICE} ${PW}`), /^t\d+ OK /m);
          conns.push(c);
        } else c.close();
      }
      assert.equal(conns.length, 2, 'sessions on both workers');
      // A third session is refused on either worker.
      for (const w of ['1', '2']) {
        let c: Conn | null = null;
        for (let i = 0; i < 20 && c?.worker !== w; i++) {
          c?.close();
          c = await Conn.open(p, '127.0.0.1');
        }
        assert.equal(c!.worker, w);
        assert.match(await c!.cmd(`LOGIN ${ALICE} ${PW}`), /NO \[LIMIT\]/, `worker ${w}`);
        c!.close();
      }
      // One logs out: a session is possible again.
      await conns.shift()!.cmd('LOGOUT');
      let ok = false;
      for (let i = 0; i < 20 && !ok; i++) {
        const c = await Conn.open(p, '127.0.0.1');
        ok = / OK /.test(await c.cmd(`LOGIN ${ALICE} ${PW}`));
        if (ok) conns.push(c);
        else c.close();
        await sleep(50);
      }
      assert.ok(ok, 'no session after a logout');
    } finally {
      for (const c of conns) c.close();
      await one.stop();
      await env.close();
    }
  });
});
