/**
 * Hostile input over raw IMAP sockets: each attack gets a protocol answer (BAD/NO, or BYE where the stream
 * cannot be resynchronised), and afterwards the server still serves a normal client (LOGIN, SELECT, FETCH).
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startImap, RawClient, message, type ImapFixture } from './imap-helpers.js';
import { createImapService } from '../src/imap-server/index.js';
import { silentLogger } from '../src/lib/logger.js';
import type { MailStore } from '../src/store/mail.js';
import { overrideMethods, withParts } from './helpers/store.js';

/** A fresh client logs in, selects INBOX and fetches message 1: the server still serves. */
async function stillServes(port: number): Promise<void> {
  const c = await RawClient.connect(port);
  try {
    await c.login();
    assert.match(await c.cmd('SELECT INBOX', 's'), /^s OK /m);
    assert.match(await c.cmd('FETCH 1 (FLAGS BODY.PEEK[HEADER.FIELDS (Subject)])', 'f'), /Subject: first[\s\S]*^f OK /m);
  } finally {
    c.close();
  }
}

describe('hostile IMAP input', () => {
  let f: ImapFixture;
  before(async () => {
    f = await startImap();
    await f.append(message('first', 'x'.repeat(2000)));
  });
  after(async () => {
    await f.close();
  });

  test('literal sizes: too big is NO [TOOBIG], negative is BAD, the connection goes on', async () => {
    const c = await RawClient.connect(f.port);
    assert.match(await c.cmd('LOGIN {99999999999}', 'a'), /^a NO \[TOOBIG\] /);
    assert.match(await c.cmd('LOGIN {-1}', 'b'), /^b BAD /);
    await c.login();
    assert.match(await c.cmd('APPEND INBOX {99999999999}', 'c'), /^c NO \[TOOBIG\] /);
    assert.match(await c.cmd('NOOP', 'd'), /^d OK /);
    c.close();
    await stillServes(f.port);
  });

  test('a non-synchronizing literal over the limit: BYE and close (its octets cannot be skipped)', async () => {
    const c = await RawClient.connect(f.port);
    await c.login();
    c.write('a APPEND INBOX {999999999+}\r\nxxxx\r\n');
    assert.match(await c.readUntil((s) => /\* BYE /.test(s)), /\* BYE .*exceeds the limit/);
    c.close();
    await stillServes(f.port);
  });

  test('a 1 MB line is BAD; one that never ends is answered before its end; NUL is BAD', async () => {
    const c = await RawClient.connect(f.port);
    assert.equal(await c.cmd('NOOP ' + 'x'.repeat(1 << 20), 'a'), 'a BAD Command line too long\r\n');
    c.write('b NOOP ' + 'y'.repeat(1 << 20));
    assert.match(await c.readUntil((s) => s.includes('\r\n')), /^b BAD Command line too long\r\n$/);
    c.write('yyy\r\n');
    c.take();
    assert.match(await c.cmd('NOOP\0', 'c'), /^c BAD /);
    assert.match(await c.cmd('NOOP', 'd'), /^d OK /);
    c.close();
    await stillServes(f.port);
  });

  test('sequence sets, nesting, sections and partials out of range are BAD', async () => {
    const c = await RawClient.connect(f.port);
    await c.login();
    await c.cmd('SELECT INBOX', 's');
    assert.match(await c.cmd('FETCH 0 FLAGS', 'a'), /^a BAD /);
    assert.match(await c.cmd('FETCH 1:4294967296 FLAGS', 'b'), /^b BAD /);
    assert.match(await c.cmd('UID FETCH 1:99999999999999999999 FLAGS', 'c'), /^c BAD /);
    assert.match(await c.cmd('FETCH *:* FLAGS', 'd'), /^d OK /m);
    assert.match(await c.cmd('SEARCH ' + '('.repeat(5000) + 'ALL' + ')'.repeat(5000), 'e'), /^e BAD /);
    assert.match(await c.cmd('SEARCH ' + 'NOT '.repeat(10000) + 'ALL', 'g'), /^g BAD /);
    assert.match(await c.cmd('FETCH 1 ' + '('.repeat(5000) + 'FLAGS' + ')'.repeat(5000), 'h'), /^h BAD /);
    assert.match(await c.cmd('STORE 1 +FLAGS ' + '('.repeat(5000) + '\\Seen' + ')'.repeat(5000), 'i'), /^i BAD /);
    // Partial offsets and lengths are number64 (RFC 9051): beyond 2^63 - 1 is BAD.
    assert.match(await c.cmd('FETCH 1 BODY[]<0.9223372036854775808>', 'j'), /^j BAD /);
    assert.match(await c.cmd('FETCH 1 BODY[]<99999999999999999999999.1>', 'k'), /^k BAD /);
    assert.match(await c.cmd('FETCH 1 BODY.PEEK[' + Array(1000).fill('1').join('.') + ']', 'l'), /^l OK /m);
    assert.match(await c.cmd('SEARCH LARGER 99999999999999999999', 'm'), /^m BAD /);
    // Thousands of content keys, each a scan of every message: refused, not run.
    assert.match(await c.cmd('SEARCH ' + 'NOT TEXT zzz '.repeat(2000), 'n'), /^n BAD .*TEXT, BODY and HEADER/);
    assert.match(await c.cmd('SEARCH ' + 'HEADER X-Foo zzz '.repeat(2000), 'o'), /^o BAD /);
    assert.match(await c.cmd('SEARCH ' + 'NOT TEXT zzz '.repeat(10), 'p'), /^\* SEARCH 1\r\np OK /);
    c.close();
    await stillServes(f.port);
  });

  test('mailbox names that are not valid modified UTF-7 or UTF-8 are NO', async () => {
    const c = await RawClient.connect(f.port);
    await c.login();
    assert.match(await c.cmd(Buffer.from('CREATE "\xff\xfe\xc0\x80"', 'latin1'), 'a'), /^a NO /);
    assert.match(await c.cmd('CREATE "&2D3d-"', 'b'), /^b NO /);
    assert.match(await c.cmd('SELECT "&Jjo-&&&AAA-"', 'c'), /^c NO /);
    // Too deep, too long: refused before any superior is created.
    assert.match(await c.cmd('CREATE "' + 'deep/'.repeat(100) + 'y"', 'd'), /^d NO /);
    assert.match(await c.cmd('CREATE "long/' + 'x'.repeat(5000) + '"', 'e'), /^e NO /);
    assert.match(await c.cmd('CREATE src', 'f'), /^f OK /);
    assert.match(await c.cmd('RENAME src "' + 'moved/'.repeat(100) + 'y"', 'g'), /^g NO \[CANNOT\]/);
    const list = await c.cmd('LIST "" "*"', 'h');
    assert.doesNotMatch(list, /"(deep|long|moved)"/);
    c.close();
    await stillServes(f.port);
  });

  test('commands in the wrong state are BAD; AUTHENTICATE with bad base64 is BAD', async () => {
    const c = await RawClient.connect(f.port);
    assert.match(await c.cmd('FETCH 1 FLAGS', 'a'), /^a BAD /);
    assert.match(await c.cmd('IDLE', 'b'), /^b BAD /);
    c.write('c AUTHENTICATE PLAIN\r\n');
    await c.readUntil((s) => s.startsWith('+'));
    c.take();
    c.write('!!!!notbase64@@@\r\n');
    assert.match(await c.waitTagged('c'), /^c BAD /);
    assert.match(await c.cmd('NOOP', 'd'), /^d OK /);
    c.close();
    await stillServes(f.port);
  });
});

