/**
 * Replaying many offline changes against Dovecot: marking 300 messages read and deleting 40 goes out as a
 * few commands over UID sets (one UID STORE per run of like changes, one UID EXPUNGE per run of deletes),
 * not one command per message; changes to one message still reach the server in the order made.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startDovecot, dovecotAvailable } from '../support/dovecot.js';
import { tempProfile, engine, sampleMessage, PASSWORD_ENV, dovecotSession } from './helpers/client.js';
import { startCutProxy } from './helpers/cut-proxy.js';
import type { ImapReport } from '../src/client/imap/syncer.js';

test('300 offline reads and 40 deletes are pushed in a few commands; order kept', { skip: dovecotAvailable() ?? false }, async () => {
  const dc = await startDovecot({ users: [{ user: 'pu', password: 'pw' }] });
  const proxy = await startCutProxy(dc.imapPort);
  const p = tempProfile();
  const e = engine(p.dir, 'pw', { fsync: false });
  try {
    for (let i = 0; i < 340; i++) await dc.deliver('pu', sampleMessage(`m${String(i).padStart(3, '0')}`));
    e.addAccount({ name: 'pu', protocol: 'imap', host: '127.0.0.1', port: proxy.port, user: 'pu', password: { kind: 'env', name: PASSWORD_ENV } });
    await e.syncAccount('pu');
    let before = proxy.bytesFromClient;
    await e.syncAccount('pu');
    const idle = proxy.bytesFromClient - before;

    const rows = e.list({ account: 'pu' }).sort((a, b) => a.summary.subject.localeCompare(b.summary.subject));
    assert.equal(rows.length, 340);
    for (const r of rows.slice(0, 300)) e.flag(r.id, 'seen');
    for (const r of rows.slice(300)) e.delete(r.id);
    // One message flagged, unflagged, flagged again: the server must end with the last state.
    const last = rows[0] as (typeof rows)[number];
    e.flag(last.id, 'flagged');
    e.flag(last.id, 'unflagged');
    e.flag(last.id, 'flagged');

    before = proxy.bytesFromClient;
    const r = (await e.syncAccount('pu')) as ImapReport;
    const push = proxy.bytesFromClient - before;
    assert.deepEqual([r.pushed, r.conflicts, r.failed], [343, [], []]);
    assert.ok(push - idle < 2000, `pushing 343 changes sent ${push - idle} bytes of commands more than a sync with none (${idle})`);

    const c = await dovecotSession(dc, 'pu', 'pw');
    await c.mailboxOpen('INBOX');
    const onServer = await c.fetchAll('1:*', { uid: true, flags: true, envelope: true });
    await c.logout();
    assert.equal(onServer.length, 300);
    assert.ok(onServer.every((m) => m.flags?.has('\\Seen')));
    const flagged = onServer.filter((m) => m.flags?.has('\\Flagged')).map((m) => m.envelope?.subject);
    assert.deepEqual(flagged, [last.summary.subject]);
    assert.equal(e.state.queueSize(), 0);
  } finally {
    e.close();
    p.cleanup();
    await proxy.close();
    await dc.stop();
  }
});
