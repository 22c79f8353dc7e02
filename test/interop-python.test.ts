/**
 * Python's standard-library clients against mailroom: an imaplib session through the common commands (with a
 * literal APPEND and a hand-driven IDLE, which imaplib only gained in 3.14), and smtplib submission with STARTTLS +
 * AUTH whose message is then read by the recipient with poplib.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { writeFile } from 'node:fs/promises';
import { ALICE, ALICE_PASS, BOB, BOB_PASS, describeRun, messageId, runTool, skipUnless, sortedFlags, startServer, tempDir, testMessage } from './helpers/interop.js';

const IMAP_SCRIPT = String.raw`
import imaplib, json, sys
port, user, pw = int(sys.argv[1]), sys.argv[2], sys.argv[3]
out = {}
def conv(d):
    if isinstance(d, bytes): return d.decode('latin1')
    if isinstance(d, tuple): return [conv(x) for x in d]
    return d
def rec(name, res):
    typ, data = res
    out[name] = [typ, [conv(d) for d in data]]
    return typ, data
bad = imaplib.IMAP4('127.0.0.1', port, timeout=10)
try:
    bad.login(user, pw + 'x')
    out['bad_login'] = 'accepted'
except imaplib.IMAP4.error as e:
    out['bad_login'] = str(e)
bad.logout()
M = imaplib.IMAP4('127.0.0.1', port, timeout=10)
out['capabilities'] = sorted(M.capabilities)
rec('login', M.login(user, pw))
rec('create', M.create('Python/Sub'))
rec('create_again', M.create('Python/Sub'))
rec('list', M.list())
rec('list_pct', M.list('""', '%'))
rec('select', M.select('INBOX'))
out['uidvalidity'] = conv(M.untagged_responses.get('UIDVALIDITY', [b''])[0])
rec('fetch', M.fetch('1:*', '(UID FLAGS RFC822.SIZE)'))
rec('fetch_parts', M.fetch('2', '(BODY.PEEK[HEADER.FIELDS (SUBJECT)] BODY.PEEK[TEXT])'))
typ, data = M.uid('FETCH', '3', '(BODY.PEEK[])')
out['uid_fetch_body'] = [typ, data[0][0].decode('latin1'), data[0][1].hex()]
rec('uid_search_unseen', M.uid('SEARCH', None, 'UNSEEN'))
rec('search_subject', M.search(None, 'SUBJECT', '"message 4"'))
try:
    M.search(None, 'NOSUCHKEY')
    out['search_bad'] = 'accepted'
except imaplib.IMAP4.error as e:
    out['search_bad'] = str(e)
rec('store', M.store('1:2', '+FLAGS', r'(\Flagged $Work)'))
rec('copy', M.copy('1:3', 'Python/Sub'))
rec('store_del', M.store('3', '+FLAGS.SILENT', r'(\Deleted)'))
rec('expunge', M.expunge())
rec('fetch_after', M.fetch('1:*', '(UID FLAGS)'))
msg = bytes.fromhex(sys.argv[4])
rec('append', M.append('Python/Sub', r'(\Seen $Later)', imaplib.Time2Internaldate(1700000000), msg))
rec('status', M.status('Python/Sub', '(MESSAGES UIDNEXT UNSEEN)'))
rec('select_sub', M.select('Python/Sub', readonly=True))
typ, data = M.fetch('4', '(FLAGS INTERNALDATE BODY[])')
out['fetch_appended'] = [typ, data[0][0].decode('latin1'), data[0][1].hex()]
rec('store_readonly', M.store('1', '+FLAGS', r'(\Answered)'))
M.select('INBOX')
M.send(b'IDLE1 IDLE\r\n')
out['idle_cont'] = M.readline().decode()
other = imaplib.IMAP4('127.0.0.1', port, timeout=10)
other.login(user, pw)
other.append('INBOX', None, None, b'Subject: while idling\r\n\r\nhi\r\n')
other.logout()
push = [M.readline().decode()]
while not push[-1].endswith('EXISTS\r\n'):
    push.append(M.readline().decode())
out['idle_push'] = push
M.send(b'DONE\r\n')
done = [M.readline().decode()]
while not done[-1].startswith('IDLE1 '):
    done.append(M.readline().decode())
out['idle_done'] = done
rec('close', M.close())
rec('logout', M.logout())
print(json.dumps(out))
`;

type Rec = [string, Array<string | null | Array<string>>];
interface ImapResult {
  bad_login: string;
  search_bad: string;
  capabilities: string[];
  uidvalidity: string;
  uid_fetch_body: [string, string, string];
  fetch_appended: [string, string, string];
  idle_cont: string;
  idle_push: string[];
  idle_done: string[];
  [name: string]: Rec | string | string[];
}

test('python3 imaplib: LOGIN, CREATE, LIST, SELECT, FETCH, UID SEARCH, STORE, COPY, EXPUNGE, APPEND literal, EXAMINE, IDLE', { skip: skipUnless('python3') }, async (t) => {
  const s = await startServer(t);
  const dir = await tempDir(t, 'imaplib');
  const msgs = [1, 2, 3, 4, 5].map((n) => testMessage(n, { attachment: n === 3 }));
  for (const [i, raw] of msgs.entries()) await s.append('INBOX', raw, i === 0 ? ['\\Seen'] : []);
  const appended = Buffer.from('From: py@example.org\r\nSubject: appended\r\n\r\nline1\r\n.line2\r\n8-bit: \xe9\r\n', 'latin1');
  const r = await runTool('python3', ['-c', IMAP_SCRIPT, String(s.port('imap')), ALICE, ALICE_PASS, appended.toString('hex')], { home: dir, timeoutMs: 30_000 });
  assert.equal(r.code, 0, describeRun('python3', r));
  const o = JSON.parse(r.stdout) as ImapResult;
  const rec = (name: string): Rec => o[name] as Rec;

  assert.match(o.bad_login, /AUTHENTICATIONFAILED/);
  // Read before login: LITERAL- there (LITERAL+ once logged in).
  for (const cap of ['IMAP4REV1', 'IDLE', 'UIDPLUS', 'LITERAL-', 'STARTTLS', 'AUTH=PLAIN']) assert.ok(o.capabilities.includes(cap), cap);
  assert.equal(rec('login')[0], 'OK');
  assert.equal(rec('create')[0], 'OK');
  assert.equal(rec('create_again')[0], 'NO');
  assert.match(String(rec('create_again')[1][0]), /ALREADYEXISTS/);
  const listed = rec('list')[1].map(String);
  assert.ok(listed.includes('(\\HasChildren) "/" "Python"'), listed.join('\n'));
  assert.ok(listed.includes('(\\HasNoChildren) "/" "Python/Sub"'), listed.join('\n'));
  assert.ok(listed.some((l) => /^\(.*\) "\/" "?INBOX"?$/.test(l)));
  assert.ok(!rec('list_pct')[1].map(String).some((l) => l.includes('Python/Sub')), '% does not descend into children');
  assert.deepEqual(rec('select'), ['OK', ['5']]);
  const box = await s.mailbox('INBOX');
  assert.equal(o.uidvalidity, String(box.uidValidity));
  // This is the first session to select INBOX since the messages arrived: \Recent (IMAP4rev1) is set on all.
  assert.deepEqual(rec('fetch'), ['OK', msgs.map((m, i) => `${i + 1} (UID ${i + 1} FLAGS (${i === 0 ? '\\Seen ' : ''}\\Recent) RFC822.SIZE ${m.length})`)]);
  const parts = rec('fetch_parts');
  assert.equal(parts[0], 'OK');
  const text2 = msgs[1]!.subarray(msgs[1]!.indexOf('\r\n\r\n') + 4);
  assert.deepEqual(parts[1][0], ['2 (BODY[HEADER.FIELDS (SUBJECT)] {30}', 'Subject: Interop message 2\r\n\r\n']);
  assert.deepEqual(parts[1][1], [` BODY[TEXT] {${text2.length}}`, text2.toString('latin1')]);
  assert.equal(o.uid_fetch_body[0], 'OK');
  assert.equal(o.uid_fetch_body[1], `3 (UID 3 BODY[] {${msgs[2]!.length}}`);
  assert.deepEqual(Buffer.from(o.uid_fetch_body[2], 'hex'), msgs[2], 'BODY[] is the stored message byte for byte');
  assert.deepEqual(rec('uid_search_unseen'), ['OK', ['2 3 4 5']]);
  assert.deepEqual(rec('search_subject'), ['OK', ['4']]);
  assert.match(String(o.search_bad), /SEARCH command error: BAD/);
  assert.deepEqual(rec('store'), ['OK', ['1 (FLAGS (\\Seen \\Flagged $Work \\Recent))', '2 (FLAGS (\\Flagged $Work \\Recent))']]);
  assert.equal(rec('copy')[0], 'OK');
  const sub = await s.mailbox('Python/Sub');
  assert.equal(rec('copy')[1][0], `[COPYUID ${sub.uidValidity} 1:3 1:3] Copy completed`);
  assert.deepEqual(rec('expunge'), ['OK', ['3']]);
  assert.deepEqual(rec('fetch_after'), ['OK', ['1 (UID 1 FLAGS (\\Seen \\Flagged $Work \\Recent))', '2 (UID 2 FLAGS (\\Flagged $Work \\Recent))', '3 (UID 4 FLAGS (\\Recent))', '4 (UID 5 FLAGS (\\Recent))']]);
  assert.deepEqual(rec('append'), ['OK', [`[APPENDUID ${sub.uidValidity} 4] Append completed`]]);
  assert.deepEqual(rec('status'), ['OK', ['"Python/Sub" (MESSAGES 4 UIDNEXT 5 UNSEEN 2)']]);
  assert.equal(rec('select_sub')[0], 'OK');
  assert.equal(o.fetch_appended[0], 'OK');
  // Python/Sub was only EXAMINEd: its messages keep \Recent, and EXAMINE shows it (as Dovecot does).
  assert.match(o.fetch_appended[1], /^4 \(FLAGS \((\\Seen \$Later|\$Later \\Seen) \\Recent\) INTERNALDATE "14-Nov-2023 \d\d:13:20 [+-]\d{4}" BODY\[\] \{\d+\}$/);
  assert.deepEqual(Buffer.from(o.fetch_appended[2], 'hex'), appended);
  assert.equal(rec('store_readonly')[0], 'NO', 'STORE in an EXAMINEd mailbox is refused');
  assert.equal(o.idle_cont.slice(0, 2), '+ ');
  assert.equal(o.idle_push.at(-1), '* 5 EXISTS\r\n');
  assert.match(o.idle_done.at(-1) ?? '', /^IDLE1 OK/);
  assert.equal(rec('close')[0], 'OK');
  assert.equal(rec('logout')[0], 'BYE');

  // The server's own view afterwards.
  const inbox = await s.messages('INBOX');
  assert.deepEqual(inbox.map((m) => [m.uid, sortedFlags(m.flags)]), [[1, ['$Work', '\\Flagged', '\\Seen']], [2, ['$Work', '\\Flagged']], [4, []], [5, []], [6, []]]);
  const copies = await s.messages('Python/Sub');
  assert.deepEqual(copies.map((m) => m.raw), [msgs[0], msgs[1], msgs[2], appended]);
  assert.deepEqual(sortedFlags(copies[3]!.flags), ['$Later', '\\Seen']);
  assert.equal(copies[3]!.internalDate.getTime(), 1700000000_000);
});

const SMTP_SCRIPT = String.raw`
import smtplib, poplib, ssl, json, sys, time
sub, pop, user, pw, rcpt, rpw = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6]
out = {}
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
s = smtplib.SMTP('127.0.0.1', sub, timeout=10)
out['ehlo1'] = s.ehlo('client.example.org')[0]
out['esmtp1'] = sorted(s.esmtp_features.keys())
out['starttls'] = s.starttls(context=ctx)[0]
s.ehlo('client.example.org')
out['esmtp2'] = sorted(s.esmtp_features.keys())
out['auth'] = s.esmtp_features.get('auth', '').split()
try:
    s.login(user, pw + 'x')
    out['bad_login'] = 'accepted'
except smtplib.SMTPAuthenticationError as e:
    out['bad_login'] = e.smtp_code
out['login'] = s.login(user, pw)[0]
try:
    s.sendmail(rcpt, [rcpt], b'Subject: x\r\n\r\nx\r\n')
    out['spoof'] = 'accepted'
except smtplib.SMTPException as e:
    out['spoof'] = str(e)
    s.rset()
with open(sys.argv[7], 'rb') as f:
    msg = f.read()
out['refused'] = s.sendmail(user, [rcpt], msg)
out['quit'] = s.quit()[0]
for i in range(100):
    p = poplib.POP3('127.0.0.1', pop, timeout=10)
    p.stls(context=ctx)
    p.user(rcpt); p.pass_(rpw)
    if p.stat()[0] > 0: break
    p.quit(); time.sleep(0.1)
out['stat'] = list(p.stat())
out['retr'] = b'\r\n'.join(p.retr(1)[1]).hex()
p.dele(1)
out['popquit'] = p.quit().decode()
print(json.dumps(out))
`;

interface SmtpResult {
  ehlo1: number;
  esmtp1: string[];
  starttls: number;
  esmtp2: string[];
  auth: string[];
  bad_login: number | string;
  login: number;
  spoof: string;
  refused: Record<string, unknown>;
  quit: number;
  stat: [number, number];
  retr: string;
  popquit: string;
}

test('python3 smtplib: submission with STARTTLS + AUTH; the recipient reads it with poplib over STLS', { skip: skipUnless('python3') }, async (t) => {
  const s = await startServer(t);
  const dir = await tempDir(t, 'smtplib');
  const msg = testMessage(7, { from: `Alice <${ALICE}>`, to: `Bob <${BOB}>`, subject: 'sent with smtplib', attachment: true });
  const file = join(dir, 'msg.eml');
  await writeFile(file, msg);
  const r = await runTool('python3', ['-c', SMTP_SCRIPT, String(s.port('submission')), String(s.port('pop3')), ALICE, ALICE_PASS, BOB, BOB_PASS, file], { home: dir, timeoutMs: 40_000 });
  assert.equal(r.code, 0, describeRun('python3', r));
  const o = JSON.parse(r.stdout) as SmtpResult;
  assert.equal(o.ehlo1, 250);
  assert.ok(o.esmtp1.includes('starttls'));
  assert.equal(o.starttls, 220);
  assert.ok(!o.esmtp2.includes('starttls'), 'STARTTLS is not offered again inside TLS');
  assert.ok(o.auth.includes('PLAIN'), o.auth.join(' '));
  assert.equal(o.bad_login, 535);
  assert.equal(o.login, 235);
  assert.notEqual(o.spoof, 'accepted', 'an authenticated user cannot send as another local user');
  assert.deepEqual(o.refused, {});
  assert.equal(o.quit, 221);

  // poplib drops the final CRLF; the delivered message is the submitted one after the trace fields.
  const got = Buffer.from(o.retr, 'hex');
  assert.equal(o.stat[1], got.length + 2);
  const text = got.toString('latin1');
  const start = text.indexOf('From: Alice');
  assert.ok(start > 0, text.slice(0, 500));
  const trace = text.slice(0, start);
  assert.match(trace, /^Return-Path: <alice@example\.org>\r\n/);
  assert.match(trace, /\r\nDelivered-To: bob@example\.org\r\n/);
  assert.match(trace, /Received: from client\.example\.org \(.*127\.0\.0\.1.*\)\r\n\tby mx\.example\.org .*with ESMTPSA/s, 'RFC 3848: TLS + AUTH is ESMTPSA');
  assert.deepEqual(Buffer.from(text.slice(start) + '\r\n', 'latin1'), msg, 'body and header delivered byte for byte');
  assert.match(o.popquit, /^\+OK/);
  assert.deepEqual(await s.messages('INBOX', s.bob), [], 'DELE + QUIT emptied the maildrop');
  const sent = await s.m.store.mail.getMailbox(s.alice.id, 'Sent');
  if (sent) {
    // When the server keeps a copy in Sent, it is the submitted message.
    const copies = await s.messages('Sent');
    for (const c of copies) assert.equal(messageId(c.raw), messageId(msg));
  }
});
