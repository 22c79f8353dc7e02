/**
 * The client engine against a private Dovecot under conditions a real user hits: connections dropped
 * mid-RETR and mid-FETCH (through a cutting proxy), wrong passwords, huge messages, big maildrops, folders
 * renamed on the server under pending local changes, and flags changed on both sides.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ImapFlow } from 'imapflow';
import { startDovecot, dovecotAvailable, type Dovecot } from '../support/dovecot.js';
import { tempProfile, engine, sampleMessage, assertMaildir, PASSWORD_ENV, dovecotSession, dovecotCount, peakBufferGrowth, bigMessage } from './helpers/client.js';
import { startCutProxy, type CutProxy } from './helpers/cut-proxy.js';
import { ClientError } from '../src/client/errors.js';
import type { Pop3Report } from '../src/client/pop3/fetch.js';
import type { ImapReport } from '../src/client/imap/syncer.js';
import type { ClientEngine } from '../src/client/engine.js';

const skip = dovecotAvailable();
const PW = 'secret';
const USERS = ['xa', 'xb', 'xc', 'xd', 'xe', 'xf', 'xg', 'xh', 'xi', 'xj'].map((user) => ({ user, password: PW }));

const other = (dc: Dovecot, user: string): Promise<ImapFlow> => dovecotSession(dc, user, PW);
const serverCount = dovecotCount;

/** Every local message of the account is byte-identical to exactly one of `msgs`, and each appears once. */
function assertExactCopies(e: ClientEngine, account: string, msgs: Buffer[], folder?: string): void {
  const rows = e.list({ account, ...(folder ? { folder } : {}) });
  assert.equal(rows.length, msgs.length, 'one row per message');
  const seen = new Set<number>();
  for (const row of rows) {
    assert.ok(row.filePath, `message ${row.summary.subject} has its body`);
    const raw = readFileSync(row.filePath);
    const k = msgs.findIndex((m) => m.equals(raw));
    assert.ok(k >= 0, `message ${row.summary.subject} is byte-identical to one delivered`);
    assert.ok(!seen.has(k), `message ${row.summary.subject} is stored once`);
    seen.add(k);
  }
}

