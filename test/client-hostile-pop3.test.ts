/**
 * The POP3 download against a broken or hostile server (a scripted server on loopback): UIDLs given to
 * several messages (even of the same size) or longer than RFC 1939 allows, a server closing after its
 * greeting, multi-line responses without their final ".", endless responses and enormous lines. Each time:
 * no message is lost or left undownloaded, the run ends with one clear ClientError, and memory stays bounded.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { tempProfile, engine, sampleMessage, assertMaildir, peakBufferGrowth, PASSWORD_ENV } from './helpers/client.js';
import { startLineServer, type LineServer } from './helpers/line-server.js';
import { flood, givenUpWith, trickle } from './helpers/flood.js';
import { dotStuffAll } from '../src/lib/dotstuff.js';
import { ClientError } from '../src/client/errors.js';
import type { Pop3Report } from '../src/client/pop3/fetch.js';
import type { ClientEngine, EngineOptions } from '../src/client/engine.js';

interface Msg {
  uidl: string;
  raw: Buffer;
}

/** `hook(cmd, sock)`: a reply of its own for a command (undefined: the normal one). */
type Hook = (cmd: string, sock: Socket) => string | Buffer | 'silent' | undefined;

async function startPop3(msgs: Msg[], hook?: Hook): Promise<LineServer & { msgs: Msg[]; hook: Hook | undefined }> {
  const state = { msgs, hook };
  const srv = await startLineServer((w, sock) => {
    w('+OK ready\r\n');
    const snapshot = [...state.msgs];
    const dele = new Set<number>();
    return (line) => {
      const [cmd = '', arg] = line.split(' ');
      const own = state.hook?.(line, sock);
      if (own === 'silent') return;
      if (own !== undefined) return w(own);
      const n = Number(arg);
      switch (cmd.toUpperCase()) {
        case 'CAPA':
          return w('+OK\r\nUSER\r\nUIDL\r\nTOP\r\n.\r\n');
        case 'USER':
        case 'PASS':
        case 'NOOP':
          return w('+OK\r\n');
        case 'STAT':
          return w(`+OK ${snapshot.length} ${snapshot.reduce((a, m) => a + m.raw.length, 0)}\r\n`);
        case 'LIST':
          return w(`+OK\r\n${snapshot.map((m, i) => `${i + 1} ${m.raw.length}\r\n`).join('')}.\r\n`);
        case 'UIDL':
          return w(`+OK\r\n${snapshot.map((m, i) => `${i + 1} ${m.uidl}\r\n`).join('')}.\r\n`);
        case 'RETR': {
          const m = snapshot[n - 1];
          if (!m) return w('-ERR no such message\r\n');
          return w(Buffer.concat([Buffer.from('+OK\r\n'), dotStuffAll([m.raw])]));
        }
        case 'DELE':
          dele.add(n - 1);
          return w('+OK\r\n');
        case 'QUIT':
          state.msgs = state.msgs.filter((m) => !dele.has(snapshot.indexOf(m)));
          w('+OK bye\r\n');
          sock.end();
          return;
        default:
          return w('-ERR unknown\r\n');
      }
    };
  });
  return Object.assign(state, srv, { close: srv.close });
}

async function withPop3(msgs: Msg[], fn: (srv: Awaited<ReturnType<typeof startPop3>>, e: ClientEngine, sync: () => Promise<Pop3Report>) => Promise<void>, extra: Record<string, unknown> = { leaveOnServer: true }, opts: Partial<EngineOptions> = {}): Promise<void> {
  const srv = await startPop3(msgs);
  const p = tempProfile();
  const e = engine(p.dir, 'pw', opts);
  try {
    e.addAccount({ name: 'p', protocol: 'pop3', host: '127.0.0.1', port: srv.port, user: 'u', password: { kind: 'env', name: PASSWORD_ENV }, ...extra });
    await fn(srv, e, async () => (await e.syncAccount('p')) as Pop3Report);
  } finally {
    e.close();
    p.cleanup();
    await srv.close();
  }
}

