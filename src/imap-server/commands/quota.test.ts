/**
 * Raw-socket transcripts of the QUOTA extension (RFC 9208): capabilities, GETQUOTAROOT and GETQUOTA with
 * STORAGE in units of 1024 octets and MESSAGE, no root for a user without limits, APPEND/COPY/MOVE over
 * quota answered NO [OVERQUOTA] with nothing stored, MOVE within the user and EXPUNGE always allowed,
 * STATUS DELETED and DELETED-STORAGE, SETQUOTA refused NO [NOPERM] without the administrator role (and what it
 * sets for an administrator), and
 * BAD for malformed commands (bad resource names, negative limits, odd lists) with the connection going on.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { RawClient, startImap, message } from '../../../test/imap-helpers.js';
import { parseSetQuota, quotaItems } from './quota.js';
import { args } from './testing/grammar.js';

describe('QUOTA raw transcripts', () => {
  test('capabilities; a user without limits has no quota root; limits reported in KiB and messages', async () => {
    const f = await startImap();
    try {
      const c = await RawClient.connect(f.port);
      await c.login();
      assert.match(await c.cmd('CAPABILITY', 'c'), / QUOTA QUOTA=RES-STORAGE QUOTA=RES-MESSAGE[ \r]/);
      assert.doesNotMatch(await c.cmd('CAPABILITY', 'c2'), /QUOTASET/);
      assert.equal(await c.cmd('GETQUOTAROOT INBOX', 'r0'), '* QUOTAROOT INBOX\r\nr0 OK Getquotaroot completed\r\n');
      assert.equal(await c.cmd('GETQUOTA ""', 'q0'), 'q0 NO Quota root does not exist\r\n');
      await f.append(message('One', 'x'.repeat(3000)));
      await f.append(message('Two', 'y'.repeat(10)));
      const used = (await f.store.quota.usage(f.user.id)).storage;
      await f.store.quota.setLimits(f.user.id, { storage: 1024 * 1024 });
      assert.equal(
        await c.cmd('GETQUOTAROOT INBOX', 'r1'),
        `* QUOTAROOT INBOX ""\r\n* QUOTA "" (STORAGE ${Math.ceil(used / 1024)} 1024)\r\nr1 OK Getquotaroot completed\r\n`,
      );
      await f.store.quota.setLimits(f.user.id, { messages: 100 });
      assert.equal(await c.cmd('GETQUOTA ""', 'q1'), `* QUOTA "" (STORAGE ${Math.ceil(used / 1024)} 1024 MESSAGE 2 100)\r\nq1 OK Getquota completed\r\n`);
      assert.equal(await c.cmd('GETQUOTAROOT Sent', 'r2'), `* QUOTAROOT Sent ""\r\n* QUOTA "" (STORAGE ${Math.ceil(used / 1024)} 1024 MESSAGE 2 100)\r\nr2 OK Getquotaroot completed\r\n`);
      // Unknown roots and mailboxes.
      assert.equal(await c.cmd('GETQUOTA "User quota"', 'q2'), 'q2 NO Quota root does not exist\r\n');
      assert.equal(await c.cmd('GETQUOTAROOT Nowhere', 'r3'), 'r3 NO [NONEXISTENT] Mailbox does not exist\r\n');
      // Not before login.
      const d = await RawClient.connect(f.port);
      assert.match(await d.cmd('GETQUOTAROOT INBOX', 'n1'), /^n1 BAD /);
      d.close();
      c.close();
    } finally {
      await f.close();
    }
  });

  test('APPEND, COPY and MOVE over quota: NO [OVERQUOTA], nothing stored; MOVE within the user and EXPUNGE work; STATUS DELETED-STORAGE', async () => {
    const f = await startImap();
    try {
      const c = await RawClient.connect(f.port);
      await c.login();
      await f.append(message('Big', 'b'.repeat(4000)));
      await f.append(message('Small', 's'));
      const limit = (await f.store.quota.usage(f.user.id)).storage + 100;
      await f.store.quota.setLimits(f.user.id, { storage: limit });
      const msg = message('Third', 'z'.repeat(200));
      assert.equal(await c.cmd(`APPEND INBOX {${msg.length}+}\r\n${msg}`, 'a1'), 'a1 NO [OVERQUOTA] Quota exceeded\r\n');
      assert.match(await c.cmd('SELECT INBOX', 's1'), /\* 2 EXISTS\r\n/);
      assert.equal(await c.cmd('COPY 1 Trash', 'c1'), 'c1 NO [OVERQUOTA] Quota exceeded\r\n');
      assert.equal(await c.cmd('STATUS Trash (MESSAGES)', 'st0'), '* STATUS "Trash" (MESSAGES 0)\r\nst0 OK STATUS completed\r\n');
      // A move within the user's mailboxes changes nothing: allowed even at the limit.
      assert.match(await c.cmd('MOVE 2 Archive', 'm1'), /m1 OK /);
      assert.equal(await c.cmd('STATUS Archive (MESSAGES)', 'st1'), '* STATUS "Archive" (MESSAGES 1)\r\nst1 OK STATUS completed\r\n');
      // STATUS DELETED and DELETED-STORAGE (1024-octet units, rounded up).
      assert.match(await c.cmd('STORE 1 +FLAGS.SILENT (\\Deleted)', 'f1'), /f1 OK /);
      const big = (await f.store.mail.listMessages(f.inbox.id))[0]!.size;
      assert.equal(
        await c.cmd('STATUS INBOX (DELETED DELETED-STORAGE MESSAGES)', 'st2'),
        `* STATUS "INBOX" (DELETED 1 DELETED-STORAGE ${Math.ceil(big / 1024)} MESSAGES 1)\r\nst2 OK STATUS completed\r\n`,
      );
      assert.match(await c.cmd('EXPUNGE', 'e1'), /\* 1 EXPUNGE\r\n\* 0 RECENT\r\ne1 OK /);
      assert.equal(await c.cmd('STATUS INBOX (DELETED DELETED-STORAGE)', 'st3'), '* STATUS "INBOX" (DELETED 0 DELETED-STORAGE 0)\r\nst3 OK STATUS completed\r\n');
      assert.match(await c.cmd(`APPEND INBOX {${msg.length}+}\r\n${msg}`, 'a2'), /^a2 OK \[APPENDUID \d+ 3\] /m);
      // At the message limit: a MOVE within the user still works, a COPY does not.
      await f.store.quota.setLimits(f.user.id, { storage: null, messages: 2 });
      assert.match(await c.cmd('MOVE 1 Trash', 'm2'), /m2 OK /);
      assert.match(await c.cmd('SELECT Trash', 's2'), /\* 1 EXISTS\r\n/);
      assert.equal(await c.cmd('COPY 1 INBOX', 'c2'), 'c2 NO [OVERQUOTA] Quota exceeded\r\n');
      assert.equal((await f.store.quota.usage(f.user.id)).messages, 2);
      c.close();
    } finally {
      await f.close();
    }
  });

  test('SETQUOTA: NO [NOPERM] without the administrator role, malformed commands BAD (the connection goes on); an administrator sets their limits', async () => {
    const f = await startImap();
    try {
      const c = await RawClient.connect(f.port);
      await c.login();
      assert.equal(await c.cmd('SETQUOTA "" (STORAGE 512)', 's1'), 's1 NO [NOPERM] Permission denied\r\n');
      assert.equal(await c.cmd('SETQUOTA "" ()', 's2'), 's2 NO [NOPERM] Permission denied\r\n');
      assert.equal(await c.cmd('SETQUOTA "" (FOO 1)', 's3'), 's3 NO [NOPERM] Permission denied\r\n');
      assert.deepEqual(await f.store.quota.settings(f.user.id), { storage: null, messages: null });
      for (const [tag, bad] of [
        ['b1', 'SETQUOTA "" (STORAGE -1)'],
        ['b2', 'SETQUOTA "" (STORAGE)'],
        ['b3', 'SETQUOTA "" ("STORAGE" 5)'],
        ['b4', 'SETQUOTA "" (STORAGE 5 STORAGE 6)'],
        ['b5', 'SETQUOTA "" (STORAGE 1.5)'],
        ['b6', 'SETQUOTA "" ((STORAGE) 5)'],
        ['b7', 'SETQUOTA "" STORAGE 5'],
        ['b8', 'SETQUOTA ""'],
        ['b9', 'GETQUOTA'],
        ['b10', 'GETQUOTA "" extra'],
        ['b11', 'GETQUOTAROOT'],
        ['b12', 'SETQUOTA "" (MESSAGE 99999999999999999999)'],
      ] as const) {
        assert.match(await c.cmd(bad, tag), new RegExp(`^${tag} BAD `), bad);
      }
      assert.equal(await c.cmd('NOOP', 'n'), 'n OK NOOP completed\r\n');
      c.close();
      // An administrator sets the limits of their own root; unnamed resources get none.
      await f.store.directory.setAdmin(f.user.address, true);
      await f.append(message('One', 'x'.repeat(3000)));
      const used = Math.ceil((await f.store.quota.usage(f.user.id)).storage / 1024);
      const a = await RawClient.connect(f.port);
      await a.login();
      assert.equal(await a.cmd('SETQUOTA "" (STORAGE 512 MESSAGE 10)', 'a1'), `* QUOTA "" (STORAGE ${used} 512 MESSAGE 1 10)\r\na1 OK Setquota completed\r\n`);
      assert.deepEqual(await f.store.quota.limits(f.user.id), { storage: 512 * 1024, messages: 10 });
      assert.equal(await a.cmd('SETQUOTA "" (message 5)', 'a2'), '* QUOTA "" (MESSAGE 1 5)\r\na2 OK Setquota completed\r\n');
      assert.deepEqual(await f.store.quota.settings(f.user.id), { storage: Number.POSITIVE_INFINITY, messages: 5 });
      assert.equal(await a.cmd('SETQUOTA "" (FOO 1)', 'a3'), 'a3 NO Unknown resource FOO\r\n');
      assert.equal(await a.cmd('SETQUOTA "User quota" (STORAGE 1)', 'a4'), 'a4 NO Quota root does not exist\r\n');
      assert.deepEqual(await f.store.quota.settings(f.user.id), { storage: Number.POSITIVE_INFINITY, messages: 5 }, 'refused commands changed nothing');
      assert.equal(await a.cmd('SETQUOTA "" ()', 'a5'), 'a5 OK Setquota completed\r\n');
      assert.equal(await a.cmd('GETQUOTAROOT INBOX', 'a6'), '* QUOTAROOT INBOX\r\na6 OK Getquotaroot completed\r\n');
      a.close();
    } finally {
      await f.close();
    }
  });
});

describe('QUOTA grammar and values', () => {
  test('SETQUOTA lists parse to upper-cased resources and number64 limits', () => {
    assert.deepEqual(parseSetQuota(args('"" (storage 512 MESSAGE 10)')), {
      root: '',
      limits: [
        { resource: 'STORAGE', limit: 512 },
        { resource: 'MESSAGE', limit: 10 },
      ],
    });
    assert.deepEqual(parseSetQuota(args('"" ()')), { root: '', limits: [] });
    assert.deepEqual(parseSetQuota(args('"#user/x" (X-OTHER 1)')), { root: '#user/x', limits: [{ resource: 'X-OTHER', limit: 1 }] });
  });

  test('STORAGE usage rounds up and its limit down; resources without a limit are left out', () => {
    assert.deepEqual(quotaItems({ storage: 1, messages: 3 }, { storage: 2047, messages: null }), ['STORAGE 1 1']);
    assert.deepEqual(quotaItems({ storage: 2048, messages: 3 }, { storage: null, messages: 5 }), ['MESSAGE 3 5']);
    assert.deepEqual(quotaItems({ storage: 0, messages: 0 }, { storage: null, messages: null }), []);
  });
});
