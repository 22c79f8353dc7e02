/**
 * Replaying offline changes against a server that refuses them (a scripted IMAP server on loopback): a
 * temporary refusal (NO [UNAVAILABLE], [INUSE], [LIMIT], a NO without a code, a connection dropped
 * mid-replay) keeps the change queued and its local effect in place, reported as deferred, and the next
 * sync carries it out; a permanent one (NO [TRYCREATE] for a deleted folder, [NONEXISTENT]) is reported
 * and dropped, the message staying where the server has it; a change refused for now too many times is
 * given up with a report; changes queued behind a refused one wait, in order.
 */
import { test } from 'node:test';
import { rmSync } from 'node:fs';
import assert from 'node:assert/strict';
import { tempProfile, engine, sampleMessage, assertMaildir, PASSWORD_ENV } from './helpers/client.js';
import { startFakeImap, type FakeImap, type HookCall, type HookResult } from './helpers/fake-imap.js';
import { ClientError } from '../src/client/errors.js';
import { MAX_REPLAY_ATTEMPTS, REPLAY_SPACING_MS } from '../src/client/sync/plan.js';
import { runMany } from './helpers/cli-steps.js';
import type { ImapReport } from '../src/client/imap/syncer.js';
import type { ClientEngine } from '../src/client/engine.js';

interface World {
  srv: FakeImap;
  e: ClientEngine;
  sync: () => Promise<ImapReport>;
  /** The local message (INBOX unless told) with this subject. */
  row: (subject: string, folder?: string) => ReturnType<ClientEngine['list']>[number] | undefined;
}

/** A server with INBOX (one, two, three) and Archive, an account synchronised once (cache all). */
async function withWorld(fn: (w: World) => Promise<void>, now?: () => number): Promise<void> {
  const srv = await startFakeImap();
  for (const s of ['one', 'two', 'three']) srv.add('INBOX', sampleMessage(s));
  srv.folders.set('Archive', { uidValidity: 9, uidNext: 1, messages: [] });
  const p = tempProfile();
  const e = engine(p.dir, 'pw', now ? { now } : {});
  try {
    e.addAccount({ name: 'r', protocol: 'imap', host: '127.0.0.1', port: srv.port, user: 'u', password: { kind: 'env', name: PASSWORD_ENV }, cache: 'all' });
    const sync = async (): Promise<ImapReport> => (await e.syncAccount('r')) as ImapReport;
    await sync();
    const row = (subject: string, folder = 'INBOX') => e.list({ account: 'r', folder }).find((x) => x.summary.subject === subject);
    await fn({ srv, e, sync, row });
  } finally {
    e.close();
    p.cleanup();
    await srv.close();
  }
}

const refuse =
  (cmd: string, answer: (tag: string) => HookResult) =>
  (c: HookCall): HookResult =>
    c.cmd === cmd ? answer(c.tag) : undefined;

const serverMsg = (srv: FakeImap, folder: string, subject: string) => srv.folders.get(folder)?.messages.find((m) => m.raw.includes(`Subject: ${subject}\r\n`));

for (const reply of ['NO [UNAVAILABLE] backend down', 'NO [INUSE] mailbox locked', 'NO [LIMIT] too many changes', 'NO try later']) {
  test(`a flag change refused with "${reply}" stays queued and flagged locally; the next sync pushes it`, async () => {
    await withWorld(async ({ srv, e, sync, row }) => {
      e.flag((row('one') as { id: number }).id, 'flagged');
      srv.hook = refuse('UID STORE', (tag) => `${tag} ${reply}\r\n`);
      const r = await sync();
      assert.equal(r.pushed, 0);
      assert.deepEqual(r.conflicts, []);
      assert.equal(r.deferred.length, 1, JSON.stringify(r));
      assert.match(r.deferred[0] as string, new RegExp(`flag change of UID 1 was refused for now .*${reply.replace(/[[\]]/g, '\\$&')}.*attempt 1 of ${MAX_REPLAY_ATTEMPTS}`));
      assert.equal(e.state.queueSize(), 1, 'the change is still queued');
      assert.deepEqual(row('one')?.flags, ['\\Flagged'], 'the pull does not undo the local change');
      assert.equal(serverMsg(srv, 'INBOX', 'one')?.flags.has('\\Flagged'), false);
      srv.hook = undefined;
      const again = await sync();
      assert.equal(again.pushed, 1);
      assert.deepEqual(again.deferred, []);
      assert.equal(e.state.queueSize(), 0);
      assert.equal(serverMsg(srv, 'INBOX', 'one')?.flags.has('\\Flagged'), true);
      assert.deepEqual(row('one')?.flags, ['\\Flagged']);
    });
  });
}

