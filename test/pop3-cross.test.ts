/**
 * POP3 and IMAP on one store: an IMAP session in IDLE sees the EXPUNGE when POP3 QUITs, retrieved messages
 * show \Seen over IMAP, UIDL equals IMAP's EMAILID, and POP3 does not see what IMAP expunged.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createImapService } from '../src/imap-server/index.js';
import type { NetService } from '../src/lib/service.js';
import { RawPop3, startPop3, message, unstuff, USER, PASSWORD, type Pop3Fixture } from './pop3-helpers.js';

async function withImap(f: Pop3Fixture): Promise<{ imapPort: number; imap: NetService }> {
  const imap = createImapService({ store: f.store, auth: f.auth, hostname: 'imap.test' });
  const addr = await imap.listen({ host: '127.0.0.1', port: 0, implicitTls: false });
  return { imapPort: addr.port, imap };
}

/** Reads IMAP lines until one matches (the raw line reader works for IMAP's CRLF lines too). */
async function until(c: RawPop3, re: RegExp): Promise<string[]> {
  const seen: string[] = [];
  for (;;) {
    const l = await c.line();
    seen.push(l);
    if (re.test(l)) return seen;
  }
}

async function imapLogin(port: number): Promise<RawPop3> {
  const c = await RawPop3.connect(port);
  await c.line();
  c.send(`a1 LOGIN "${USER}" "${PASSWORD}"\r\n`);
  assert.match((await until(c, /^a1 /)).at(-1)!, /^a1 OK/);
  c.send('a2 SELECT INBOX\r\n');
  assert.match((await until(c, /^a2 /)).at(-1)!, /^a2 OK/);
  return c;
}

test('IMAP IDLE sees the EXPUNGE and the \\Seen change when POP3 QUITs; UIDL = EMAILID', async (t) => {
  const f = await startPop3();
  const { imapPort, imap } = await withImap(f);
  t.after(async () => {
    await imap.close();
    await f.close();
  });
  const m1 = await f.append(message('x1'));
  await f.append(message('x2'));
  await f.append(message('x3'));
  const i = await imapLogin(imapPort);
  i.send('a3 FETCH 1:3 (UID EMAILID)\r\n');
  const fetched = await until(i, /^a3 /);
  assert.ok(fetched.some((l) => l.includes(`EMAILID (${m1.emailId})`)), fetched.join('\n'));
  i.send('a4 IDLE\r\n');
  assert.match(await i.line(), /^\+ /);

  const { c } = await RawPop3.open(f.port);
  await c.login();
  assert.equal(await c.cmd('UIDL 1'), `+OK 1 ${m1.emailId}`);
  await c.multi('RETR 1');
  await c.multi('RETR 2');
  assert.equal(await c.cmd('DELE 1'), '+OK Message 1 deleted');
  assert.match(await c.cmd('QUIT'), /\(1 message deleted\)$/);

  const idleLines = await until(i, /^\* \d+ FETCH .*\\Seen/);
  assert.ok(idleLines.includes('* 1 EXPUNGE'), idleLines.join('\n'));
  // Message 2 (x2) was retrieved and is now sequence 1 in the IMAP view.
  assert.match(idleLines.at(-1)!, /^\* 1 FETCH .*\\Seen/);
  i.send('DONE\r\n');
  assert.match((await until(i, /^a4 /)).at(-1)!, /^a4 OK/);
  i.send('a5 LOGOUT\r\n');
  await until(i, /^a5 /);
});

test('POP3 does not see what IMAP expunged; a message IMAP appends shows up at the next POP3 login', async (t) => {
  const f = await startPop3();
  const { imapPort, imap } = await withImap(f);
  t.after(async () => {
    await imap.close();
    await f.close();
  });
  await f.append(message('y1'));
  const y2 = await f.append(message('y2'));
  const i = await imapLogin(imapPort);
  i.send('a3 STORE 1 +FLAGS (\\Deleted)\r\n');
  await until(i, /^a3 /);
  i.send('a4 EXPUNGE\r\n');
  assert.match((await until(i, /^a4 /)).at(-1)!, /^a4 OK/);
  const raw = message('y3');
  i.send(`a5 APPEND INBOX {${Buffer.byteLength(raw)}+}\r\n${raw}\r\n`);
  assert.match((await until(i, /^a5 /)).at(-1)!, /^a5 OK/);
  const { c } = await RawPop3.open(f.port);
  assert.match(await c.login(), /maildrop has 2 messages/);
  const uidl = (await c.lines('UIDL')).lines;
  assert.equal(uidl[0], `1 ${y2.emailId}`);
  assert.equal(uidl.length, 2);
  assert.match(unstuffText((await c.multi('RETR 2')).body!), /Subject: y3/);
  await c.cmd('QUIT');
  i.send('a6 LOGOUT\r\n');
  await until(i, /^a6 /);
});

function unstuffText(b: Buffer): string {
  return unstuff(b).toString('utf8');
}