/** The server answers `retr` a byte now and then: the sync is given up with a NETWORK error matching `message`. */
async function tricklingRetr(srv: Awaited<ReturnType<typeof startPop3>>, sync: () => Promise<Pop3Report>, retr: string, message: RegExp): Promise<void> {
  let stop = (): void => undefined;
  srv.hook = (cmd, sock) => {
    if (cmd !== retr) return undefined;
    stop = trickle(sock);
    return '+OK\r\n';
  };
  try {
    const err = await givenUpWith(sync());
    assert.ok(err instanceof ClientError, String(err));
    assert.equal(err.code, 'NETWORK');
    assert.match(err.message, message);
  } finally {
    stop();
  }
}

/** Same-length messages with different subjects (so they also have the same LIST size). */
const sameSize = (n: number): Buffer[] => Array.from({ length: n }, (_, i) => sampleMessage(`same size ${String.fromCharCode(97 + i)}`));
const subjects = (e: ClientEngine): string[] => e.list({ account: 'p' }).map((r) => r.summary.subject).sort();

test('one UIDL for every message, all of the same size (leave a copy): each downloaded once, with a warning', async () => {
  const raws = sameSize(3);
  assert.equal(new Set(raws.map((r) => r.length)).size, 1);
  await withPop3(raws.map((raw) => ({ uidl: 'dup', raw })), async (_srv, e, sync) => {
    const r = await sync();
    assert.equal(r.downloaded, 3);
    assert.match(r.warnings.join('\n'), /gives UIDL dup to several messages/);
    assert.deepEqual(subjects(e), ['same size a', 'same size b', 'same size c']);
    assert.equal((await sync()).downloaded, 0, 'and not again');
  });
});

test('UIDLs longer than 70 characters sharing their first 70: two messages, not one; stable across runs', async () => {
  const long = 'x'.repeat(90);
  await withPop3(
    [
      { uidl: `${long}A`, raw: sampleMessage('long a') },
      { uidl: `${long}B`, raw: sampleMessage('long b') },
    ],
    async (_srv, e, sync) => {
      assert.equal((await sync()).downloaded, 2);
      assert.deepEqual(subjects(e), ['long a', 'long b']);
      assert.equal((await sync()).downloaded, 0);
    },
  );
});

test('a server closing after its greeting (at the first command): one clear NETWORK error', async () => {
  await withPop3([{ uidl: 'a', raw: sampleMessage('a') }], async (srv, e, sync) => {
    srv.hook = (_cmd, sock) => {
      sock.destroy();
      return 'silent';
    };
    await assert.rejects(sync(), (err: ClientError) => {
      assert.ok(err instanceof ClientError);
      assert.equal(err.code, 'NETWORK');
      assert.match(err.message, /127\.0\.0\.1:\d+ was closed by the server/);
      return true;
    });
    assert.equal(e.list({ account: 'p' }).length, 0);
  });
});

test('a UIDL listing without its final "." and then a closed connection: NETWORK, nothing recorded; the next run downloads', async () => {
  await withPop3([{ uidl: 'a', raw: sampleMessage('a') }], async (srv, e, sync) => {
    srv.hook = (cmd, sock) => {
      if (cmd !== 'UIDL') return undefined;
      setTimeout(() => sock.destroy(), 20);
      return '+OK\r\n1 a\r\n';
    };
    await assert.rejects(sync(), (err: ClientError) => err instanceof ClientError && err.code === 'NETWORK');
    assert.equal(e.list({ account: 'p' }).length, 0);
    srv.hook = undefined;
    assert.equal((await sync()).downloaded, 1);
  });
});

