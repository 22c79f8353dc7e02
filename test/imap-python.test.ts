/** Python's imaplib (an IMAP4rev1 client) against the IMAP server, if python3 is installed. */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { startImap, USER, PASSWORD, message, type ImapFixture } from './imap-helpers.js';

const PY = '/usr/bin/python3';

const SCRIPT = `
import imaplib, sys, json
port, user, pw = int(sys.argv[1]), sys.argv[2], sys.argv[3]
M = imaplib.IMAP4('127.0.0.1', port)
out = {}
out['caps'] = sorted(M.capabilities)
M.login(user, pw)
typ, data = M.list()
out['list'] = [d.decode() for d in data]
M.create('Caf&AOk-')
typ, data = M.select('INBOX')
out['exists'] = int(data[0])
typ, data = M.search(None, 'UNSEEN')
out['unseen'] = data[0].decode()
typ, data = M.fetch('1', '(RFC822)')
out['rfc822'] = data[0][1].decode()
typ, data = M.fetch('1', '(FLAGS)')
out['flags_after'] = data[0].decode()
typ, data = M.store('2', '+FLAGS', '\\\\Deleted')
typ, data = M.expunge()
out['expunged'] = [d.decode() for d in data]
typ, data = M.append('INBOX', '(\\\\Seen)', None, b'Subject: from python\\r\\n\\r\\nhi\\r\\n')
out['append'] = data[0].decode()
typ, data = M.uid('SEARCH', 'SUBJECT', 'python')
out['uidsearch'] = data[0].decode()
M.close()
M.logout()
print(json.dumps(out))
`;

describe('python imaplib', { skip: existsSync(PY) ? false : 'python3 is not installed' }, () => {
  let f: ImapFixture;
  before(async () => {
    f = await startImap();
    await f.append(message('py one', 'first'));
    await f.append(message('py two', 'second'));
  });
  after(async () => {
    await f.close();
  });

  test('login, list, select, search, fetch, store, expunge, append', async () => {
    const stdout = await new Promise<string>((resolve, reject) => {
      execFile(PY, ['-c', SCRIPT, String(f.port), USER, PASSWORD], { timeout: 20_000 }, (err, so, se) => (err ? reject(new Error(`${err.message}\n${se}`)) : resolve(so)));
    });
    const out = JSON.parse(stdout) as Record<string, unknown>;
    assert.ok((out.caps as string[]).includes('IMAP4REV1'));
    assert.ok((out.list as string[]).includes('(\\HasNoChildren) "/" "INBOX"'));
    assert.equal(out.exists, 2);
    assert.equal(out.unseen, '1 2');
    assert.equal(out.rfc822, message('py one', 'first'));
    assert.match(out.flags_after as string, /^1 \(FLAGS \(\\Seen \\Recent\)\)$/);
    assert.deepEqual(out.expunged, ['2']);
    assert.match(out.append as string, /^\[APPENDUID \d+ 3\] Append completed$/);
    assert.equal(out.uidsearch, '3');
    assert.ok(await f.store.mail.getMailbox(f.user.id, 'Caf\u00e9'), 'modified UTF-7 name decoded');
  });
});
