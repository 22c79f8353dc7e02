/**
 * The IMAP sync against a broken or hostile server (a scripted server on loopback): UIDVALIDITY changed
 * mid-life, UIDNEXT going backwards, FETCH responses for UIDs not asked, no RFC822.SIZE, literals shorter
 * or longer than announced, EXISTS shrinking without EXPUNGE, a server closing after its greeting, an
 * enormous line. Each time: no local message or queued change is lost, the sync ends (never loops), a
 * big body is never held whole, and an error is one clear ClientError.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { tempProfile, engine, sampleMessage, assertMaildir, bigMessage, peakBufferGrowth, PASSWORD_ENV } from './helpers/client.js';
import { startFakeImap, type FakeImap, type HookCall, type HookResult } from './helpers/fake-imap.js';
import { startLineServer } from './helpers/line-server.js';
import { flood, givenUpWith, trickle } from './helpers/flood.js';
import { ClientError } from '../src/client/errors.js';
import type { ImapReport } from '../src/client/imap/syncer.js';
import type { ClientEngine, EngineOptions } from '../src/client/engine.js';

interface World {
  srv: FakeImap;
  e: ClientEngine;
  raws: Buffer[];
  sync: () => Promise<ImapReport>;
  subjects: (folder?: string) => string[];
}

const bodyFetches = (srv: FakeImap): number => srv.log.filter((l) => /UID FETCH .*BODY\.PEEK\[\]/.test(l)).length;

/** INBOX with one, two, three; an account (cache all) synchronised once before `fn` unless `first` is false. */
async function withWorld(fn: (w: World) => Promise<void>, opts: { first?: boolean; raws?: Buffer[]; engine?: Partial<EngineOptions>; caps?: string[] } = {}): Promise<void> {
  const srv = await startFakeImap(opts.caps ? { caps: opts.caps } : {});
  const raws = opts.raws ?? ['one', 'two', 'three'].map((s) => sampleMessage(s));
  for (const r of raws) srv.add('INBOX', r);
  const p = tempProfile();
  const e = engine(p.dir, 'pw', opts.engine);
  try {
    e.addAccount({ name: 'h', protocol: 'imap', host: '127.0.0.1', port: srv.port, user: 'u', password: { kind: 'env', name: PASSWORD_ENV }, cache: 'all' });
    const sync = async (): Promise<ImapReport> => (await e.syncAccount('h')) as ImapReport;
    const subjects = (folder = 'INBOX'): string[] => e.list({ account: 'h', folder }).map((x) => x.summary.subject).sort();
    if (opts.first !== false) await sync();
    await fn({ srv, e, raws, sync, subjects });
  } finally {
    e.close();
    p.cleanup();
    await srv.close();
  }
}

/** Every local INBOX message has its body, byte-identical to the server's message of that subject. */
function assertBodies(w: World): void {
  for (const row of w.e.list({ account: 'h', folder: 'INBOX' })) {
    assert.ok(row.bodyCached && row.filePath, `${row.summary.subject} has its body`);
    const want = w.srv.folders.get('INBOX')?.messages.find((m) => m.raw.includes(`Subject: ${row.summary.subject}\r\n`));
    assert.ok(want && readFileSync(row.filePath).equals(want.raw), `${row.summary.subject} is byte-identical`);
  }
  assertMaildir(w.e.imapFolder('h', 'INBOX').root);
}

/** No body was cached from the broken responses; without the hook the next sync fetches all three. */
async function noBodyThenRecovers(w: World): Promise<void> {
  assert.ok(w.e.list({ account: 'h', folder: 'INBOX' }).every((x) => !x.bodyCached), 'no body cached from the broken response');
  assertMaildir(w.e.imapFolder('h', 'INBOX').root);
  w.srv.hook = undefined;
  const r = await w.sync();
  assert.equal(r.bodiesFetched, 3);
  assertBodies(w);
}

/** The server answers `cmd` a byte now and then: the sync is given up with a NETWORK error matching `message`. */
async function tricklingAt(w: World, cmd: string, message: RegExp): Promise<void> {
  let stop = (): void => undefined;
  w.srv.hook = (c) => {
    if (c.cmd !== cmd) return undefined;
    stop = trickle(c.sock);
    return '* OK ';
  };
  try {
    const err = await givenUpWith(w.sync());
    assert.ok(err instanceof ClientError, String(err));
    assert.equal(err.code, 'NETWORK');
    assert.match(err.message, message);
  } finally {
    stop();
  }
}

