/**
 * POP3 servers that break the UIDL rules of RFC 1939 section 7, as Dovecot does when told to: one that
 * reuses UIDLs (pop3_uidl_format = %u, and the maildrop's UIDs start again at 1 after it was recreated)
 * and one that lists duplicates (pop3_uidl_format = %v: every message gets the same UIDL). With leave-a-copy
 * the client must still download each message exactly once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { startDovecot, dovecotAvailable, type Dovecot } from '../support/dovecot.js';
import { tempProfile, engine, sampleMessage, PASSWORD_ENV } from './helpers/client.js';
import type { Pop3Report } from '../src/client/pop3/fetch.js';
import type { ClientEngine } from '../src/client/engine.js';

const skip = dovecotAvailable();

async function withDovecot(uidlFormat: string, fn: (dc: Dovecot, e: ClientEngine) => Promise<void>): Promise<void> {
  const dc = await startDovecot({ users: [{ user: 'u', password: 'pw' }], pop3UidlFormat: uidlFormat });
  const p = tempProfile();
  const e = engine(p.dir, 'pw');
  try {
    e.addAccount({ name: 'u', protocol: 'pop3', host: '127.0.0.1', port: dc.pop3Port, user: 'u', password: { kind: 'env', name: PASSWORD_ENV }, leaveOnServer: true });
    await fn(dc, e);
  } finally {
    e.close();
    p.cleanup();
    await dc.stop();
  }
}

const subjects = (e: ClientEngine): string[] => e.list({ account: 'u' }).map((r) => r.summary.subject).sort();

test('a UIDL the server reuses for a new message (UIDs restarted): the new message is downloaded, with a warning', { skip: skip ?? false }, async () => {
  await withDovecot('%08Xu', async (dc, e) => {
    await dc.deliver('u', sampleMessage('first'));
    assert.equal(((await e.syncAccount('u')) as Pop3Report).downloaded, 1);
    // Someone empties and recreates the maildrop: its UIDs (and so its UIDLs) start at 1 again.
    await dc.doveadm(['expunge', '-u', 'u', 'mailbox', 'INBOX', 'all']);
    const root = dc.maildir('u');
    for (const f of readdirSync(root)) if (f.startsWith('dovecot')) rmSync(join(root, f), { force: true });
    await dc.deliver('u', sampleMessage('second, a longer subject'));
    const r = (await e.syncAccount('u')) as Pop3Report;
    assert.equal(r.downloaded, 1, 'the message behind the reused UIDL is new to us');
    assert.match(r.warnings.join('\n'), /gave UIDL 00000001 .* to another message/);
    assert.deepEqual(subjects(e), ['first', 'second, a longer subject']);
    const again = (await e.syncAccount('u')) as Pop3Report;
    assert.deepEqual([again.downloaded, again.warnings], [0, []], 'and downloaded once');
  });
});

test('duplicate UIDLs in one listing (every message the same UIDL): each message once, across runs', { skip: skip ?? false }, async () => {
  await withDovecot('%08Xv', async (dc, e) => {
    await dc.deliver('u', sampleMessage('one'));
    await dc.deliver('u', sampleMessage('two, longer'));
    assert.equal(((await e.syncAccount('u')) as Pop3Report).downloaded, 2);
    assert.equal(((await e.syncAccount('u')) as Pop3Report).downloaded, 0);
    await dc.deliver('u', sampleMessage('three, longer still'));
    assert.equal(((await e.syncAccount('u')) as Pop3Report).downloaded, 1);
    assert.deepEqual(subjects(e), ['one', 'three, longer still', 'two, longer']);
  });
});
