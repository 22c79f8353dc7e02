/**
 * POP3 over raw sockets against a real SQLite store: every command and response, the download-and-delete
 * and leave-a-copy workflows, RSET, dropped connections, [IN-USE], exact bytes, and the limits.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { RawPop3, startPop3, message, unstuff, USER, PASSWORD } from './pop3-helpers.js';

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');

test('greeting, CAPA before login on loopback, unknown and misplaced commands', async (t) => {
  const f = await startPop3();
  t.after(() => f.close());
  const { c, greeting } = await RawPop3.open(f.port);
  assert.match(greeting, /^\+OK pop\.test POP3 server \(mailroom\) ready$/);
  const capa = await c.lines('CAPA');
  assert.equal(capa.status, '+OK Capability list follows');
  assert.deepEqual(capa.lines, ['TOP', 'UIDL', 'RESP-CODES', 'AUTH-RESP-CODE', 'PIPELINING', 'USER', 'SASL PLAIN LOGIN', 'EXPIRE NEVER', 'IMPLEMENTATION mailroom']);
  assert.equal(await c.cmd('XYZZY'), '-ERR Unknown command');
  assert.equal(await c.cmd('STAT'), '-ERR STAT is not allowed before login');
  assert.equal(await c.cmd('RETR 1'), '-ERR RETR is not allowed before login');
  assert.equal(await c.cmd('PASS nope'), '-ERR PASS must follow a successful USER');
  assert.equal(await c.cmd('STLS'), '-ERR STLS is not available');
  assert.equal(await c.cmd('APOP alice 0123456789abcdef0123456789abcdef'), '-ERR [AUTH] APOP is not available on this server');
  assert.equal(await c.cmd(''), '-ERR Empty command');
  assert.equal(await c.cmd('QUIT'), '+OK pop.test POP3 server signing off');
  assert.equal(await c.closed(), '');
});

test('USER/PASS: wrong password gets [AUTH]; then STAT, LIST, UIDL, RETR, TOP, NOOP, DELE, RSET', async (t) => {
  const f = await startPop3();
  t.after(() => f.close());
  const a = await f.append(message('one'));
  const b = await f.append(message('two', 'line 1\r\nline 2\r\nline 3\r\n'));
  const { c } = await RawPop3.open(f.port);
  assert.equal(await c.cmd(`USER ${USER}`), '+OK Send PASS');
  assert.equal(await c.cmd('PASS wrong'), '-ERR [AUTH] Authentication failed');
  assert.equal(await c.cmd('USER nobody@example.org'), '+OK Send PASS', 'USER does not reveal whether the user exists');
  assert.equal(await c.cmd(`PASS ${PASSWORD}`), '-ERR [AUTH] Authentication failed');
  assert.equal(await c.cmd(`USER ${USER.toUpperCase()}`), '+OK Send PASS');
  const sizeA = Buffer.byteLength(message('one'));
  const sizeB = Buffer.byteLength(message('two', 'line 1\r\nline 2\r\nline 3\r\n'));
  assert.equal(await c.cmd(`PASS ${PASSWORD}`), `+OK Logged in; maildrop has 2 messages (${sizeA + sizeB} octets)`);
  assert.equal(await c.cmd('USER x'), '-ERR USER is not allowed after login');
  assert.equal(await c.cmd('STAT'), `+OK 2 ${sizeA + sizeB}`);
  assert.deepEqual(await c.lines('LIST'), { status: `+OK 2 messages (${sizeA + sizeB} octets)`, lines: [`1 ${sizeA}`, `2 ${sizeB}`] });
  assert.equal(await c.cmd('LIST 2'), `+OK 2 ${sizeB}`);
  assert.equal(await c.cmd('LIST 3'), '-ERR There is no message 3');
  assert.equal(await c.cmd('LIST 0'), '-ERR There is no message 0');
  assert.equal(await c.cmd('LIST x'), '-ERR LIST: Invalid message number');
  assert.deepEqual(await c.lines('UIDL'), { status: '+OK Unique-id listing follows', lines: [`1 ${a.emailId}`, `2 ${b.emailId}`] });
  assert.equal(await c.cmd('UIDL 1'), `+OK 1 ${a.emailId}`);
  assert.match(a.emailId, /^[\x21-\x7e]{1,70}$/);
  const r = await c.multi('RETR 1');
  assert.equal(r.status, `+OK ${sizeA} octets`);
  assert.equal(unstuff(r.body!).toString('utf8'), message('one'));
  const top = await c.multi('TOP 2 1');
  assert.equal(top.status, '+OK Top of message follows');
  assert.equal(unstuff(top.body!).toString('utf8'), message('two', 'line 1\r\n'));
  const top0 = await c.multi('TOP 2 0');
  assert.equal(unstuff(top0.body!).toString('utf8'), message('two', ''));
  const topAll = await c.multi('TOP 2 99');
  assert.equal(unstuff(topAll.body!).toString('utf8'), message('two', 'line 1\r\nline 2\r\nline 3\r\n'));
  assert.equal(await c.cmd('TOP 3 1'), '-ERR There is no message 3');
  assert.equal(await c.cmd('NOOP'), '+OK');
  assert.equal(await c.cmd('DELE 1'), '+OK Message 1 deleted');
  assert.equal(await c.cmd('DELE 1'), '-ERR Message 1 is already deleted');
  assert.equal(await c.cmd('RETR 1'), '-ERR Message 1 is already deleted');
  assert.equal(await c.cmd('LIST 1'), '-ERR Message 1 is already deleted');
  assert.equal(await c.cmd('STAT'), `+OK 1 ${sizeB}`);
  assert.deepEqual((await c.lines('UIDL')).lines, [`2 ${b.emailId}`]);
  assert.equal(await c.cmd('RSET'), `+OK Maildrop has 2 messages (${sizeA + sizeB} octets)`);
  assert.equal(await c.cmd('STAT'), `+OK 2 ${sizeA + sizeB}`);
  assert.equal(await c.cmd('QUIT'), '+OK pop.test POP3 server signing off (0 messages deleted)');
  await c.closed();
  assert.equal((await f.store.mail.listMessages(f.inbox.id)).length, 2, 'RSET left everything in place');
  // RSET also forgot the retrieval, so nothing was marked \Seen.
  assert.deepEqual((await f.store.mail.listMessages(f.inbox.id)).map((m) => m.flags), [[], []]);
});

test('workflow: download everything, delete it, QUIT commits one expunge; next login is empty', async (t) => {
  const f = await startPop3();
  t.after(() => f.close());
  const raws = [message('a'), message('b'), message('c')];
  for (const r of raws) await f.append(r);
  const before = await f.store.mail.status(f.inbox.id);
  const { c } = await RawPop3.open(f.port);
  assert.match(await c.login(), /^\+OK/);
  const n = Number((await c.cmd('STAT')).split(' ')[1]);
  assert.equal(n, 3);
  for (let i = 1; i <= n; i++) {
    const r = await c.multi(`RETR ${i}`);
    assert.equal(unstuff(r.body!).toString('utf8'), raws[i - 1]);
    assert.equal(await c.cmd(`DELE ${i}`), `+OK Message ${i} deleted`);
  }
  assert.equal(await c.cmd('STAT'), '+OK 0 0');
  assert.equal((await f.store.mail.listMessages(f.inbox.id)).length, 3, 'nothing is deleted before QUIT');
  assert.equal(await c.cmd('QUIT'), '+OK pop.test POP3 server signing off (3 messages deleted)');
  await c.closed();
  assert.equal((await f.store.mail.listMessages(f.inbox.id)).length, 0);
  const changes = await f.store.mail.changesSince(f.inbox.id, before.highestModseq);
  assert.deepEqual(changes.expunged, [1, 2, 3]);
  assert.equal(changes.highestModseq, before.highestModseq + 1, 'one transaction for the whole QUIT');
  const { c: c2 } = await RawPop3.open(f.port);
  assert.equal(await c2.login(), '+OK Logged in; maildrop has 0 messages (0 octets)');
  assert.deepEqual(await c2.lines('LIST'), { status: '+OK 0 messages (0 octets)', lines: [] });
  assert.equal(await c2.cmd('QUIT'), '+OK pop.test POP3 server signing off (0 messages deleted)');
});

test('workflow: leave a copy and fetch only new messages by UIDL across sessions; retrieved ones get \\Seen', async (t) => {
  const f = await startPop3();
  t.after(() => f.close());
  await f.append(message('first'));
  await f.append(message('second'));
  const seenUidl = new Set<string>();
  async function fetchNew(): Promise<string[]> {
    const { c } = await RawPop3.open(f.port);
    assert.match(await c.login(), /^\+OK/);
    const got: string[] = [];
    for (const l of (await c.lines('UIDL')).lines) {
      const [num, id] = l.split(' ') as [string, string];
      if (seenUidl.has(id)) continue;
      const r = await c.multi(`RETR ${num}`);
      got.push(/Subject: (\w+)/.exec(unstuff(r.body!).toString('utf8'))![1]!);
      seenUidl.add(id);
    }
    assert.match(await c.cmd('QUIT'), /^\+OK .*\(0 messages deleted\)$/);
    await c.closed();
    return got;
  }
  assert.deepEqual(await fetchNew(), ['first', 'second']);
  assert.deepEqual((await f.store.mail.listMessages(f.inbox.id)).map((m) => m.flags), [['\\Seen'], ['\\Seen']]);
  await f.append(message('third'));
  assert.deepEqual(await fetchNew(), ['third']);
  assert.deepEqual(await fetchNew(), []);
  assert.equal((await f.store.mail.listMessages(f.inbox.id)).length, 3);
});

test('markSeenOnRetrieve: false leaves flags alone', async (t) => {
  const f = await startPop3({ markSeenOnRetrieve: false });
  t.after(() => f.close());
  await f.append(message('x'));
  const { c } = await RawPop3.open(f.port);
  await c.login();
  await c.multi('RETR 1');
  await c.cmd('QUIT');
  await c.closed();
  assert.deepEqual((await f.store.mail.listMessages(f.inbox.id)).map((m) => m.flags), [[]]);
});

test('a dropped connection commits nothing and frees the maildrop; [IN-USE] while another session holds it', async (t) => {
  const f = await startPop3();
  t.after(() => f.close());
  await f.append(message('keep'));
  const { c } = await RawPop3.open(f.port);
  assert.match(await c.login(), /^\+OK/);
  await c.multi('RETR 1');
  assert.equal(await c.cmd('DELE 1'), '+OK Message 1 deleted');
  const { c: other } = await RawPop3.open(f.port);
  assert.equal(await other.login(), '-ERR [IN-USE] Mailbox is locked by another POP3 session');
  assert.equal(await other.cmd('STAT'), '-ERR STAT is not allowed before login', 'the failed login left the session in AUTHORIZATION');
  c.destroy();
  // The lock is released once the server notices the drop.
  let reply = '';
  for (let i = 0; i < 250; i++) {
    reply = await other.login();
    if (reply.startsWith('+OK')) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.match(reply, /^\+OK Logged in; maildrop has 1 message /);
  const msgs = await f.store.mail.listMessages(f.inbox.id);
  assert.equal(msgs.length, 1, 'DELE without QUIT deleted nothing');
  assert.deepEqual(msgs[0]!.flags, [], 'RETR without QUIT set no \\Seen');
  assert.match(await other.cmd('QUIT'), /^\+OK/);
});

test('bytes are exact: dot lines, 8-bit bytes, NUL, no final CRLF; octet counts match', async (t) => {
  const f = await startPop3();
  t.after(() => f.close());
  const tricky = Buffer.concat([
    Buffer.from('Subject: dots\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: 8bit\r\n\r\n'),
    Buffer.from('.leading dot\r\n..two dots\r\n.\r\nmiddle . dot\r\n'),
    Buffer.from([0xe9, 0xe8, 0xff, 0x00, 0x80, 0x0d, 0x0a]),
    Buffer.from('.last line without CRLF'),
  ]);
  await f.append(tricky);
  // Bare LF is normalised to CRLF by the store; POP3 sends what is stored.
  await f.append(Buffer.from('Subject: lf\n\n.dot\nend\n'));
  const stored1 = await f.store.mail.readBytes(f.inbox.id, 1);
  const stored2 = await f.store.mail.readBytes(f.inbox.id, 2);
  assert.deepEqual(stored1, tricky);
  assert.equal(stored2.toString('latin1'), 'Subject: lf\r\n\r\n.dot\r\nend\r\n');
  const { c } = await RawPop3.open(f.port);
  await c.login();
  assert.equal(await c.cmd('LIST 1'), `+OK 1 ${tricky.length}`);
  const r1 = await c.multi('RETR 1');
  assert.equal(r1.status, `+OK ${tricky.length} octets`);
  assert.ok(r1.body!.includes(Buffer.from('\r\n..leading dot\r\n...two dots\r\n..\r\nmiddle . dot\r\n')));
  // The server adds the CRLF the message lacks before the terminating ".".
  assert.deepEqual(unstuff(r1.body!), Buffer.concat([tricky, Buffer.from('\r\n')]));
  const r2 = await c.multi('RETR 2');
  assert.equal(r2.status, `+OK ${stored2.length} octets`);
  assert.deepEqual(r2.body!, Buffer.from('Subject: lf\r\n\r\n..dot\r\nend\r\n'));
  const top = await c.multi('TOP 1 2');
  assert.deepEqual(unstuff(top.body!), Buffer.concat([tricky.subarray(0, tricky.indexOf('\r\n\r\n') + 4), Buffer.from('.leading dot\r\n..two dots\r\n')]));
  await c.cmd('QUIT');
});

test('large message: streamed in chunks with dot-stuffing across chunk boundaries', async (t) => {
  const f = await startPop3();
  t.after(() => f.close());
  // ~1.5 MiB: several READ_CHUNKs, with dot lines everywhere (some land on chunk boundaries).
  const lines: string[] = [];
  for (let i = 0; i < 30000; i++) lines.push(i % 3 === 0 ? `.${'x'.repeat(i % 97)}` : `line ${i} ${'y'.repeat(i % 61)}`);
  const raw = Buffer.from(`Subject: big\r\n\r\n${lines.join('\r\n')}\r\n`);
  await f.append(raw);
  const { c } = await RawPop3.open(f.port);
  await c.login();
  const r = await c.multi('RETR 1');
  assert.equal(r.status, `+OK ${raw.length} octets`);
  assert.deepEqual(unstuff(r.body!), raw);
  await c.cmd('QUIT');
});

test('a message expunged through IMAP during the session: RETR/TOP give -ERR, the session goes on', async (t) => {
  const f = await startPop3();
  t.after(() => f.close());
  const a = await f.append(message('doomed'));
  await f.append(message('stays'));
  const { c } = await RawPop3.open(f.port);
  await c.login();
  await f.store.mail.storeFlags(f.inbox.id, [a.uid], { op: 'add', flags: ['\\Deleted'] });
  await f.store.mail.expunge(f.inbox.id, [a.uid]);
  assert.equal(await c.cmd('RETR 1'), '-ERR Message 1 was removed by another session since login');
  assert.equal(await c.cmd('TOP 1 0'), '-ERR Message 1 was removed by another session since login');
  assert.equal(await c.cmd('UIDL 1'), `+OK 1 ${a.emailId}`, 'numbering stays fixed for the session');
  const r = await c.multi('RETR 2');
  assert.match(unstuff(r.body!).toString(), /Subject: stays/);
  assert.equal(await c.cmd('DELE 1'), '+OK Message 1 deleted');
  assert.equal(await c.cmd('QUIT'), '+OK pop.test POP3 server signing off (1 message deleted)');
  await c.closed();
  assert.equal((await f.store.mail.listMessages(f.inbox.id)).length, 1);
});

test('AUTH: mechanism list, PLAIN with initial response and continuation, LOGIN, cancel, malformed', async (t) => {
  const f = await startPop3();
  t.after(() => f.close());
  const { c } = await RawPop3.open(f.port);
  assert.deepEqual(await c.lines('AUTH'), { status: '+OK Supported SASL mechanisms follow', lines: ['PLAIN', 'LOGIN'] });
  assert.equal(await c.cmd('AUTH CRAM-MD5'), '-ERR Unsupported authentication mechanism');
  assert.equal(await c.cmd('AUTH PLAIN'), '+ ');
  assert.equal(await c.cmd('*'), '-ERR Authentication cancelled');
  assert.equal(await c.cmd('AUTH PLAIN !!!'), '-ERR [AUTH] Malformed SASL PLAIN message');
  assert.equal(await c.cmd(`AUTH PLAIN ${b64(`\0${USER}\0wrong`)}`), '-ERR [AUTH] Authentication failed');
  assert.equal(await c.cmd(`AUTH PLAIN ${b64(`someone\0${USER}\0${PASSWORD}`)}`), '-ERR [AUTH] Authorization identity must be empty or equal the authentication identity');
  assert.equal(await c.cmd('AUTH LOGIN'), `+ ${b64('Username:')}`);
  assert.equal(await c.cmd(b64(USER)), `+ ${b64('Password:')}`);
  assert.equal(await c.cmd('not base64!'), '-ERR [AUTH] Invalid base64 in authentication response');
  assert.equal(await c.cmd(`AUTH LOGIN ${b64(USER)}`), `+ ${b64('Password:')}`);
  assert.match(await c.cmd(b64(PASSWORD)), /^\+OK Logged in/);
  assert.equal(await c.cmd('AUTH PLAIN'), '-ERR AUTH is not allowed after login');
  await c.cmd('QUIT');
  await c.closed();
  // PLAIN through a continuation line longer than the 255-octet command limit (a long password).
  const longPw = 'p'.repeat(400);
  await f.store.directory.setPasswordHash(USER, `{PLAIN}${longPw}`);
  const { c: c2 } = await RawPop3.open(f.port);
  assert.equal(await c2.cmd('AUTH PLAIN'), '+ ');
  const resp = b64(`\0${USER}\0${longPw}`);
  assert.ok(resp.length > 255);
  assert.match(await c2.cmd(resp), /^\+OK Logged in/);
  await c2.cmd('QUIT');
  await c2.closed();
  const { c: c3 } = await RawPop3.open(f.port);
  assert.match(await c3.cmd(`AUTH PLAIN ${b64(`${USER}\0${USER}\0${longPw}`).slice(0, 200)}`), /^-ERR \[AUTH\]/);
  assert.match(await c3.cmd(`USER ${USER}`), /^\+OK/);
  assert.match(await c3.cmd(`PASS ${longPw}`), /^-ERR Line too long/, 'a 405-octet PASS line exceeds the command limit');
  await c3.cmd('QUIT');
});

test('APOP: timestamp in the greeting only when a user has a cleartext secret; digest checked', async (t) => {
  const f = await startPop3({ passwordHash: '{PLAIN}tanstaaf' });
  t.after(() => f.close());
  await f.append(message('apop'));
  const { c, greeting } = await RawPop3.open(f.port);
  const ts = /(<[^>]+@pop\.test>)$/.exec(greeting)?.[1];
  assert.ok(ts, `greeting has an APOP timestamp: ${greeting}`);
  const digest = (secret: string): string => createHash('md5').update(ts + secret).digest('hex');
  assert.equal(await c.cmd(`APOP ${USER} ${digest('wrong')}`), '-ERR [AUTH] Authentication failed');
  assert.equal(await c.cmd(`APOP nobody@example.org ${digest('tanstaaf')}`), '-ERR [AUTH] Authentication failed');
  assert.equal(await c.cmd(`APOP ${USER} xyz`), '-ERR APOP: The digest must be 32 hexadecimal digits');
  assert.match(await c.cmd(`APOP ${USER} ${digest('tanstaaf').toUpperCase()}`), /^\+OK Logged in; maildrop has 1 message/);
  await c.cmd('QUIT');
  // apop: false never offers it.
  const g = await startPop3({ passwordHash: '{PLAIN}tanstaaf', apop: false });
  t.after(() => g.close());
  const { greeting: g2 } = await RawPop3.open(g.port);
  assert.doesNotMatch(g2, /</);
});

test('pipelining: many commands in one write are answered in order', async (t) => {
  const f = await startPop3();
  t.after(() => f.close());
  await f.append(message('p1'));
  await f.append(message('p2'));
  const { c } = await RawPop3.open(f.port);
  c.send(`USER ${USER}\r\nPASS ${PASSWORD}\r\nSTAT\r\nRETR 1\r\nBOGUS\r\nRETR 2\r\nDELE 1\r\nLIST\r\nQUIT\r\n`);
  assert.match(await c.line(), /^\+OK Send PASS/);
  assert.match(await c.line(), /^\+OK Logged in/);
  assert.match(await c.line(), /^\+OK 2 \d+$/);
  assert.match(await c.line(), /^\+OK \d+ octets$/);
  assert.match((await c.body()).toString(), /Subject: p1/);
  assert.equal(await c.line(), '-ERR Unknown command');
  assert.match(await c.line(), /^\+OK \d+ octets$/);
  assert.match((await c.body()).toString(), /Subject: p2/);
  assert.equal(await c.line(), '+OK Message 1 deleted');
  assert.match(await c.line(), /^\+OK 1 messages/);
  assert.match((await c.body()).toString(), /^2 \d+\r\n$/);
  assert.match(await c.line(), /\(1 message deleted\)$/);
  await c.closed();
  assert.equal((await f.store.mail.listMessages(f.inbox.id)).length, 1);
});

test('pipelined commands after QUIT in the same write are not run, and a client half-close still gets its replies', async (t) => {
  const f = await startPop3();
  t.after(() => f.close());
  await f.append(message('h'));
  const { c } = await RawPop3.open(f.port);
  c.socket.end(`USER ${USER}\r\nPASS ${PASSWORD}\r\nDELE 1\r\nQUIT\r\nNOOP\r\n`);
  assert.match(await c.line(), /^\+OK/);
  assert.match(await c.line(), /^\+OK Logged in/);
  assert.equal(await c.line(), '+OK Message 1 deleted');
  assert.match(await c.line(), /\(1 message deleted\)$/);
  assert.equal(await c.closed(), '');
  assert.equal((await f.store.mail.listMessages(f.inbox.id)).length, 0);
});

test('limits: long command lines get -ERR and the session goes on; too many bad commands close it', async (t) => {
  const f = await startPop3();
  t.after(() => f.close());
  const { c } = await RawPop3.open(f.port);
  assert.equal(await c.cmd('NOOP ' + 'x'.repeat(250)), '-ERR Line too long (the limit is 255 octets)');
  assert.equal(await c.cmd('X'.repeat(100_000)), '-ERR Line too long (the limit is 255 octets)');
  assert.match(await c.login(), /^\+OK Logged in/);
  assert.equal(await c.cmd('RETR 99999999999'), '-ERR RETR: Invalid message number');
  for (let i = 0; i < 16; i++) assert.equal(await c.cmd('JUNK'), '-ERR Unknown command');
  assert.equal(await c.cmd('JUNK'), '-ERR Unknown command; too many invalid commands, closing');
  await c.closed();
});

test('too many failed logins on one connection close it', async (t) => {
  const f = await startPop3();
  t.after(() => f.close());
  const { c } = await RawPop3.open(f.port);
  for (let i = 0; i < 4; i++) assert.equal(await c.login(USER, 'bad'), '-ERR [AUTH] Authentication failed');
  assert.equal(await c.login(USER, 'bad'), '-ERR [AUTH] Authentication failed; too many failures, closing');
  await c.closed();
});

test('throttled logins get [SYS/TEMP] (retry later), not [AUTH]', async (t) => {
  const f = await startPop3({ authOptions: { maxFailures: 2, maxDelayMs: 0 } });
  t.after(() => f.close());
  const { c } = await RawPop3.open(f.port);
  assert.equal(await c.login(USER, 'bad1'), '-ERR [AUTH] Authentication failed');
  assert.equal(await c.login(USER, 'bad2'), '-ERR [AUTH] Authentication failed');
  assert.equal(await c.login(USER, PASSWORD), '-ERR [SYS/TEMP] Too many failed logins; try again later');
  const apop = await c.cmd('AUTH PLAIN ' + b64(`\0${USER}\0${PASSWORD}`));
  assert.equal(apop, '-ERR [SYS/TEMP] Too many failed logins; try again later');
});

test('autologout after the idle timeout commits nothing', async (t) => {
  const f = await startPop3({ idleTimeoutMs: 1000 });
  t.after(() => f.close());
  await f.append(message('idle'));
  const { c } = await RawPop3.open(f.port);
  await c.login();
  assert.equal(await c.cmd('DELE 1'), '+OK Message 1 deleted');
  assert.equal(await c.line(), '-ERR Autologout; idle for too long');
  await c.closed();
  assert.equal((await f.store.mail.listMessages(f.inbox.id)).length, 1);
});

test('autologout counts from the last command, not from the first wait', async (t) => {
  const f = await startPop3({ idleTimeoutMs: 1000 });
  t.after(() => f.close());
  const { c } = await RawPop3.open(f.port);
  await c.login();
  const started = performance.now();
  // Commands at 600 ms and 1200 ms: past the first wait's timeout, but never 1000 ms apart.
  await new Promise((r) => setTimeout(r, 600));
  assert.equal(await c.cmd('NOOP'), '+OK');
  await new Promise((r) => setTimeout(r, 600));
  assert.equal(await c.cmd('NOOP'), '+OK');
  const lastCommand = performance.now();
  assert.equal(await c.line(), '-ERR Autologout; idle for too long');
  const idle = performance.now() - lastCommand;
  assert.ok(idle >= 950, `autologout after ${idle.toFixed(0)} ms idle (the timeout is 1000 ms)`);
  assert.ok(performance.now() - started >= 2150);
  await c.closed();
});

test('EXPIRE and LOGIN-DELAY are announced and enforced; retention 0 purges retrieved messages at QUIT', async (t) => {
  const f = await startPop3({ retentionDays: 0, loginDelaySeconds: 3600 });
  t.after(() => f.close());
  await f.append(message('r1'));
  await f.append(message('r2'));
  const { c } = await RawPop3.open(f.port);
  const caps = (await c.lines('CAPA')).lines;
  assert.ok(caps.includes('EXPIRE 0'), caps.join('|'));
  assert.ok(caps.includes('LOGIN-DELAY 3600'));
  await c.login();
  await c.multi('RETR 1');
  assert.match(await c.cmd('QUIT'), /\(0 messages deleted\)$/);
  await c.closed();
  const left = await f.store.mail.listMessages(f.inbox.id);
  assert.equal(left.length, 1, 'the retrieved message was purged by the retention policy');
  const { c: c2 } = await RawPop3.open(f.port);
  assert.equal(await c2.login(), '-ERR [LOGIN-DELAY] Minimum time between logins is 3600 seconds');
  await c2.cmd('QUIT');
});

test('retention in days: messages retrieved long ago are purged at the next login', async (t) => {
  const f = await startPop3({ retentionDays: 7 });
  t.after(() => f.close());
  await f.append(message('old'));
  const { c } = await RawPop3.open(f.port);
  assert.ok((await c.lines('CAPA')).lines.includes('EXPIRE 7'));
  await c.login();
  await c.multi('RETR 1');
  await c.cmd('QUIT');
  await c.closed();
  assert.equal((await f.store.mail.listMessages(f.inbox.id)).length, 1, 'kept: retrieved just now');
  // Ask the store directly with a date in the future: what the login-time purge does 7 days later.
  assert.equal(await f.store.maildrop.purgeRetrieved(f.inbox.id, new Date(Date.now() + 8 * 86400_000)), 1);
});

test('connections per IP are capped; close() ends idle sessions with -ERR', async (t) => {
  const f = await startPop3({ maxConnectionsPerIp: 2, countLoopback: true });
  t.after(() => f.close());
  const { c: c1 } = await RawPop3.open(f.port);
  const { c: c2 } = await RawPop3.open(f.port);
  await c2.login();
  const { greeting } = await RawPop3.open(f.port);
  assert.equal(greeting, '-ERR [SYS/TEMP] Too many connections from your address');
  await f.svc.close();
  assert.equal(await c1.line(), '-ERR [SYS/TEMP] Server shutting down');
  assert.equal(await c2.line(), '-ERR [SYS/TEMP] Server shutting down');
  await c1.closed();
  await c2.closed();
});
