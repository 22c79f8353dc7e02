/**
 * isync's mbsync (a demanding UIDPLUS client) against the IMAP server: a two-way sync into a local
 * Maildir, then a local flag change and a local delete pushed back to the server.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startImap, message, USER, PASSWORD, type ImapFixture } from './imap-helpers.js';

const MBSYNC = '/usr/bin/mbsync';

describe('mbsync against the IMAP server', { skip: existsSync(MBSYNC) ? false : 'mbsync (isync) is not installed' }, () => {
  let f: ImapFixture;
  let dir: string;
  const run = (): Promise<string> =>
    new Promise((resolve, reject) =>
      execFile(MBSYNC, ['-c', join(dir, 'rc'), 'c'], { timeout: 30_000 }, (e, so, se) => (e ? reject(new Error(`${e.message}\n${so}\n${se}`)) : resolve(so + se))),
    );
  before(async () => {
    f = await startImap();
    for (let i = 0; i < 3; i++) await f.append(message(`mb ${i}`), i === 0 ? ['\\Seen'] : []);
    dir = mkdtempSync(join(tmpdir(), 'mbsync-'));
    mkdirSync(join(dir, 'mail'));
    writeFileSync(
      join(dir, 'rc'),
      [
        'IMAPAccount t',
        'Host 127.0.0.1',
        `Port ${f.port}`,
        `User ${USER}`,
        `Pass "${PASSWORD}"`,
        'SSLType None',
        'AuthMechs LOGIN',
        '',
        'IMAPStore remote',
        'Account t',
        '',
        'MaildirStore local',
        `Path ${dir}/mail/`,
        `Inbox ${dir}/mail/INBOX`,
        'SubFolders Verbatim',
        '',
        'Channel c',
        'Far :remote:',
        'Near :local:',
        'Patterns *',
        'Create Both',
        'Expunge Both',
        'SyncState *',
        '',
      ].join('\n'),
    );
  });
  after(async () => {
    await f.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('pull, then push a flag change and a deletion', async () => {
    await run();
    assert.deepEqual(readdirSync(join(dir, 'mail')).sort(), ['Archive', 'Drafts', 'INBOX', 'Junk', 'Sent', 'Trash']);
    const cur = readdirSync(join(dir, 'mail', 'INBOX', 'cur'));
    const neu = readdirSync(join(dir, 'mail', 'INBOX', 'new'));
    assert.equal(cur.length + neu.length, 3);
    assert.ok(cur.some((n) => /U=1:2,S$/.test(n)), cur.join(' '));

    // Locally: flag UID 2, delete UID 3.
    const all = [...cur.map((n) => ['cur', n]), ...neu.map((n) => ['new', n])] as Array<[string, string]>;
    const two = all.find(([, n]) => /U=2:/.test(n))!;
    const three = all.find(([, n]) => /U=3:/.test(n))!;
    renameSync(join(dir, 'mail', 'INBOX', two[0], two[1]), join(dir, 'mail', 'INBOX', 'cur', two[1].replace(/:2,.*$/, ':2,F')));
    unlinkSync(join(dir, 'mail', 'INBOX', three[0], three[1]));
    await run();
    const msgs = await f.store.mail.listMessages(f.inbox.id);
    assert.deepEqual(
      msgs.map((m) => m.uid),
      [1, 2],
    );
    assert.deepEqual(msgs[1]!.flags, ['\\Flagged']);
  });
});
