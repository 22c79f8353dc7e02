/**
 * The client engine against mailroom's own IMAP and POP3 servers (in-process, SQLite store): the same
 * workflows as against Dovecot (test/client-dovecot.test.ts), so both ends are proven on the wire.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImapFlow } from 'imapflow';
import { createImapService } from '../src/imap-server/index.js';
import { createPop3Service } from '../src/pop3-server/index.js';
import { openServerStore } from '../src/server/store.js';
import { Authenticator } from '../src/auth/index.js';
import type { Store } from '../src/store/handle.js';
import type { NetService } from '../src/lib/service.js';
import { tempProfile, engine, sampleMessage, assertMaildir, PASSWORD_ENV } from './helpers/client.js';
import type { Pop3Report } from '../src/client/pop3/fetch.js';
import type { ImapReport } from '../src/client/imap/syncer.js';

const PW = 'secret';
const DOMAIN = 'example.org';
const NAMES = ['mp1', 'mp2', 'mp3', 'mi1', 'mi2', 'mi3', 'mi4', 'mi5', 'mu1', 'mu2', 'mu3', 'mw1', 'mw2'];
const addr = (n: string): string => `${n}@${DOMAIN}`;

describe('client against mailroom servers', () => {
  let dir: string;
  let store: Store;
  let imap: NetService;
  let auth: Authenticator;
  let pop3: NetService;
  let imapPort = 0;
  let pop3Port = 0;
  const cleanups: Array<() => void> = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mailroom-client-srv-'));
    store = await openServerStore({ dataDir: dir });
    await store.directory.addDomain(DOMAIN);
    for (const n of NAMES) await store.directory.createUser(addr(n), `{PLAIN}${PW}`);
    auth = new Authenticator(store.directory, { failureDelayMs: 0 });
    imap = createImapService({ store, auth, hostname: 'imap.test' });
    pop3 = createPop3Service({ store, auth, hostname: 'pop.test' });
    imapPort = (await imap.listen({ host: '127.0.0.1', port: 0, implicitTls: false })).port;
    pop3Port = (await pop3.listen({ host: '127.0.0.1', port: 0, implicitTls: false })).port;
  });
  after(async () => {
    for (const c of cleanups) c();
    await imap?.close();
    await pop3?.close();
    await store?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const other = async (n: string): Promise<ImapFlow> => {
    const c = new ImapFlow({ host: '127.0.0.1', port: imapPort, secure: false, doSTARTTLS: false, auth: { user: addr(n), pass: PW }, logger: false, disableAutoIdle: true });
    await c.connect();
    return c;
  };
  const deliver = async (n: string, ...raws: Buffer[]): Promise<void> => {
    const c = await other(n);
    for (const r of raws) await c.append('INBOX', r);
    await c.logout();
  };
  const subjects = async (n: string, folder = 'INBOX'): Promise<Array<[string, boolean, boolean]>> => {
    const c = await other(n);
    await c.mailboxOpen(folder);
    const out = (await c.fetchAll('1:*', { uid: true, flags: true, envelope: true })).map(
      (m) => [m.envelope?.subject ?? '', m.flags?.has('\\Seen') ?? false, m.flags?.has('\\Flagged') ?? false] as [string, boolean, boolean],
    );
    await c.logout();
    return out.sort();
  };
  const profile = (): string => {
    const p = tempProfile();
    cleanups.push(p.cleanup);
    return p.dir;
  };
  const acct = (protocol: 'pop3' | 'imap', n: string, extra: Record<string, unknown> = {}) => ({
    name: n,
    protocol,
    host: '127.0.0.1',
    port: protocol === 'pop3' ? pop3Port : imapPort,
    user: addr(n),
    password: { kind: 'env' as const, name: PASSWORD_ENV },
    ...extra,
  });

  test('POP3 download-and-delete, byte-exact', async () => {
    const msgs = [sampleMessage('mr one'), sampleMessage('mr two')];
    await deliver('mp1', ...msgs);
    const e = engine(profile(), PW);
    try {
      e.addAccount(acct('pop3', 'mp1'));
      const r = (await e.syncAccount('mp1')) as Pop3Report;
      assert.equal(r.downloaded, 2);
      assert.equal(r.deletedOnServer, 2);
      assert.deepEqual(await subjects('mp1'), []);
      assert.equal(assertMaildir(e.inbox.root), 2);
      for (const row of e.list({ account: 'mp1' })) {
        const { raw } = await e.read(row.id, { peek: true });
        assert.ok(msgs.some((m) => m.equals(raw)), 'byte-identical');
      }
    } finally {
      e.close();
    }
  });

  test('POP3 leave a copy across runs, then leave N days', async () => {
    await deliver('mp2', sampleMessage('stay 1'), sampleMessage('stay 2'));
    const dir2 = profile();
    const t0 = Date.now();
    let e = engine(dir2, PW, { now: () => t0 });
    e.addAccount(acct('pop3', 'mp2', { leaveOnServer: true, keepDays: 2 }));
    assert.equal(((await e.syncAccount('mp2')) as Pop3Report).downloaded, 2);
    assert.equal(((await e.syncAccount('mp2')) as Pop3Report).downloaded, 0, 'nothing fetched twice');
    assert.equal((await subjects('mp2')).length, 2);
    e.close();
    e = engine(dir2, PW, { now: () => t0 + 3 * 86_400_000 });
    try {
      const r = (await e.syncAccount('mp2')) as Pop3Report;
      assert.equal(r.downloaded, 0);
      assert.equal(r.deletedOnServer, 2);
      assert.deepEqual(await subjects('mp2'), []);
      assert.equal(e.list({ account: 'mp2' }).length, 2);
    } finally {
      e.close();
    }
  });

  test('IMAP headers-only sync, on-demand read, offline changes replayed, conflict reported', async () => {
    const m1 = sampleMessage('r1');
    await deliver('mi1', m1, sampleMessage('r2'), sampleMessage('r3'), sampleMessage('r4'));
    const e = engine(profile(), PW);
    try {
      e.addAccount(acct('imap', 'mi1'));
      const r = (await e.syncAccount('mi1')) as ImapReport;
      assert.equal(r.newHeaders, 4);
      assert.equal(r.bodiesFetched, 0);
      const row = (s: string) => {
        const x = e.list({ account: 'mi1' }).find((m) => m.summary.subject === s);
        assert.ok(x, s);
        return x;
      };
      const got = await e.read(row('r1').id);
      assert.equal(got.fetched, true);
      assert.ok(got.raw.equals(m1));
      const a = e.account('mi1');
      e.state.updateAccount({ ...a, port: 1 });
      assert.equal((await e.read(row('r1').id)).fetched, false, 'cached read works offline');
      e.flag(row('r2').id, 'flagged');
      e.delete(row('r3').id);
      e.flag(row('r4').id, 'seen');
      const c = await other('mi1');
      await c.mailboxOpen('INBOX');
      const r4 = (await c.fetchAll('1:*', { uid: true, envelope: true })).find((m) => m.envelope?.subject === 'r4');
      assert.ok(r4);
      await c.messageDelete(String(r4.uid), { uid: true });
      await c.logout();
      e.state.updateAccount(a);
      const r2 = (await e.syncAccount('mi1')) as ImapReport;
      assert.equal(r2.pushed, 3, JSON.stringify(r2));
      assert.equal(r2.conflicts.length, 1);
      assert.deepEqual(await subjects('mi1'), [
        ['r1', true, false],
        ['r2', false, true],
      ]);
      assert.deepEqual(e.list({ account: 'mi1' }).map((m) => m.summary.subject).sort(), ['r1', 'r2']);
    } finally {
      e.close();
    }
  });

  for (const v of [
    { name: 'QRESYNC when offered', disable: undefined, user: 'mi2' },
    { name: 'without CONDSTORE/QRESYNC', disable: { qresync: true, condstore: true }, user: 'mi3' },
  ] as const) {
    test(`IMAP incremental sync of another client's changes (${v.name})`, async () => {
      await deliver(v.user, sampleMessage('c1'), sampleMessage('c2'), sampleMessage('c3'));
      const e = engine(profile(), PW, v.disable ? { imapDisable: v.disable } : {});
      try {
        e.addAccount(acct('imap', v.user));
        await e.syncAccount(v.user);
        const c = await other(v.user);
        await c.mailboxOpen('INBOX');
        const all = await c.fetchAll('1:*', { uid: true, envelope: true });
        const uidOf = (s: string) => String(all.find((m) => m.envelope?.subject === s)?.uid);
        await c.messageFlagsAdd(uidOf('c1'), ['\\Flagged'], { uid: true });
        await c.messageDelete(uidOf('c2'), { uid: true });
        await c.append('INBOX', sampleMessage('c4'), ['\\Seen']);
        await c.logout();
        const r = (await e.syncAccount(v.user)) as ImapReport;
        if (v.disable) assert.equal(r.modes.INBOX, 'full');
        else assert.equal(r.modes.INBOX, 'qresync', 'mailroom offers QRESYNC');
        assert.equal(r.flagUpdates, 1);
        assert.equal(r.removed, 1);
        assert.equal(r.newHeaders, 1);
        const rows = e.list({ account: v.user });
        assert.deepEqual(rows.map((x) => x.summary.subject).sort(), ['c1', 'c3', 'c4']);
        assert.ok(rows.find((x) => x.summary.subject === 'c1')?.flags.includes('\\Flagged'));
        const again = (await e.syncAccount(v.user)) as ImapReport;
        assert.equal(again.modes.INBOX, v.disable ? 'full' : 'unchanged');
        assert.equal(again.newHeaders + again.removed + again.flagUpdates, 0);
      } finally {
        e.close();
      }
    });
  }

  test('IMAP UIDVALIDITY change (folder deleted and recreated) drops and refetches the cache', async () => {
    const c = await other('mi4');
    await c.mailboxCreate('Work');
    await c.append('Work', sampleMessage('w1'));
    const e = engine(profile(), PW);
    try {
      e.addAccount(acct('imap', 'mi4', { cache: 'all' }));
      await e.syncAccount('mi4');
      assert.equal(e.list({ account: 'mi4', folder: 'Work' }).length, 1);
      const before = e.state.getFolder('mi4', 'Work')?.uidValidity;
      await c.mailboxDelete('Work');
      await c.mailboxCreate('Work');
      await c.append('Work', sampleMessage('w2'));
      await c.append('Work', sampleMessage('w3'));
      const r = (await e.syncAccount('mi4')) as ImapReport;
      const afterV = e.state.getFolder('mi4', 'Work')?.uidValidity;
      assert.notEqual(afterV, before, 'a recreated mailbox gets a new UIDVALIDITY');
      assert.deepEqual(r.resets, ['Work']);
      assert.deepEqual(e.list({ account: 'mi4', folder: 'Work' }).map((x) => x.summary.subject).sort(), ['w2', 'w3']);
      assert.equal(assertMaildir(e.imapFolder('mi4', 'Work').root), 2);
    } finally {
      await c.logout();
      e.close();
    }
  });

  test('a queued move the server refuses (folder deleted meanwhile) is dropped and reported; the message stays', async () => {
    const c = await other('mi5');
    await c.mailboxCreate('Gone');
    await c.append('INBOX', sampleMessage('to move'));
    const e = engine(profile(), PW);
    try {
      e.addAccount(acct('imap', 'mi5'));
      await e.syncAccount('mi5');
      const [row] = e.list({ account: 'mi5' });
      assert.ok(row);
      await c.mailboxDelete('Gone');
      e.move(row.id, 'Gone');
      assert.equal(e.list({ account: 'mi5' }).length, 0);
      const r = (await e.syncAccount('mi5')) as ImapReport;
      assert.equal(r.pushed, 0);
      assert.equal(r.conflicts.length, 1, JSON.stringify(r.conflicts));
      assert.match(r.conflicts[0] ?? '', /queued move to Gone of UID \d+ was refused for good \(NO \[TRYCREATE\]/);
      assert.deepEqual(e.list({ account: 'mi5' }).map((x) => x.summary.subject), ['to move']);
      assert.equal(e.state.queueSize(), 0);
      assert.deepEqual(await subjects('mi5'), [['to move', false, false]]);
    } finally {
      await c.logout();
      e.close();
    }
  });

  test('unified inbox of two POP3 accounts and one IMAP account', async () => {
    await deliver('mu1', sampleMessage('u pop 1'));
    await deliver('mu2', sampleMessage('u pop 2'));
    await deliver('mu3', sampleMessage('u imap'));
    const e = engine(profile(), PW);
    try {
      e.addAccount(acct('pop3', 'mu1'));
      e.addAccount(acct('pop3', 'mu2'));
      e.addAccount(acct('imap', 'mu3'));
      const res = await e.sync();
      assert.ok(res.every((x) => x.ok), JSON.stringify(res));
      assert.deepEqual(e.list({ unified: true }).map((x) => [x.account, x.summary.subject]).sort(), [
        ['mu1', 'u pop 1'],
        ['mu2', 'u pop 2'],
        ['mu3', 'u imap'],
      ]);
    } finally {
      e.close();
    }
  });

  test('watch: IDLE picks up a message appended by another session', async () => {
    const e = engine(profile(), PW);
    const ac = new AbortController();
    try {
      e.addAccount(acct('imap', 'mw1'));
      let syncs = 0;
      const watching = e.watch({ signal: ac.signal, pollSeconds: 3600, onSync: () => syncs++ });
      const deadline = Date.now() + 10_000;
      while (syncs < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      await new Promise((r) => setTimeout(r, 300));
      await deliver('mw1', sampleMessage('idle push'));
      while ((e.list({ account: 'mw1' }).length === 0 || syncs < 2) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual(e.list({ account: 'mw1' }).map((x) => x.summary.subject), ['idle push']);
      ac.abort();
      await watching;
    } finally {
      ac.abort();
      e.close();
    }
  });
  test('watch: reconnects after the IMAP server restarts and catches up', async () => {
    const e = engine(profile(), PW);
    const ac = new AbortController();
    try {
      e.addAccount(acct('imap', 'mw2'));
      let syncs = 0;
      const watching = e.watch({ signal: ac.signal, pollSeconds: 3600, onSync: () => syncs++ });
      const deadline = Date.now() + 15_000;
      while (syncs < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      await new Promise((r) => setTimeout(r, 300));
      await imap.close(); // drops the IDLE connection
      imap = createImapService({ store, auth, hostname: 'imap.test' });
      await imap.listen({ host: '127.0.0.1', port: imapPort, implicitTls: false });
      await deliver('mw2', sampleMessage('after restart'));
      while (e.list({ account: 'mw2' }).length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual(e.list({ account: 'mw2' }).map((x) => x.summary.subject), ['after restart']);
      ac.abort();
      await watching;
    } finally {
      ac.abort();
      e.close();
    }
  });
});
