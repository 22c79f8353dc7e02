/**
 * Messages another client moves on a real server (Dovecot: UID MOVE, RFC 6851) keep their cached bodies
 * in the local copy: the sync recognises them in their new folder and moves the files instead of
 * downloading them again, whichever folder it pulls first.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { startDovecot, dovecotAvailable, type Dovecot } from '../support/dovecot.js';
import { tempProfile, engine, sampleMessage, assertMaildir, dovecotSession, PASSWORD_ENV } from './helpers/client.js';
import type { ImapReport } from '../src/client/imap/syncer.js';

const skip = dovecotAvailable();

describe('server-side moves (Dovecot)', { skip: skip ?? false }, () => {
  let dc: Dovecot;
  before(async () => {
    dc = await startDovecot({ users: [{ user: 'mv', password: 'pw' }] });
  });
  after(async () => {
    await dc?.stop();
  });

  test('messages moved by another client both ways between INBOX and Archive: bodies moved locally, none downloaded', async () => {
    const c = await dovecotSession(dc, 'mv', 'pw');
    const p = tempProfile();
    const e = engine(p.dir, 'pw');
    try {
      await c.mailboxCreate('Archive');
      const toArchive = sampleMessage('to the archive');
      const toInbox = sampleMessage('back to the inbox');
      await c.append('INBOX', toArchive);
      await c.append('Archive', toInbox);
      await c.append('INBOX', sampleMessage('stays'));
      e.addAccount({ name: 'mv', protocol: 'imap', host: '127.0.0.1', port: dc.imapPort, user: 'mv', password: { kind: 'env', name: PASSWORD_ENV }, cache: 'all' });
      const first = (await e.syncAccount('mv')) as ImapReport;
      assert.equal(first.bodiesFetched, 3);
      await c.mailboxOpen('INBOX');
      assert.ok(await c.messageMove('1', 'Archive', { uid: true }));
      await c.mailboxOpen('Archive');
      assert.ok(await c.messageMove('1', 'INBOX', { uid: true }));
      const r = (await e.syncAccount('mv')) as ImapReport;
      assert.deepEqual([r.relocated, r.bodiesFetched, r.removed, r.newHeaders], [2, 0, 2, 2]);
      const where = (folder: string) => e.list({ account: 'mv', folder }).map((x) => x.summary.subject).sort();
      assert.deepEqual(where('INBOX'), ['back to the inbox', 'stays']);
      assert.deepEqual(where('Archive'), ['to the archive']);
      for (const [folder, raw] of [['INBOX', toInbox], ['Archive', toArchive]] as const) {
        const row = e.list({ account: 'mv', folder }).find((x) => raw.includes(`Subject: ${x.summary.subject}\r\n`));
        assert.ok(row?.filePath && readFileSync(row.filePath).equals(raw), `${folder}: byte for byte`);
      }
      assert.equal(assertMaildir(e.imapFolder('mv', 'INBOX').root), 2);
      assert.equal(assertMaildir(e.imapFolder('mv', 'Archive').root), 1);
    } finally {
      await c.logout().catch(() => undefined);
      e.close();
      p.cleanup();
    }
  });
});
