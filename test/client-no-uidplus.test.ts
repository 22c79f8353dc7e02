/**
 * A server without UIDPLUS and MOVE (Dovecot told to advertise neither): EXPUNGE there removes every
 * message marked \Deleted (RFC 3501 section 6.4.3), so replaying an offline delete or move must not take
 * along a message another client only marked \Deleted (and meant to keep until it expunges itself).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startDovecot, dovecotAvailable } from '../support/dovecot.js';
import { tempProfile, engine, sampleMessage, PASSWORD_ENV, dovecotSession } from './helpers/client.js';
import type { ImapReport } from '../src/client/imap/syncer.js';

const CAPS = 'IMAP4rev1 LITERAL+ SASL-IR LOGIN-REFERRALS ID ENABLE IDLE NAMESPACE CHILDREN SPECIAL-USE LIST-STATUS UNSELECT';

test('offline delete and move without UIDPLUS leave another client\'s \\Deleted message alone', { skip: dovecotAvailable() ?? false }, async () => {
  const dc = await startDovecot({ users: [{ user: 'nu', password: 'pw' }], imapCapability: CAPS });
  const p = tempProfile();
  const e = engine(p.dir, 'pw');
  try {
    for (const s of ['marked by other', 'delete me', 'move me', 'stay']) await dc.deliver('nu', sampleMessage(s));
    e.addAccount({ name: 'nu', protocol: 'imap', host: '127.0.0.1', port: dc.imapPort, user: 'nu', password: { kind: 'env', name: PASSWORD_ENV } });
    await e.syncAccount('nu');
    const c = await dovecotSession(dc, 'nu', 'pw');
    assert.ok(!c.capabilities.has('UIDPLUS') && !c.capabilities.has('MOVE'), 'the server advertises neither');
    await c.mailboxOpen('INBOX');
    const marked = (await c.fetchAll('1:*', { uid: true, envelope: true })).find((m) => m.envelope?.subject === 'marked by other');
    assert.ok(marked);
    await c.messageFlagsAdd(String(marked.uid), ['\\Deleted'], { uid: true });
    await c.logout();

    const row = (s: string) => e.list({ account: 'nu' }).find((x) => x.summary.subject === s) as { id: number };
    e.delete(row('delete me').id);
    e.move(row('move me').id, 'Trash');
    const r = (await e.syncAccount('nu')) as ImapReport;
    assert.deepEqual([r.pushed, r.conflicts, r.failed], [2, [], []]);

    const o = await dovecotSession(dc, 'nu', 'pw');
    await o.mailboxOpen('INBOX');
    const inbox = (await o.fetchAll('1:*', { uid: true, flags: true, envelope: true })).map((m) => [m.envelope?.subject, m.flags?.has('\\Deleted')]).sort();
    await o.mailboxOpen('Trash');
    const trash = (await o.fetchAll('1:*', { uid: true, envelope: true })).map((m) => m.envelope?.subject);
    await o.logout();
    assert.deepEqual(inbox, [
      ['marked by other', true],
      ['stay', false],
    ]);
    assert.deepEqual(trash, ['move me']);
  } finally {
    e.close();
    p.cleanup();
    await dc.stop();
  }
});