const on =
  (cmd: string, match: RegExp, answer: (c: HookCall) => HookResult) =>
  (c: HookCall): HookResult =>
    c.cmd === cmd && match.test(c.args) ? answer(c) : undefined;

test('UIDVALIDITY changed mid-life: the folder is refetched, cached bodies kept (not downloaded); queued changes follow their messages to the new UIDs, one whose message is gone is reported', async () => {
  await withWorld(async (w) => {
    const { srv, e, sync } = w;
    const bySubject = (s: string): number => {
      const row = e.list({ account: 'h', folder: 'INBOX' }).find((x) => x.summary.subject === s);
      assert.ok(row, s);
      return row.id;
    };
    e.flag(bySubject('one'), 'flagged');
    e.delete(bySubject('two'));
    e.flag(bySubject('three'), 'flagged');
    const inbox = srv.folders.get('INBOX');
    assert.ok(inbox);
    inbox.uidValidity = 777;
    // Renumbered, in another order, and 'three' is gone.
    inbox.messages = inbox.messages
      .filter((m) => !m.raw.includes('Subject: three\r\n'))
      .reverse()
      .map((m, i) => ({ ...m, uid: 50 + i }));
    inbox.uidNext = 60;
    const r = await sync();
    assert.deepEqual(r.resets, ['INBOX']);
    assert.equal(r.pushed, 2, 'the flag change of one and the delete of two, at their new UIDs');
    assert.equal(r.conflicts.length, 1, r.conflicts.join(' | '));
    assert.match(r.conflicts[0] as string, /queued flags of UID 3 dropped: the folder was recreated on the server \(UIDVALIDITY changed\) and the message is not in it/);
    assert.equal(e.state.queueSize(), 0);
    const left = srv.folders.get('INBOX')?.messages ?? [];
    assert.equal(left.length, 1);
    assert.ok(left[0]?.raw.includes('Subject: one\r\n') && left[0].flags.has('\\Flagged'), 'one flagged on the server, two deleted');
    assert.deepEqual(w.subjects(), ['one']);
    const [one] = e.list({ account: 'h', folder: 'INBOX' });
    assert.equal(one?.uid, left[0]?.uid);
    assert.ok(one?.flags.includes('\\Flagged'));
    assert.equal(r.relocated, 1, 'the body came from the cache');
    assert.equal(bodyFetches(srv), 1, 'only the first sync downloaded bodies');
    assertBodies(w);
  });
});

test('UIDVALIDITY changed with OBJECTID: a queued change follows its EMAILID, not a look-alike (same Message-ID, size and date)', async () => {
  const twin = sampleMessage('twin');
  await withWorld(
    async (w) => {
      const { srv, e, sync } = w;
      const inbox = srv.folders.get('INBOX');
      assert.ok(inbox);
      const [first, second] = inbox.messages;
      assert.ok(first && second && first.emailId !== second.emailId);
      const local = e.list({ account: 'h', folder: 'INBOX' }).find((x) => x.uid === second.uid);
      assert.ok(local);
      e.flag(local.id, 'flagged');
      inbox.uidValidity = 778;
      inbox.messages = inbox.messages.map((m, i) => ({ ...m, uid: 70 + i }));
      inbox.uidNext = 80;
      const r = await sync();
      assert.equal(r.pushed, 1);
      assert.deepEqual(r.conflicts, []);
      const flagged = inbox.messages.filter((m) => m.flags.has('\\Flagged')).map((m) => m.emailId);
      assert.deepEqual(flagged, [second.emailId]);
    },
    { raws: [twin, twin], caps: ['UIDPLUS', 'MOVE', 'OBJECTID'] },
  );
});