test('a move refused for now keeps the local copy in the destination, not fetched back into the source; replayed later', async () => {
  await withWorld(async ({ srv, e, sync, row }) => {
    e.move((row('two') as { id: number }).id, 'Archive');
    srv.hook = refuse('UID MOVE', (tag) => `${tag} NO [UNAVAILABLE] not now\r\n`);
    const r = await sync();
    assert.equal(r.deferred.length, 1, JSON.stringify(r));
    assert.equal(row('two'), undefined, 'not downloaded again into INBOX');
    assert.equal(row('two', 'Archive')?.uid, null, 'the local copy waits in Archive');
    assert.ok(row('two', 'Archive')?.bodyCached);
    assert.equal(srv.log.filter((l) => /UID FETCH .*BODY\.PEEK\[\]/.test(l)).length, 1, 'only the first sync fetched bodies');
    srv.hook = undefined;
    const again = await sync();
    assert.equal(again.pushed, 1);
    assert.ok(serverMsg(srv, 'Archive', 'two'));
    assert.equal(serverMsg(srv, 'INBOX', 'two'), undefined);
    assert.equal(row('two', 'Archive')?.uid, 1);
    assert.equal(row('two'), undefined);
  });
});

test('a message whose move is refused for now and whose body is not cached can be read meanwhile: fetched from the folder it leaves', async () => {
  await withWorld(async ({ srv, e, sync, row }) => {
    const two = row('two');
    assert.ok(two?.filePath);
    // Its body leaves the cache (as a prune would).
    rmSync(two.filePath);
    e.state.setFile(two.id, two.maildir, null, null, false);
    const id = two.id;
    e.move(id, 'Archive');
    srv.hook = refuse('UID MOVE', (tag) => `${tag} NO [UNAVAILABLE] not now\r\n`);
    assert.equal((await sync()).deferred.length, 1);
    assert.equal(row('two', 'Archive')?.bodyCached, false);
    const got = await e.read(id);
    assert.ok(got.fetched);
    assert.ok(got.raw.equals(serverMsg(srv, 'INBOX', 'two')?.raw as Buffer), 'the server body, byte for byte');
    assert.equal(e.state.queueSize(), 1, 'nothing queued besides the move (no \\Seen for a message without a UID)');
    const view = await e.view(id, { peek: true });
    assert.match(view.text, /two/);
    srv.hook = undefined;
    const again = await sync();
    assert.equal(again.pushed, 1);
    assert.equal(again.bodiesFetched, 0, 'the body read meanwhile is kept');
    assert.ok(row('two', 'Archive')?.bodyCached);
  });
});

test('a delete refused for now is not resurrected by the pull; the folder changes behind it wait in order', async () => {
  await withWorld(async ({ srv, e, sync, row }) => {
    e.delete((row('three') as { id: number }).id);
    e.flag((row('one') as { id: number }).id, 'seen');
    srv.hook = refuse('UID EXPUNGE', (tag) => `${tag} NO [INUSE] try later\r\n`);
    const r = await sync();
    assert.equal(r.deferred.length, 1);
    assert.match(r.deferred[0] as string, /delete of UID 3 .*1 later change of this folder wait/);
    assert.equal(row('three'), undefined, 'the deleted message does not come back');
    assert.equal(e.state.queueSize(), 2);
    assert.ok(!srv.log.some((l) => /UID STORE 1 /.test(l)), 'the flag change queued after the delete was not sent');
    srv.hook = undefined;
    const again = await sync();
    assert.equal(again.pushed, 2);
    assert.equal(serverMsg(srv, 'INBOX', 'three'), undefined);
    assert.ok(serverMsg(srv, 'INBOX', 'one')?.flags.has('\\Seen'));
    assert.equal(e.state.queueSize(), 0);
  });
});

