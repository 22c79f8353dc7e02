/**
 * A message another client moves on the server (UID MOVE: same bytes, a new UID in another folder) is
 * recognised, and its cached body moves with it instead of being downloaded again: by EMAILID when the
 * server has OBJECTID (RFC 8474), else by Message-ID, size and INTERNALDATE. Whichever folder the sync
 * pulls first (the source, whose body is then parked, or the destination, which links the body the source
 * still holds), the message ends once, byte for byte, in its new folder; nothing is left in tmp/.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImapFlow } from 'imapflow';
import { createImapService } from '../src/imap-server/index.js';
import { openServerStore } from '../src/server/store.js';
import { Authenticator } from '../src/auth/index.js';
import { tempProfile, engine, sampleMessage, assertMaildir, PASSWORD_ENV } from './helpers/client.js';
import { startFakeImap, type FakeImap } from './helpers/fake-imap.js';
import type { ImapReport } from '../src/client/imap/syncer.js';
import type { ClientEngine } from '../src/client/engine.js';

const bodyFetches = (srv: FakeImap): number => srv.log.filter((l) => /UID FETCH .*BODY\.PEEK\[\]/.test(l)).length;

async function withServer(caps: string[], cache: 'all' | 'headers', fn: (srv: FakeImap, e: ClientEngine, sync: () => Promise<ImapReport>) => Promise<void>): Promise<void> {
  const srv = await startFakeImap({ caps });
  srv.folders.set('Archive', { uidValidity: 9, uidNext: 1, messages: [] });
  const p = tempProfile();
  const e = engine(p.dir, 'pw');
  try {
    e.addAccount({ name: 'm', protocol: 'imap', host: '127.0.0.1', port: srv.port, user: 'u', password: { kind: 'env', name: PASSWORD_ENV }, cache });
    await fn(srv, e, async () => (await e.syncAccount('m')) as ImapReport);
  } finally {
    e.close();
    p.cleanup();
    await srv.close();
  }
}

for (const caps of [['UIDPLUS', 'MOVE'], ['UIDPLUS', 'MOVE', 'OBJECTID']]) {
  const how = caps.includes('OBJECTID') ? 'EMAILID' : 'Message-ID, size and date';
  for (const [from, to] of [['INBOX', 'Archive'], ['Archive', 'INBOX']] as const) {
    test(`moved on the server from ${from} to ${to} (${how}): the cached body moves, nothing downloaded again`, async () => {
      await withServer(caps, 'all', async (srv, e, sync) => {
        const raw = sampleMessage('travels');
        const uid = srv.add(from, raw);
        srv.add(from, sampleMessage('stays'));
        await sync();
        const before = bodyFetches(srv);
        assert.equal(before, 1);
        srv.move(from, uid, to);
        const r = await sync();
        assert.equal(bodyFetches(srv), before, 'no body fetched for the moved message');
        assert.equal(r.relocated, 1);
        assert.equal(r.removed, 1);
        if (caps.includes('OBJECTID')) assert.ok(srv.log.some((l) => /EMAILID/.test(l)));
        const moved = e.list({ account: 'm', folder: to }).filter((x) => x.summary.subject === 'travels');
        assert.equal(moved.length, 1);
        assert.ok(moved[0]?.bodyCached && moved[0].filePath);
        assert.ok(readFileSync(moved[0].filePath).equals(raw), 'byte for byte');
        assert.deepEqual(e.list({ account: 'm', folder: from }).map((x) => x.summary.subject), ['stays']);
        assert.equal(assertMaildir(e.imapFolder('m', to).root), 1);
        assert.equal(assertMaildir(e.imapFolder('m', from).root), 1);
        assert.equal((await sync()).relocated, 0, 'a further sync changes nothing');
      });
    });
  }
}

test('a copy on the server (COPY, the source keeps it) gets its own file linked from the cached one', async () => {
  await withServer(['UIDPLUS', 'MOVE'], 'all', async (srv, e, sync) => {
    const raw = sampleMessage('copied');
    const uid = srv.add('INBOX', raw);
    await sync();
    const m = srv.folders.get('INBOX')?.messages.find((x) => x.uid === uid);
    assert.ok(m);
    srv.add('Archive', m.raw, { internalDate: m.internalDate });
    const r = await sync();
    assert.equal(r.relocated, 1);
    assert.equal(bodyFetches(srv), 1);
    for (const f of ['INBOX', 'Archive']) {
      const [row] = e.list({ account: 'm', folder: f });
      assert.ok(row?.filePath && readFileSync(row.filePath).equals(raw), f);
    }
    e.delete((e.list({ account: 'm', folder: 'INBOX' })[0] as { id: number }).id);
    const [kept] = e.list({ account: 'm', folder: 'Archive' });
    assert.ok(kept?.filePath && readFileSync(kept.filePath).equals(raw), 'deleting one copy leaves the other whole');
  });
});

test('headers-only cache: a message read (body cached) and then moved on the server keeps its body', async () => {
  await withServer(['UIDPLUS', 'MOVE'], 'headers', async (srv, e, sync) => {
    const raw = sampleMessage('read then moved');
    const uid = srv.add('INBOX', raw);
    await sync();
    const [row] = e.list({ account: 'm', folder: 'INBOX' });
    assert.ok(row);
    await e.read(row.id, { peek: true });
    assert.equal(bodyFetches(srv), 1);
    srv.move('INBOX', uid, 'Archive');
    const r = await sync();
    assert.equal(r.relocated, 1);
    assert.equal(bodyFetches(srv), 1);
    const [moved] = e.list({ account: 'm', folder: 'Archive' });
    assert.ok(moved?.bodyCached && moved.filePath && readFileSync(moved.filePath).equals(raw));
  });
});

test('a different message with the same Message-ID but another size is downloaded, not taken from the cache', async () => {
  await withServer(['UIDPLUS', 'MOVE'], 'all', async (srv, e, sync) => {
    const raw = sampleMessage('original');
    srv.add('INBOX', raw);
    await sync();
    const other = Buffer.concat([raw, Buffer.from('one more line\r\n')]);
    srv.add('Archive', other);
    const r = await sync();
    assert.equal(r.relocated, 0);
    assert.equal(bodyFetches(srv), 2);
    const [row] = e.list({ account: 'm', folder: 'Archive' });
    assert.ok(row?.filePath && readFileSync(row.filePath).equals(other));
  });
});

test('mailroom server (OBJECTID): a message another client moves keeps its cached body', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'mailroom-client-moves-'));
  const store = await openServerStore({ dataDir: dir });
  const imap = createImapService({ store, auth: new Authenticator(store.directory, { failureDelayMs: 0 }), hostname: 'imap.test' });
  const p = tempProfile();
  const e = engine(p.dir, 'pw');
  let other: ImapFlow | undefined;
  try {
    await store.directory.addDomain('example.org');
    await store.directory.createUser('mv@example.org', '{PLAIN}pw');
    const port = (await imap.listen({ host: '127.0.0.1', port: 0, implicitTls: false })).port;
    other = new ImapFlow({ host: '127.0.0.1', port, secure: false, doSTARTTLS: false, auth: { user: 'mv@example.org', pass: 'pw' }, logger: false, disableAutoIdle: true });
    await other.connect();
    assert.ok(other.capabilities.has('OBJECTID'), 'the server has OBJECTID');
    await other.mailboxCreate('Archive');
    const raw = sampleMessage('moved by the phone');
    await other.append('INBOX', raw);
    await other.append('INBOX', sampleMessage('left alone'));
    e.addAccount({ name: 'mv', protocol: 'imap', host: '127.0.0.1', port, user: 'mv@example.org', password: { kind: 'env', name: PASSWORD_ENV }, cache: 'all' });
    const first = (await e.syncAccount('mv')) as ImapReport;
    assert.equal(first.bodiesFetched, 2);
    await other.mailboxOpen('INBOX');
    assert.ok(await other.messageMove('1', 'Archive', { uid: true }));
    const r = (await e.syncAccount('mv')) as ImapReport;
    assert.equal(r.relocated, 1);
    assert.equal(r.bodiesFetched, 0, 'nothing downloaded');
    const [moved] = e.list({ account: 'mv', folder: 'Archive' });
    assert.ok(moved?.emailId, 'the EMAILID is recorded');
    assert.ok(moved.filePath && readFileSync(moved.filePath).equals(raw));
    assert.deepEqual(e.list({ account: 'mv', folder: 'INBOX' }).map((x) => x.summary.subject), ['left alone']);
  } finally {
    await other?.logout().catch(() => undefined);
    e.close();
    p.cleanup();
    await imap.close();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('our own offline move on a server that gives no COPYUID: the destination lists it as new and takes the local body', async () => {
  await withServer(['MOVE'], 'all', async (srv, e, sync) => {
    const raw = sampleMessage('moved offline');
    srv.add('INBOX', raw);
    srv.hook = (c) => (c.cmd === 'UID MOVE' ? String(c.normal()).replace(/\[COPYUID [^\]]*\] /, '') : undefined);
    await sync();
    const [row] = e.list({ account: 'm', folder: 'INBOX' });
    assert.ok(row);
    e.move(row.id, 'Archive');
    const r = await sync();
    assert.equal(r.pushed, 1);
    assert.deepEqual([r.relocated, r.bodiesFetched], [1, 0]);
    assert.equal(bodyFetches(srv), 1);
    const [moved] = e.list({ account: 'm', folder: 'Archive' });
    assert.ok(moved?.uid && moved.filePath && readFileSync(moved.filePath).equals(raw));
    assert.equal(assertMaildir(e.imapFolder('m', 'Archive').root), 1);
  });
});