test('UIDNEXT going backwards under the same UIDVALIDITY (UIDs given to other messages): the folder is refetched, not trusted', async () => {
  await withWorld(async (w) => {
    const { srv, sync } = w;
    const inbox = srv.folders.get('INBOX');
    assert.ok(inbox);
    // Restored from an old backup: only UID 1 survives, and a new message gets UID 2 again.
    inbox.messages = inbox.messages.slice(0, 1);
    inbox.uidNext = 2;
    srv.add('INBOX', sampleMessage('impostor'));
    const r = await sync();
    assert.deepEqual(r.resets, ['INBOX']);
    assert.deepEqual(w.subjects(), ['impostor', 'one'], 'UID 2 is the new message, not the cached "two"');
    assertBodies(w);
    const again = await sync();
    assert.deepEqual(again.resets, [], 'a sane UIDNEXT afterwards: no more resets');
  });
});

const FOUR = ['one', 'two', 'three', 'four'].map((s) => sampleMessage(s));

test('UIDNEXT gone backwards with changes queued: none is applied to the message that took its UID; one whose message is still there follows it', async () => {
  await withWorld(async (w) => {
    const { srv, e, sync } = w;
    const inbox = srv.folders.get('INBOX');
    assert.ok(inbox);
    const id = (subject: string): number => (e.list({ account: 'h', folder: 'INBOX' }).find((x) => x.summary.subject === subject) as { id: number }).id;
    e.flag(id('one'), 'flagged');
    e.flag(id('two'), 'flagged');
    e.delete(id('three'));
    e.flag(id('four'), 'seen');
    const [one, two] = inbox.messages;
    assert.ok(one && two);
    // Restored from an old backup under the same UIDVALIDITY: only "one" kept its UID; a new message took
    // UID 2, "two" came back as UID 3 (the UID "three" had), "three" is gone; UIDNEXT 4 is not above our UID 4.
    inbox.messages = [one];
    inbox.uidNext = 2;
    srv.add('INBOX', sampleMessage('impostor'));
    srv.add('INBOX', two.raw, { internalDate: two.internalDate, emailId: two.emailId });
    const r = await sync();
    assert.deepEqual(r.resets, ['INBOX']);
    assert.equal(r.pushed, 2, `the flag changes of one (UID 1) and two (now UID 3): ${JSON.stringify(r)}`);
    assert.equal(r.conflicts.length, 2, r.conflicts.join(' | '));
    assert.match(r.conflicts[0] as string, /queued delete of UID 3 dropped: .*UIDNEXT/);
    assert.match(r.conflicts[1] as string, /queued flags of UID 4 dropped: .*UIDNEXT/);
    assert.equal(e.state.queueSize(), 0);
    const flags = Object.fromEntries(inbox.messages.map((m) => [m.raw.toString('latin1').match(/Subject: (\w+)/)?.[1], [...m.flags].join(' ')]));
    assert.deepEqual(flags, { one: '\\Flagged', impostor: '', two: '\\Flagged' }, 'the impostor at UID 2 is neither flagged nor deleted');
    assert.deepEqual(w.subjects(), ['impostor', 'one', 'two']);
    const again = await sync();
    assert.deepEqual([again.resets, again.pushed, again.conflicts], [[], 0, []]);
  }, { raws: FOUR });
});

test('UIDNEXT gone backwards: a remapped change the server refuses for now stays queued at its new UID and goes out next time', async () => {
  await withWorld(async (w) => {
    const { srv, e, sync } = w;
    const inbox = srv.folders.get('INBOX');
    assert.ok(inbox);
    const two = inbox.messages[1];
    assert.ok(two);
    e.flag((e.list({ account: 'h', folder: 'INBOX' }).find((x) => x.summary.subject === 'two') as { id: number }).id, 'flagged');
    inbox.messages = inbox.messages.slice(0, 1);
    inbox.uidNext = 2;
    srv.add('INBOX', sampleMessage('impostor'));
    srv.add('INBOX', two.raw, { internalDate: two.internalDate, emailId: two.emailId });
    srv.hook = (c) => (c.cmd === 'UID STORE' ? `${c.tag} NO [UNAVAILABLE] later\r\n` : undefined);
    const r = await sync();
    assert.deepEqual([r.resets, r.pushed, r.conflicts], [['INBOX'], 0, []]);
    assert.match(r.deferred.join(' | '), /flag change of UID 3 was refused for now/);
    assert.equal(e.state.queueSize(), 1);
    srv.hook = undefined;
    const again = await sync();
    assert.deepEqual([again.resets, again.pushed, again.conflicts], [[], 1, []]);
    assert.deepEqual(inbox.messages.map((m) => [...m.flags].join(' ')), ['', '', '\\Flagged'], 'two, at UID 3, is flagged; the impostor is not');
  }, { raws: FOUR });
});

