/**
 * The local side of the client at mailbox sizes real users have: every sync first reconciles the index
 * with the Maildir folders (changes mutt or neomutt made), so that must stay linear in the message count.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { tempProfile, engine, PASSWORD_ENV } from './helpers/client.js';

test('reconciling 20,000 messages in one Maildir takes seconds, not minutes (CPU time)', () => {
  const p = tempProfile();
  const e = engine(p.dir, 'x', { fsync: false });
  try {
    e.addAccount({ name: 'big', protocol: 'pop3', host: '127.0.0.1', port: 110, user: 'u', password: { kind: 'env', name: PASSWORD_ENV } });
    const root = e.inbox.root;
    const n = 20_000;
    e.state.tx(() => {
      for (let i = 0; i < n; i++) {
        const key = `1800000000.M${i}P1Q${i}.host,S=1`;
        const name = i % 2 ? `${key}:2,S` : key;
        const path = join(root, i % 2 ? 'cur' : 'new', name);
        writeFileSync(path, 'x');
        e.state.insertMessage({
          account: 'big', folder: 'INBOX', uid: null, uidl: `u${i}`, messageId: null, flags: i % 2 ? ['\\Seen'] : [],
          summary: { subject: `m${i}`, from: '', to: '', date: null, messageId: null },
          internalDate: i, size: 1, maildir: root, fileKey: key, filePath: path, bodyCached: true, cachedAt: 0,
        });
      }
    });
    // mutt flagged message 8 (it was in new/)
    renameSync(join(root, 'new', '1800000000.M8P1Q8.host,S=1'), join(root, 'cur', '1800000000.M8P1Q8.host,S=1:2,F'));
    const t0 = process.cpuUsage();
    const changed = e.reconcileMaildirs();
    const t = process.cpuUsage(t0);
    const ms = (t.user + t.system) / 1000;
    assert.equal(changed, 1);
    assert.equal(e.list().length, n);
    assert.ok(ms < 8000, `reconcile took ${Math.round(ms)} ms of CPU`);
    assert.deepEqual(e.list().find((r) => r.summary.subject === 'm8')?.flags, ['\\Flagged']);
  } finally {
    e.close();
    p.cleanup();
  }
});