test('an endless LIST (40 MB, never the final "."): PROTOCOL error past the bound, memory bounded', async () => {
  await withPop3([{ uidl: 'a', raw: sampleMessage('a') }], async (srv, e, sync) => {
    srv.hook = (cmd, sock) => {
      if (cmd !== 'LIST') return undefined;
      flood(sock, '+OK\r\n', Buffer.from('1 100\r\n'.repeat(150_000)), 40 * 1024 * 1024);
      return 'silent';
    };
    const growth = await peakBufferGrowth(() =>
      assert.rejects(sync(), (err: ClientError) => {
        assert.equal(err.code, 'PROTOCOL', err.message);
        assert.match(err.message, /multi-line response over \d+ bytes without its final "\."/);
        return true;
      }),
    );
    assert.ok(growth < 80 * 1024 * 1024, `bounded by the 32 MB limit (${growth} bytes)`);
    assert.equal(e.list({ account: 'p' }).length, 0);
  });
});

for (const [what, size] of [
  ['a small message (held in memory)', 2_000],
  ['a big message (streamed to its file)', 1_500_000],
] as const) {
  test(`RETR of ${what} that never ends: PROTOCOL error, nothing stored, nothing left in tmp/, others kept`, async () => {
    const good = sampleMessage('good');
    const bad = sampleMessage('endless', { body: Buffer.alloc(size, 0x61) });
    await withPop3(
      [
        { uidl: 'good', raw: good },
        { uidl: 'bad', raw: bad },
      ],
      async (srv, e, sync) => {
        srv.hook = (cmd, sock) => {
          if (cmd !== 'RETR 2') return undefined;
          flood(sock, '+OK\r\n', Buffer.from('endless line of junk\r\n'.repeat(20_000)), 3 * size + 8 * 1024 * 1024);
          return 'silent';
        };
        await assert.rejects(sync(), (err: ClientError) => {
          assert.equal(err.code, 'PROTOCOL', err.message);
          assert.match(err.message, /without its final "\."/);
          return true;
        });
        assert.deepEqual(subjects(e), ['good'], 'the message before it is kept');
        assertMaildir(e.localFolder('INBOX').root);
        srv.hook = undefined;
        const r = await sync();
        assert.equal(r.downloaded, 1);
        assert.deepEqual(subjects(e), ['endless', 'good']);
      },
      {},
    );
  });
}

test('an enormous status line (8 MB without CRLF): PROTOCOL error at the line limit', async () => {
  await withPop3([{ uidl: 'a', raw: sampleMessage('a') }], async (srv, _e, sync) => {
    srv.hook = (cmd) => (cmd === 'STAT' || cmd === 'LIST' ? Buffer.alloc(8 * 1024 * 1024, 0x2b) : undefined);
    await assert.rejects(sync(), (err: ClientError) => {
      assert.equal(err.code, 'PROTOCOL', err.message);
      assert.match(err.message, /line longer than/);
      return true;
    });
  });
});

test('a server trickling the second message a byte now and then is given up: NETWORK error naming the account; the first message kept, the second downloaded next time', async () => {
  await withPop3(
    [
      { uidl: 'a', raw: sampleMessage('a') },
      { uidl: 'b', raw: sampleMessage('b') },
    ],
    async (srv, e, sync) => {
      await tricklingRetr(srv, sync, 'RETR 2', /^account p: 127\.0\.0\.1:\d+ sent \d+ bytes in \d+ s while a command was outstanding/);
      assert.deepEqual(subjects(e), ['a']);
      assertMaildir(e.localFolder('INBOX').root);
      srv.hook = undefined;
      assert.equal((await sync()).downloaded, 1);
      assert.deepEqual(subjects(e), ['a', 'b']);
    },
    { leaveOnServer: true },
    { stall: { windowMs: 2000, minBytes: 4096 } },
  );
});

test("the account's own progress rule (account add --progress-window 2 --progress-bytes 4096) holds a POP3 download too", async () => {
  await withPop3(
    [{ uidl: 'a', raw: sampleMessage('a') }],
    async (srv, _e, sync) => tricklingRetr(srv, sync, 'RETR 1', /the rule: 4096 bytes or a finished answer every 2 s/),
    { leaveOnServer: true, progressWindow: 2, progressBytes: 4096 },
  );
});