test('UIDs reused after a restore though UIDNEXT is back where it was: the queued change is not sent to the message now at its UID', async () => {
  await withWorld(async (w) => {
    const { srv, e, sync } = w;
    const inbox = srv.folders.get('INBOX');
    assert.ok(inbox);
    const [one, two] = inbox.messages;
    assert.ok(one && two);
    e.flag((e.list({ account: 'h', folder: 'INBOX' }).find((x) => x.summary.subject === 'two') as { id: number }).id, 'flagged');
    e.delete((e.list({ account: 'h', folder: 'INBOX' }).find((x) => x.summary.subject === 'three') as { id: number }).id);
    // UIDNEXT went back to 2 and two messages arrived since: it is 4 again, as we last saw it.
    inbox.messages = [one];
    inbox.uidNext = 2;
    srv.add('INBOX', sampleMessage('impostor'));
    srv.add('INBOX', two.raw, { internalDate: two.internalDate, emailId: two.emailId });
    assert.equal(inbox.uidNext, 4);
    const r = await sync();
    assert.deepEqual(r.resets, ['INBOX']);
    assert.equal(r.pushed, 1, JSON.stringify(r));
    assert.equal(r.conflicts.length, 1, r.conflicts.join(' | '));
    assert.match(r.conflicts[0] as string, /queued delete of UID 3 dropped: the server gave a UID we hold to another message/);
    assert.deepEqual(inbox.messages.map((m) => [m.uid, [...m.flags].join(' ')]), [[1, ''], [2, ''], [3, '\\Flagged']], 'two (UID 3) flagged and kept; the impostor untouched');
    assert.deepEqual(w.subjects(), ['impostor', 'one', 'two']);
  });
});

test('FETCH responses for UIDs not asked for are ignored: no extra row, no body under the wrong message', async () => {
  await withWorld(
    async (w) => {
      const stray = (c: HookCall): HookResult => {
        const normal = c.normal();
        const extra = `* 9 FETCH (UID 99 FLAGS () RFC822.SIZE 5 INTERNALDATE "07-Dec-2026 10:00:00 +0000" ENVELOPE (NIL "stray" NIL NIL NIL NIL NIL NIL NIL NIL) BODYSTRUCTURE ("TEXT" "PLAIN" NIL NIL NIL "7BIT" 5 1) BODY[] {5}\r\nstray)\r\n* 1 FETCH (UID 3 BODY[] {5}\r\nwrong)\r\n`;
        return [extra, normal];
      };
      w.srv.hook = (c) => (c.cmd === 'UID FETCH' && /ENVELOPE|BODY\.PEEK\[\]/.test(c.args) && !/^3 /.test(c.args) ? stray(c) : undefined);
      const r = await w.sync();
      assert.equal(r.newHeaders, 3);
      assert.deepEqual(w.subjects(), ['one', 'three', 'two']);
      assertBodies(w);
    },
    { first: false },
  );
});

test('no RFC822.SIZE: a 3 MB body is streamed in partial FETCHes and its size recorded from the file', async () => {
  const big = bigMessage('no size', 3_000_000);
  await withWorld(
    async (w) => {
      w.srv.hook = on('UID FETCH', /ENVELOPE/, (c) => String(c.normal()).replace(/ RFC822\.SIZE \d+/g, ''));
      await w.sync();
      assert.ok(w.srv.log.some((l) => /BODY\.PEEK\[\]<1048576\.1048576>/.test(l)), 'fetched in windows');
      const [row] = w.e.list({ account: 'h', folder: 'INBOX' }).filter((x) => x.summary.subject === 'no size');
      assert.equal(row?.size, big.length);
      assertBodies(w);
    },
    { first: false, raws: [big, sampleMessage('small')] },
  );
});