describe('client under adverse conditions (Dovecot)', { skip: skip ?? false }, () => {
  let dc: Dovecot;
  let pop3Proxy: CutProxy;
  let imapProxy: CutProxy;
  const cleanups: Array<() => void> = [];
  before(async () => {
    dc = await startDovecot({ users: USERS });
    pop3Proxy = await startCutProxy(dc.pop3Port);
    imapProxy = await startCutProxy(dc.imapPort);
  });
  after(async () => {
    for (const c of cleanups) c();
    await pop3Proxy?.close();
    await imapProxy?.close();
    await dc?.stop();
  });
  const profile = (): string => {
    const p = tempProfile();
    cleanups.push(p.cleanup);
    return p.dir;
  };
  const account = (protocol: 'pop3' | 'imap', user: string, extra: Record<string, unknown> = {}) => ({
    name: user,
    protocol,
    host: '127.0.0.1',
    port: protocol === 'pop3' ? pop3Proxy.port : imapProxy.port,
    user,
    password: { kind: 'env' as const, name: PASSWORD_ENV },
    ...extra,
  });

  test('POP3: the connection dropped mid-RETR; the next run fetches the rest, nothing lost or duplicated', async () => {
    const msgs = Array.from({ length: 12 }, (_, i) => bigMessage(`pop ${i}`, 30_000));
    for (const m of msgs) await dc.deliver('xa', m);
    const e = engine(profile(), PW);
    try {
      e.addAccount(account('pop3', 'xa'));
      pop3Proxy.cutNextAfter = 200_000;
      await assert.rejects(e.syncAccount('xa'), (err: ClientError) => err.code === 'NETWORK');
      const stored = e.list({ account: 'xa' }).length;
      assert.ok(stored > 0 && stored < 12, `some messages were stored before the drop (${stored})`);
      assert.equal(await serverCount(dc, 'xa'), 12, 'no DELE was committed');
      const r = (await e.syncAccount('xa')) as Pop3Report;
      assert.equal(r.downloaded, 12 - stored);
      assert.equal(await serverCount(dc, 'xa'), 0);
      assertExactCopies(e, 'xa', msgs);
      assert.equal(assertMaildir(e.inbox.root), 12, 'no file left in tmp/');
    } finally {
      e.close();
    }
  });

  test('IMAP: the connection dropped mid-FETCH of bodies; the next sync fetches the rest, nothing lost or duplicated', async () => {
    const msgs = Array.from({ length: 30 }, (_, i) => bigMessage(`imap ${i}`, 20_000));
    for (const m of msgs) await dc.deliver('xb', m);
    const e = engine(profile(), PW);
    try {
      e.addAccount(account('imap', 'xb', { cache: 'all' }));
      imapProxy.cutNextAfter = 300_000;
      await assert.rejects(e.syncAccount('xb'), (err: ClientError) => err.code === 'NETWORK');
      const r = (await e.syncAccount('xb')) as ImapReport;
      assert.deepEqual(r.failed, []);
      assertExactCopies(e, 'xb', msgs);
      assert.equal(assertMaildir(e.imapFolder('xb', 'INBOX').root), 30, 'no half-fetched file left in tmp/');
      const again = (await e.syncAccount('xb')) as ImapReport;
      assert.equal(again.newHeaders + again.bodiesFetched, 0);
    } finally {
      e.close();
    }
  });

  test('wrong password: one AUTH error per account, one connection each, no retries', async () => {
    const e = engine(profile(), 'not the password');
    try {
      e.addAccount(account('pop3', 'xc'));
      e.addAccount(account('imap', 'xc', { name: 'xc-imap' }));
      const p0 = pop3Proxy.connections;
      const i0 = imapProxy.connections;
      const res = await e.sync(['xc', 'xc-imap']);
      for (const r of res) {
        assert.equal(r.ok, false);
        if (!r.ok) {
          assert.equal(r.error.code, 'AUTH', r.error.message);
          assert.match(r.error.message, /wrong user name or password/);
        }
      }
      assert.equal(pop3Proxy.connections - p0, 1, 'POP3: a single connection');
      assert.equal(imapProxy.connections - i0, 1, 'IMAP: a single connection');
    } finally {
      e.close();
    }
  });

  test('watch with a wrong password: the failure is reported, IDLE is not retried over and over', async () => {
    const e = engine(profile(), 'not the password');
    try {
      e.addAccount(account('imap', 'xi'));
      const c0 = imapProxy.connections;
      const ac = new AbortController();
      const results: string[] = [];
      const stop = setTimeout(() => ac.abort(), 8000);
      await e.watch({ signal: ac.signal, pollSeconds: 3600, onSync: (r) => results.push(...r.map((x) => (x.ok ? 'ok' : x.error.code))) });
      clearTimeout(stop);
      assert.deepEqual(results, ['AUTH']);
      assert.equal(imapProxy.connections - c0, 2, 'one sync and one IDLE attempt in 8 s');
    } finally {
      e.close();
    }
  });

  test('POP3: a 25 MB message is stored byte-exact without being held whole in memory', async () => {
    const big = bigMessage('huge pop', 25 * 1024 * 1024);
    const small = sampleMessage('small pop');
    await dc.deliver('xd', small);
    await dc.deliver('xd', big);
    const e = engine(profile(), PW);
    try {
      e.addAccount(account('pop3', 'xd', { leaveOnServer: true }));
      pop3Proxy.cutNextAfter = 5 * 1024 * 1024;
      await assert.rejects(e.syncAccount('xd'), (err: ClientError) => err.code === 'NETWORK');
      assert.equal(assertMaildir(e.inbox.root), 1, 'the small message is kept; nothing of the cut one is left in tmp/');
      let r: Pop3Report | undefined;
      const growth = await peakBufferGrowth(async () => {
        r = (await e.syncAccount('xd')) as Pop3Report;
      });
      assert.equal(r?.downloaded, 1);
      assertExactCopies(e, 'xd', [small, big]);
      const row = e.list({ account: 'xd' }).find((x) => x.summary.subject === 'huge pop');
      assert.equal(row?.size, big.length);
      assert.ok(growth < 12 * 1024 * 1024, `peak buffer memory grew by ${Math.round(growth / 1048576)} MB for a 25 MB message`);
    } finally {
      e.close();
    }
  });

  test('IMAP: a 25 MB message is cached byte-exact without being held whole in memory', async () => {
    const big = bigMessage('huge imap', 25 * 1024 * 1024);
    const small = sampleMessage('small imap');
    await dc.deliver('xe', small);
    await dc.deliver('xe', big);
    const e = engine(profile(), PW);
    try {
      e.addAccount(account('imap', 'xe', { cache: 'all' }));
      imapProxy.cutNextAfter = 5 * 1024 * 1024;
      await assert.rejects(e.syncAccount('xe'), (err: ClientError) => err.code === 'NETWORK');
      assert.equal(assertMaildir(e.imapFolder('xe', 'INBOX').root), 1, 'the small body is kept; nothing of the cut one is left in tmp/');
      let r: ImapReport | undefined;
      const growth = await peakBufferGrowth(async () => {
        r = (await e.syncAccount('xe')) as ImapReport;
      });
      assert.equal(r?.bodiesFetched, 1);
      assertExactCopies(e, 'xe', [small, big]);
      assert.ok(growth < 12 * 1024 * 1024, `peak buffer memory grew by ${Math.round(growth / 1048576)} MB for a 25 MB message`);
    } finally {
      e.close();
    }
  });

  test('a maildrop of 5,000 messages: POP3 leave-a-copy and IMAP headers, each fetched once', async () => {
    const n = 5000;
    for (let i = 0; i < n; i++) await dc.deliver('xf', sampleMessage(`bulk ${i}`));
    const e = engine(profile(), PW, { fsync: false });
    try {
      e.addAccount(account('pop3', 'xf', { leaveOnServer: true }));
      e.addAccount(account('imap', 'xf', { name: 'xf-imap' }));
      let t = Date.now();
      const p = (await e.syncAccount('xf')) as Pop3Report;
      const popMs = Date.now() - t;
      assert.equal(p.downloaded, n);
      t = Date.now();
      const i = (await e.syncAccount('xf-imap')) as ImapReport;
      const imapMs = Date.now() - t;
      assert.equal(i.newHeaders, n);
      assert.equal(((await e.syncAccount('xf')) as Pop3Report).downloaded, 0);
      assert.equal(((await e.syncAccount('xf-imap')) as ImapReport).newHeaders, 0);
      assert.equal(e.list({ account: 'xf' }).length, n);
      assert.equal(new Set(e.list({ account: 'xf-imap' }).map((r) => r.uid)).size, n);
      assert.ok(popMs < 60_000 && imapMs < 60_000, `POP3 ${popMs} ms, IMAP ${imapMs} ms`);
    } finally {
      e.close();
    }
  });

  test('a folder renamed on the server while local changes to it are pending: reported, nothing lost on the server', async () => {
    const c = await other(dc, 'xg');
    try {
      await c.mailboxCreate('Projects');
      await c.append('Projects', sampleMessage('in projects'));
      await c.append('INBOX', sampleMessage('in inbox'));
    } finally {
      await c.logout();
    }
    const e = engine(profile(), PW);
    try {
      e.addAccount(account('imap', 'xg'));
      await e.syncAccount('xg');
      const proj = e.list({ account: 'xg', folder: 'Projects' });
      assert.equal(proj.length, 1);
      e.flag((proj[0] as { id: number }).id, 'flagged');
      const inbox = e.list({ account: 'xg', folder: 'INBOX' })[0] as { id: number };
      e.move(inbox.id, 'Projects');
      const c2 = await other(dc, 'xg');
      try {
        await c2.mailboxRename('Projects', 'Archive');
      } finally {
        await c2.logout();
      }
      const r = (await e.syncAccount('xg')) as ImapReport;
      assert.ok(r.conflicts.length >= 1, `conflicts reported: ${r.conflicts.join(' | ')}`);
      const paths = e.folders('xg').map((f) => f.path);
      assert.ok(paths.includes('Archive') && !paths.includes('Projects'), `folders: ${paths.join(', ')}`);
      assert.equal(e.state.queueSize(), 0);
      // The server still has both messages; locally each shows up once, where the server has it.
      assert.equal(await serverCount(dc, 'xg', 'Archive'), 1);
      assert.equal(await serverCount(dc, 'xg', 'INBOX'), 1);
      assert.deepEqual(e.list({ account: 'xg', folder: 'Archive' }).map((x) => x.summary.subject), ['in projects']);
      assert.deepEqual(e.list({ account: 'xg', folder: 'INBOX' }).map((x) => x.summary.subject), ['in inbox']);
    } finally {
      e.close();
    }
  });

  test('UIDVALIDITY changed while local changes are pending: they follow their messages to the new UIDs and are replayed, the folder refetched', async () => {
    await dc.deliver('xj', sampleMessage('validity 1'));
    await dc.deliver('xj', sampleMessage('validity 2'));
    const e = engine(profile(), PW);
    try {
      e.addAccount(account('imap', 'xj'));
      await e.syncAccount('xj');
      const rows0 = e.list({ account: 'xj' });
      const a = rows0.find((x) => x.summary.subject === 'validity 1');
      const b = rows0.find((x) => x.summary.subject === 'validity 2');
      assert.ok(a && b);
      e.flag(a.id, 'flagged');
      e.delete(b.id);
      const st = e.state.getFolder('xj', 'INBOX');
      await dc.doveadm(['mailbox', 'update', '-u', 'xj', '--uid-validity', String(Number(st?.uidValidity) + 7), 'INBOX']);
      const r = (await e.syncAccount('xj')) as ImapReport;
      assert.deepEqual(r.conflicts, []);
      assert.equal(r.pushed, 2);
      assert.deepEqual(r.resets, ['INBOX']);
      assert.equal(e.state.queueSize(), 0);
      assert.equal(await serverCount(dc, 'xj'), 1, 'the delete reached the message it was meant for');
      const rows = e.list({ account: 'xj' });
      assert.deepEqual(rows.map((x) => x.summary.subject), ['validity 1']);
      assert.ok(rows[0]?.flags.includes('\\Flagged'), 'the flag change was replayed');
    } finally {
      e.close();
    }
  });

  test('flags changed on both sides: merged flag by flag; for the same flag the local change wins', async () => {
    const c = await other(dc, 'xh');
    try {
      await c.append('INBOX', sampleMessage('both sides'), ['\\Flagged']);
    } finally {
      await c.logout();
    }
    const e = engine(profile(), PW);
    try {
      e.addAccount(account('imap', 'xh'));
      await e.syncAccount('xh');
      const row = e.list({ account: 'xh' })[0] as { id: number };
      e.flag(row.id, 'unflagged'); // local: remove \Flagged
      e.flag(row.id, 'seen'); // local: add \Seen
      const c2 = await other(dc, 'xh');
      try {
        await c2.mailboxOpen('INBOX');
        await c2.messageFlagsAdd('1:*', ['\\Answered', '\\Flagged']); // server: add \Answered, \Flagged again
        await c2.messageFlagsRemove('1:*', ['\\Seen']);
      } finally {
        await c2.logout();
      }
      await e.syncAccount('xh');
      assert.deepEqual(e.message(row.id).flags, ['\\Answered', '\\Seen']);
      const c3 = await other(dc, 'xh');
      try {
        await c3.mailboxOpen('INBOX');
        const m = await c3.fetchOne('1', { flags: true });
        assert.deepEqual([...((m && m.flags) || [])].sort(), ['\\Answered', '\\Seen']);
      } finally {
        await c3.logout();
      }
    } finally {
      e.close();
    }
  });
});
