/** Debian's curl as an IMAP client: LIST, FETCH by UID, APPEND (upload) and a custom SEARCH. */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startImap, USER, PASSWORD, message, type ImapFixture } from './imap-helpers.js';

const CURL = '/usr/bin/curl';

function curl(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(CURL, ['-s', '-S', '--max-time', '20', '--user', `${USER}:${PASSWORD}`, ...args], { encoding: 'latin1' }, (err, stdout, stderr) => {
      const code = err && typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : err ? 1 : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

describe('curl against the IMAP server', { skip: existsSync(CURL) ? false : 'curl is not installed' }, () => {
  let f: ImapFixture;
  let base: string;
  before(async () => {
    f = await startImap();
    await f.append(message('For curl', 'curl body'));
    base = `imap://127.0.0.1:${f.port}`;
  });
  after(async () => {
    await f.close();
  });

  test('LIST', async () => {
    const r = await curl([`${base}/`]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /\* LIST \(\\HasNoChildren\) "\/" "INBOX"\r\n/);
    assert.match(r.stdout, /\* LIST \(\\HasNoChildren \\Sent\) "\/" "Sent"\r\n/);
  });

  test('FETCH by UID', async () => {
    const r = await curl([`${base}/INBOX;UID=1`]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, message('For curl', 'curl body'));
    const sec = await curl([`${base}/INBOX;UID=1;SECTION=TEXT`]);
    assert.equal(sec.stdout, 'curl body\r\n');
  });

  test('APPEND (upload) and SEARCH', async () => {
    const file = join(f.dataDir, 'upload.eml');
    writeFileSync(file, message('Uploaded by curl', 'uploaded'));
    const up = await curl(['-T', file, `${base}/Drafts`]);
    assert.equal(up.code, 0, up.stderr);
    const drafts = (await f.store.mail.getMailbox(f.user.id, 'Drafts'))!;
    const msgs = await f.store.mail.listMessages(drafts.id);
    assert.equal(msgs.length, 1);
    assert.equal((await f.store.mail.readBytes(drafts.id, msgs[0]!.uid)).toString(), message('Uploaded by curl', 'uploaded'));
    const s = await curl(['-X', 'SEARCH SUBJECT curl', `${base}/Drafts`]);
    assert.equal(s.code, 0, s.stderr);
    assert.match(s.stdout, /\* SEARCH 1\r\n/);
  });
});