test('a literal shorter than announced, then the connection closes: NETWORK error, nothing cached wrongly, the next sync completes', async () => {
  await withWorld(
    async (w) => {
      w.srv.hook = on('UID FETCH', /BODY\.PEEK\[\]/, (c) => {
        setTimeout(() => c.sock.destroy(), 50);
        return `* 1 FETCH (UID 1 BODY[] {5000}\r\nonly a few bytes)\r\n${c.tag} OK done\r\n`;
      });
      await assert.rejects(w.sync(), (err: ClientError) => err instanceof ClientError && err.code === 'NETWORK');
      await noBodyThenRecovers(w);
    },
    { first: false },
  );
});

test('a literal longer than announced: the few bytes announced are not cached as the message; the next sync completes', async () => {
  await withWorld(
    async (w) => {
      w.srv.hook = on('UID FETCH', /BODY\.PEEK\[\]/, (c) => `* 1 FETCH (UID 1 BODY[] {4}\r\nmore bytes than announced)\r\n${c.tag} OK done\r\n`);
      // The parser may take the rest as junk atoms or fail: either way one clear error or a finished sync.
      const r = await w.sync().catch((err: unknown) => {
        assert.ok(err instanceof ClientError, String(err));
        assert.ok(!/\n/.test(err.message), 'one line');
        return null;
      });
      if (r) assert.equal(r.bodiesFetched, 0);
      assert.ok(w.e.list({ account: 'h', folder: 'INBOX' }).every((x) => !x.bodyCached));
      assertMaildir(w.e.imapFolder('h', 'INBOX').root);
      w.srv.hook = undefined;
      await w.sync();
      assertBodies(w);
    },
    { first: false },
  );
});

test('EXISTS shrinking without EXPUNGE: the listing decides, no message lost locally', async () => {
  await withWorld(async (w) => {
    w.srv.add('INBOX', sampleMessage('four'));
    w.srv.hook = on('UID FETCH', /^1:\* \(UID FLAGS\)/, (c) => ['* 1 EXISTS\r\n', c.normal()]);
    const r = await w.sync();
    assert.deepEqual(r.failed, []);
    assert.deepEqual(w.subjects(), ['four', 'one', 'three', 'two']);
    assertBodies(w);
  });
});

test('a server that closes right after its greeting: one clear NETWORK error, at once', async () => {
  const srv = await startLineServer((w, sock) => {
    w('* OK [CAPABILITY IMAP4rev1] hello\r\n');
    setImmediate(() => sock.destroy());
    return () => undefined;
  });
  const p = tempProfile();
  const e = engine(p.dir, 'pw');
  try {
    e.addAccount({ name: 'c', protocol: 'imap', host: '127.0.0.1', port: srv.port, user: 'u', password: { kind: 'env', name: PASSWORD_ENV } });
    await assert.rejects(e.syncAccount('c'), (err: ClientError) => {
      assert.ok(err instanceof ClientError);
      assert.match(err.code, /NETWORK|UNREACHABLE/);
      assert.match(err.message, /127\.0\.0\.1/);
      return true;
    });
  } finally {
    e.close();
    p.cleanup();
    await srv.close();
  }
});