describe('a FETCH whose client went away', () => {
  const TOTAL = 40;
  let f: ImapFixture;
  before(async () => {
    f = await startImap();
    for (let i = 0; i < TOTAL; i++) await f.append(message(i === 0 ? 'first' : `m${i}`, 'z'.repeat(1000)));
  });
  after(async () => {
    await f.close();
  });

  test('stops reading the store once the connection has closed', async () => {
    let yielded = 0;
    let reachedThree!: () => void;
    const three = new Promise<void>((r) => (reachedThree = r));
    let openGate!: () => void;
    const gate = new Promise<void>((r) => (openGate = r));
    let finished!: () => void;
    const done = new Promise<void>((r) => (finished = r));
    const real = f.store.mail;
    const mail = overrideMethods<MailStore>(real, {
      readMessages: (async function* (mailboxId: number, uids: readonly number[], wanted: Parameters<MailStore['readMessages']>[2]) {
        if (!wanted.index) {
          yield* real.readMessages(mailboxId, uids, wanted);
          return;
        }
        try {
          for await (const r of real.readMessages(mailboxId, uids, wanted)) {
            if (++yielded === 3) {
              reachedThree();
              await gate;
            }
            yield r;
          }
        } finally {
          finished();
        }
      }) as MailStore['readMessages'],
    });
    const svc = createImapService({ store: withParts(f.store, { mail }), auth: f.auth, logger: silentLogger, hostname: 'imap.test' });
    const { port } = await svc.listen({ host: '127.0.0.1', port: 0, implicitTls: false });
    try {
      const c = await RawClient.connect(port);
      await c.login();
      await c.cmd('SELECT INBOX', 's');
      // Each message's response is ~300 KB: the responses go out one by one, each waiting for the socket.
      c.write('a FETCH 1:* (' + 'BODY.PEEK[TEXT] '.repeat(300) + ')\r\n');
      await three;
      c.close();
      // The close has reached the server once another connection has been served after it.
      const d = await RawClient.connect(port);
      await d.login();
      d.close();
      openGate();
      await done;
      assert.ok(yielded < TOTAL, `the store was read for ${yielded} of ${TOTAL} messages after the client left`);
      await stillServes(port);
    } finally {
      openGate();
      await svc.close();
    }
  });
});
