/**
 * What an incremental IMAP sync costs on the wire (bytes from the server, counted by a proxy) against
 * Dovecot, with QRESYNC, with CONDSTORE only, and with neither (RFC 7162): after another client flags one
 * message of 600 and adds one, QRESYNC and CONDSTORE fetch the changes only, a full listing fetches every
 * message's flags; a CONDSTORE resync asks for the whole UID list (UID SEARCH ALL) only when the message
 * count says something was expunged. Each mode ends with the same local state.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startDovecot, dovecotAvailable, type Dovecot } from '../support/dovecot.js';
import { tempProfile, engine, sampleMessage, PASSWORD_ENV, dovecotSession } from './helpers/client.js';
import { startCutProxy, type CutProxy } from './helpers/cut-proxy.js';
import type { ImapReport } from '../src/client/imap/syncer.js';

const N = 600;
const PW = 'pw';
const MODES = [
  { user: 'rq', mode: 'qresync', disable: {} },
  { user: 'rc', mode: 'condstore', disable: { qresync: true } },
  { user: 'rf', mode: 'full', disable: { qresync: true, condstore: true } },
] as const;

describe('incremental sync bytes by server capability (Dovecot)', { skip: dovecotAvailable() ?? false }, () => {
  let dc: Dovecot;
  let proxy: CutProxy;
  before(async () => {
    dc = await startDovecot({ users: MODES.map((m) => ({ user: m.user, password: PW })) });
    proxy = await startCutProxy(dc.imapPort);
  });
  after(async () => {
    await proxy?.close();
    await dc?.stop();
  });

  test('one flag changed and one message added among 600; then one expunged', async () => {
    const cost: Record<string, { change: number; expunge: number }> = {};
    for (const m of MODES) {
      for (let i = 0; i < N; i++) await dc.deliver(m.user, sampleMessage(`m${i}`));
      const p = tempProfile();
      const e = engine(p.dir, PW, { imapDisable: m.disable, fsync: false });
      try {
        e.addAccount({ name: m.user, protocol: 'imap', host: '127.0.0.1', port: proxy.port, user: m.user, password: { kind: 'env', name: PASSWORD_ENV } });
        assert.equal(((await e.syncAccount(m.user)) as ImapReport).newHeaders, N);
        const other = await dovecotSession(dc, m.user, PW);
        await other.mailboxOpen('INBOX');
        await other.messageFlagsAdd('5', ['\\Flagged']);
        await other.append('INBOX', sampleMessage('added'));
        let before = proxy.bytesFromServer;
        const r1 = (await e.syncAccount(m.user)) as ImapReport;
        const change = proxy.bytesFromServer - before;
        assert.equal(r1.modes.INBOX, m.mode);
        assert.deepEqual([r1.flagUpdates, r1.newHeaders, r1.removed], [1, 1, 0], m.mode);

        const seven = await other.fetchOne('7', { envelope: true });
        const gone = seven ? seven.envelope?.subject : undefined;
        assert.ok(gone);
        await other.messageDelete('7');
        await other.logout();
        before = proxy.bytesFromServer;
        const r2 = (await e.syncAccount(m.user)) as ImapReport;
        const expunge = proxy.bytesFromServer - before;
        assert.deepEqual([r2.flagUpdates, r2.newHeaders, r2.removed], [0, 0, 1], `${m.mode}: the expunge is seen`);
        const rows = e.list({ account: m.user });
        assert.equal(rows.length, N);
        assert.equal(rows.filter((r) => r.flags.includes('\\Flagged')).length, 1);
        assert.ok(!rows.some((r) => r.summary.subject === gone), 'the expunged message is gone locally');
        cost[m.mode] = { change, expunge };
      } finally {
        e.close();
        p.cleanup();
      }
    }
    const { qresync, condstore, full } = cost as Record<'qresync' | 'condstore' | 'full', { change: number; expunge: number }>;
    const table = JSON.stringify(cost);
    console.log('bytes from the server per resync:', table);
    assert.ok(full.change > N * 30, table);
    assert.ok(qresync.change * 10 < full.change, `QRESYNC fetches the changes only: ${table}`);
    assert.ok(condstore.change * 10 < full.change, `CONDSTORE without an expunge skips UID SEARCH ALL: ${table}`);
    assert.ok(qresync.expunge * 2 < condstore.expunge, `an expunge costs CONDSTORE the UID list, QRESYNC only VANISHED: ${table}`);
  });
});