test('an enormous line (64 MB without CRLF) is refused past the line limit: a clear error, never held whole', async () => {
  await withWorld(async (w) => {
    const [row] = w.e.list({ account: 'h', folder: 'INBOX' });
    assert.ok(row);
    w.e.flag(row.id, 'seen');
    w.srv.hook = on('UID FETCH', /^1:\*/, (c) => {
      flood(c.sock, '* OK ', Buffer.alloc(1024 * 1024, 0x78), 64 * 1024 * 1024);
      return '';
    });
    const growth = await peakBufferGrowth(() =>
      assert.rejects(w.sync(), (err: ClientError) => {
        assert.ok(err instanceof ClientError, String(err));
        assert.equal(err.code, 'PROTOCOL');
        assert.match(err.message, /over the client's limits.*Line length/);
        return true;
      }),
    );
    assert.ok(growth < 48 * 1024 * 1024, `at most the 16 MB line limit and buffers are held, not 64 MB (${growth} bytes)`);
    assert.equal(w.e.list({ account: 'h', folder: 'INBOX' }).length, 3, 'no local message lost');
    assert.equal(w.e.state.queueSize(), 0, 'the flag change was pushed before the listing broke');
    w.srv.hook = undefined;
    await w.sync();
    assertBodies(w);
  });
});

test('partial FETCH windows that never end (every range answered in full): the download stops at twice the size, nothing cached', async () => {
  const big = bigMessage('endless windows', 1_500_000);
  await withWorld(
    async (w) => {
      w.srv.hook = on('UID FETCH', /BODY\.PEEK\[\]<\d+\.\d+>/, (c) => {
        const [, start, len] = /<(\d+)\.(\d+)>/.exec(c.args) ?? [];
        return [`* 1 FETCH (UID 1 BODY[]<${start}> {${len}}\r\n`, Buffer.alloc(Number(len), 0x61), `)\r\n${c.tag} OK done\r\n`];
      });
      const r = await w.sync();
      const windows = w.srv.log.filter((l) => /BODY\.PEEK\[\]</.test(l)).length;
      assert.ok(windows <= 5, `at most 2 x 1.5 MB + 1 MB in 1 MB windows (${windows})`);
      assert.equal(r.bodiesFetched, 1, 'the small message only');
      const rows = w.e.list({ account: 'h', folder: 'INBOX' });
      assert.deepEqual(rows.filter((x) => x.bodyCached).map((x) => x.summary.subject), ['small']);
      assertMaildir(w.e.imapFolder('h', 'INBOX').root);
    },
    { first: false, raws: [big, sampleMessage('small')] },
  );
});

test('a server trickling a byte now and then (never idle long enough for the socket timeout) is given up: NETWORK error naming the account; bodies and the queue kept', async () => {
  await withWorld(
    async (w) => {
      const { srv, e } = w;
      const [row] = e.list({ account: 'h', folder: 'INBOX' });
      assert.ok(row);
      e.flag(row.id, 'flagged');
      await tricklingAt(w, 'UID STORE', /^account h: 127\.0\.0\.1:\d+ sent \d+ bytes in \d+ s while a command was outstanding/);
      assert.equal(e.state.queueSize(), 1, 'the flag change stays queued');
      assertBodies(w);
      srv.hook = undefined;
      const r = await w.sync();
      assert.equal(r.pushed, 1);
      assert.equal(e.state.queueSize(), 0);
      assert.ok(srv.folders.get('INBOX')?.messages.some((m) => m.flags.has('\\Flagged')));
    },
    { engine: { stall: { windowMs: 2000, minBytes: 4096 } } },
  );
});

test('bodies far longer than their RFC822.SIZE (2 MB literals for ~300-byte messages): PROTOCOL error at the batch bound, nothing cached as the message', async () => {
  await withWorld(
    async (w) => {
      const junk = Buffer.alloc(2 * 1024 * 1024, 0x61);
      let sent = 0;
      w.srv.hook = on('UID FETCH', /BODY\.PEEK\[\]/, (c) => {
        const parts: Array<string | Buffer> = [];
        for (let uid = 1; uid <= 3; uid++) parts.push(`* ${uid} FETCH (UID ${uid} BODY[] {${junk.length}}\r\n`, junk, ')\r\n');
        sent++;
        return [...parts, `${c.tag} OK done\r\n`];
      });
      await assert.rejects(w.sync(), (err: ClientError) => {
        assert.ok(err instanceof ClientError, String(err));
        assert.equal(err.code, 'PROTOCOL');
        assert.match(err.message, /account h: .* sent more than \d+ bytes for a FETCH of 3 bodies announced at \d+ bytes in INBOX/);
        return true;
      });
      assert.equal(sent, 1);
      assert.equal(w.e.list({ account: 'h', folder: 'INBOX' }).length, 3, 'the headers are kept');
      await noBodyThenRecovers(w);
    },
    { first: false },
  );
});

test('a server trickling its LOGIN answer is given up too: NETWORK error naming the account', async () => {
  await withWorld(
    async (w) => {
      await tricklingAt(w, 'LOGIN', /^account h: 127\.0\.0\.1:\d+ did not finish the connection and login within 2 s/);
    },
    { first: false, engine: { stall: { windowMs: 2000, minBytes: 4096 } } },
  );
});