test('the connection dropped mid-replay: NETWORK error, the change stays queued (one attempt counted) and goes out next time', async () => {
  await withWorld(async ({ srv, e, sync, row }) => {
    e.flag((row('one') as { id: number }).id, 'flagged');
    e.flag((row('two') as { id: number }).id, 'seen');
    srv.hook = refuse('UID STORE', () => 'close');
    await assert.rejects(sync(), (err: ClientError) => {
      assert.equal(err.code, 'NETWORK', err.message);
      assert.match(err.message, /stay queued/);
      return true;
    });
    assert.equal(e.state.queueSize(), 2);
    assert.equal(e.state.queued('r')[0]?.attempts, 1);
    assert.deepEqual(row('one')?.flags, ['\\Flagged']);
    srv.hook = undefined;
    const again = await sync();
    assert.equal(again.pushed, 2);
    assert.ok(serverMsg(srv, 'INBOX', 'one')?.flags.has('\\Flagged'));
    assert.ok(serverMsg(srv, 'INBOX', 'two')?.flags.has('\\Seen'));
  });
});

test('a move to a folder deleted on the server (NO [TRYCREATE]) is dropped and reported; the message is back in its folder once', async () => {
  await withWorld(async ({ srv, e, sync, row }) => {
    e.move((row('two') as { id: number }).id, 'Archive');
    srv.hook = refuse('UID MOVE', (tag) => `${tag} NO [TRYCREATE] no such mailbox\r\n`);
    const r = await sync();
    assert.deepEqual(r.deferred, []);
    assert.equal(r.conflicts.length, 1);
    assert.match(r.conflicts[0] as string, /move to Archive of UID 2 was refused for good \(NO \[TRYCREATE\]/);
    assert.equal(e.state.queueSize(), 0);
    assert.equal(row('two', 'Archive'), undefined);
    assert.equal(row('two')?.uid, 2, 'back in INBOX');
    assert.ok(row('two')?.bodyCached, 'with its body');
    assert.equal(e.list({ account: 'r' }).length, 3, 'once');
    assert.equal(r.relocated, 1, 'the body came back from the local copy, not downloaded again');
    assert.equal(assertMaildir(e.imapFolder('r', 'INBOX').root), 3);
    assert.equal(assertMaildir(e.imapFolder('r', 'Archive').root), 0);
  });
});

test('a flag change refused with NO [NONEXISTENT] is dropped and reported; the server flags win', async () => {
  await withWorld(async ({ srv, e, sync, row }) => {
    e.flag((row('one') as { id: number }).id, 'flagged');
    srv.hook = refuse('UID STORE', (tag) => `${tag} NO [NONEXISTENT] gone\r\n`);
    const r = await sync();
    assert.equal(r.conflicts.length, 1);
    assert.match(r.conflicts[0] as string, /refused for good/);
    assert.equal(e.state.queueSize(), 0);
  });
});

test(`a change refused for now ${MAX_REPLAY_ATTEMPTS} times, minutes apart, is given up and reported; each sync ends`, async () => {
  let clock = Date.now();
  await withWorld(async ({ srv, e, sync, row }) => {
    e.flag((row('one') as { id: number }).id, 'flagged');
    srv.hook = refuse('UID STORE', (tag) => `${tag} NO [UNAVAILABLE] still down\r\n`);
    for (let i = 1; i < MAX_REPLAY_ATTEMPTS; i++) {
      const r = await sync();
      assert.match(r.deferred[0] ?? '', new RegExp(`attempt ${i} of ${MAX_REPLAY_ATTEMPTS}`));
      assert.equal(e.state.queueSize(), 1);
      clock += REPLAY_SPACING_MS;
    }
    const last = await sync();
    assert.deepEqual(last.deferred, []);
    assert.match(last.conflicts[0] ?? '', new RegExp(`refused ${MAX_REPLAY_ATTEMPTS} times, given up \\(last: NO \\[UNAVAILABLE\\] still down\\)`));
    assert.equal(e.state.queueSize(), 0);
    srv.hook = undefined;
    await sync();
    assert.deepEqual(row('one')?.flags, [], 'the server wins once the change is given up');
  }, () => clock);
});

test('syncs in quick succession (watch) refused for now do not use up the attempts', async () => {
  await withWorld(async ({ srv, e, sync, row }) => {
    e.flag((row('one') as { id: number }).id, 'flagged');
    srv.hook = refuse('UID STORE', (tag) => `${tag} NO [UNAVAILABLE] busy\r\n`);
    for (let i = 0; i < MAX_REPLAY_ATTEMPTS + 2; i++) {
      const r = await sync();
      assert.match(r.deferred[0] ?? '', new RegExp(`attempt 1 of ${MAX_REPLAY_ATTEMPTS}`));
    }
    assert.equal(e.state.queued('r')[0]?.attempts, 1);
    srv.hook = undefined;
    assert.equal((await sync()).pushed, 1);
  });
});

test('a folder the server will not open for now (SELECT NO [UNAVAILABLE]) keeps its changes; other folders still sync', async () => {
  await withWorld(async ({ srv, e, sync, row }) => {
    e.flag((row('one') as { id: number }).id, 'flagged');
    let selects = 0;
    srv.hook = (c) => (c.cmd === 'SELECT' && c.args === 'INBOX' && selects++ === 0 ? `${c.tag} NO [UNAVAILABLE] busy\r\n` : undefined);
    const r = await sync();
    assert.equal(r.deferred.length, 1, JSON.stringify(r));
    assert.equal(e.state.queueSize(), 1);
    assert.deepEqual(row('one')?.flags, ['\\Flagged']);
    const again = await sync();
    assert.equal(again.pushed, 1);
    assert.ok(serverMsg(srv, 'INBOX', 'one')?.flags.has('\\Flagged'));
  });
});

test('client sync (the command) reports a change refused for now on a "deferred:" line and exits 0; --json carries it too', async () => {
  const srv = await startFakeImap();
  srv.add('INBOX', sampleMessage('one'));
  srv.hook = refuse('UID STORE', (tag) => `${tag} NO [UNAVAILABLE] maintenance\r\n`);
  const p = tempProfile();
  try {
    const c = (...args: string[]) => ['client', '--profile', p.dir, ...args];
    const env = { CLI_PW: 'pw' };
    const [add, first, flag, sync, json] = await runMany([
      { args: c('account', 'add', 'r', '--protocol', 'imap', '--host', '127.0.0.1', '--port', String(srv.port), '--user', 'u', '--password-env', 'CLI_PW') },
      { args: c('sync'), env },
      { args: c('flag', '1', '--flagged') },
      { args: c('sync'), env },
      { args: c('sync', '--json'), env },
    ]);
    assert.deepEqual([add?.code, first?.code, flag?.code], [0, 0, 0], JSON.stringify([add, first, flag]));
    assert.equal(sync?.code, 0, sync?.stderr);
    assert.match(sync?.stderr ?? '', /^deferred: r\/INBOX: the queued flag change of UID 1 was refused for now \(NO \[UNAVAILABLE\] maintenance\)/m);
    const report = (JSON.parse(json?.stdout ?? '[]') as Array<{ report: ImapReport }>)[0]?.report;
    assert.equal(report?.deferred.length, 1);
    assert.equal(srv.log.filter((l) => / UID STORE 1 /.test(l)).length, 2, 'tried at each sync');
  } finally {
    p.cleanup();
    await srv.close();
  }
});
