/**
 * Sieve end to end on one in-process server (createMailroom): a script uploaded over ManageSieve (raw
 * socket), mail delivered over LMTP and the SMTP MX, results read over IMAP with imapflow (fileinto with
 * :create and flags), redirects and vacation replies arriving through the outbound queue at a loopback SMTP
 * sink (a route for remote.test); vacation once per sender and period, never for Precedence: bulk or when
 * the user is not in To/Cc; the same Message-ID runs the script once; reject is 550 5.7.1 at LMTP and SMTP
 * time; a sieve-before script runs first, sieve-after scripts only while the message is kept, include :global
 * reads the administrator's directory; a runtime error (too many redirects) keeps the message; the
 * vacation setting (store.sieve.setVacation) answers without a script and not outside its dates; a redirect
 * loop between two local users ends with the message kept.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImapFlow } from 'imapflow';
import { createMailroom, type Mailroom } from '../src/server/mailroom.js';
import { mailboxContents, RawSmtp, startSink, type SinkMessage } from './delivery/helpers.js';
import { literal, plain, sieveConnect } from './managesieve-helpers.js';
import { DEFAULT_SIEVE_QUOTA } from '../src/store/sieve.js';

const ALICE = 'alice@example.org';
const BOB = 'bob@example.org';
let m: Mailroom;
let sink: Awaited<ReturnType<typeof startSink>>;
let dir: string;

const SCRIPT = `require ["fileinto", "imap4flags", "vacation", "copy", "reject", "mailbox"];
if header :contains "subject" "report" {
  fileinto :create :flags "\\\\Flagged" "Reports";
  stop;
}
if header :contains "subject" "forward" {
  redirect :copy "carol@remote.test";
}
if header :contains "subject" "reject me" {
  reject "No thanks.";
  stop;
}
vacation :days 1 :subject "Away" "I am away until Monday.";
`.replace(/\n/g, '\r\n');

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mailroom-sieve-e2e-'));
  await writeFile(join(dir, 'before.sieve'), 'if header :is "X-Global" "drop" { discard; stop; }\r\n');
  await mkdir(join(dir, 'after'));
  await writeFile(join(dir, 'after', '10-archive.sieve'), 'require ["fileinto", "mailbox"];\r\nif header :is "X-After" "archive" { fileinto :create "Archived"; }\r\n');
  await mkdir(join(dir, 'global'));
  await writeFile(join(dir, 'global', 'common.sieve'), 'require ["fileinto", "mailbox"];\r\nif header :is "X-Common" "yes" { fileinto :create "Common"; stop; }\r\n');
  sink = await startSink();
  m = createMailroom({
    dataDir: join(dir, 'data'),
    ports: { imap: 0, lmtp: 0, smtp: 0, managesieve: 0 },
    auth: { failureDelayMs: 0 },
    hostname: 'mx.example.org',
    mailAuth: { checks: false },
    outbound: { routes: { 'remote.test': { host: '127.0.0.1', port: sink.port } }, pollIntervalMs: 60_000 },
    sieve: { before: [join(dir, 'before.sieve')], after: [join(dir, 'after')], globalDir: join(dir, 'global') },
  });
  await m.start();
  for (const u of [ALICE, BOB, 'loop1@example.org', 'loop2@example.org']) await m.addUser(u, 'pw');
});

after(async () => {
  await m.stop();
  await sink.close();
  await rm(dir, { recursive: true, force: true });
});

function message(from: string, subject: string, id: string, extra = '', to = ALICE): string {
  return `From: <${from}>\r\nTo: <${to}>\r\nSubject: ${subject}\r\nMessage-ID: <${id}>\r\nDate: Mon, 07 Dec 2026 09:00:00 +0000\r\n${extra}\r\nBody of ${id}.\r\n`;
}

async function send(port: number, lmtp: boolean, from: string, rcpt: string, raw: string): Promise<string> {
  const { client: c } = await RawSmtp.open(port);
  try {
    await c.cmd(lmtp ? 'LHLO client.test' : 'EHLO client.test');
    assert.equal((await c.cmd(`MAIL FROM:<${from}>`)).code, 250);
    assert.equal((await c.cmd(`RCPT TO:<${rcpt}>`)).code, 250);
    const r = await c.data(raw);
    await c.cmd('QUIT').catch(() => undefined);
    return r.lines[r.lines.length - 1]!;
  } finally {
    c.close();
  }
}
const lmtp = (from: string, rcpt: string, raw: string): Promise<string> => send(m.ports.lmtp!, true, from, rcpt, raw);
const smtp = (from: string, rcpt: string, raw: string): Promise<string> => send(m.ports.smtp!, false, from, rcpt, raw);

/** Waits until the sink holds `n` messages, then a little longer to see that no more arrive. */
async function sinkHolds(n: number): Promise<SinkMessage[]> {
  const deadline = Date.now() + 15_000;
  while (sink.messages.length < n && Date.now() < deadline) {
    await m.outboundQueue?.runOnce();
    await new Promise((r) => setTimeout(r, 50));
  }
  await new Promise((r) => setTimeout(r, 300));
  await m.outboundQueue?.runOnce();
  assert.equal(sink.messages.length, n, `sink: ${sink.messages.map((x) => `${x.from} -> ${x.to.join(',')}`).join('; ')}`);
  return sink.messages;
}

test('script uploaded over ManageSieve: fileinto with flags over LMTP seen over IMAP; redirect and vacation over SMTP at the sink; vacation rules; reject', async () => {
  const { c } = await sieveConnect(m.ports.managesieve!);
  assert.match((await c.cmd(`AUTHENTICATE "PLAIN" "${plain(ALICE, 'pw')}"`)).status, /^OK/);
  assert.match((await c.cmd(`PUTSCRIPT "rules" ${literal(SCRIPT)}`)).status, /^OK/);
  assert.match((await c.cmd('SETACTIVE "rules"')).status, /^OK/);
  await c.cmd('LOGOUT');

  assert.match(await lmtp('dave@remote.test', ALICE, message('dave@remote.test', 'Weekly report', 'm1@remote.test')), /^250 /);
  const imap = new ImapFlow({ host: '127.0.0.1', port: m.ports.imap!, secure: false, doSTARTTLS: false, auth: { user: ALICE, pass: 'pw' }, logger: false });
  await imap.connect();
  try {
    const lock = await imap.getMailboxLock('Reports');
    try {
      const msgs = [];
      for await (const x of imap.fetch('1:*', { flags: true, envelope: true })) msgs.push(x);
      assert.equal(msgs.length, 1);
      assert.equal(msgs[0]!.envelope?.subject, 'Weekly report');
      assert.ok(msgs[0]!.flags?.has('\\Flagged'), 'fileinto :flags');
    } finally {
      lock.release();
    }
    const st = await imap.status('INBOX', { messages: true });
    assert.ok(st !== false);
    assert.equal(st.messages, 0, 'filed, not kept');
  } finally {
    await imap.logout();
  }

  // Over the SMTP MX: redirect :copy (kept and sent on) plus the vacation reply.
  assert.match(await smtp('dave@remote.test', ALICE, message('dave@remote.test', 'please forward this', 'm2@remote.test')), /^250 /);
  const [first, second] = await sinkHolds(2);
  const redirect = [first!, second!].find((x) => x.to[0] === 'carol@remote.test')!;
  const reply = [first!, second!].find((x) => x.to[0] === 'dave@remote.test')!;
  assert.ok(redirect && reply);
  assert.equal(redirect.from, 'dave@remote.test', 'the redirect keeps the envelope sender');
  assert.match(redirect.raw.toString(), /^X-Sieve-Redirected-From: <alice@example\.org>\r\n/);
  assert.match(redirect.raw.toString(), /Body of m2@remote\.test\./);
  assert.equal(reply.from, '', 'vacation replies have the null envelope sender');
  const r = reply.raw.toString();
  assert.match(r, /^Auto-Submitted: auto-replied/m);
  assert.match(r, /^In-Reply-To: <m2@remote\.test>/m);
  assert.match(r, /^References: <m2@remote\.test>/m);
  assert.match(r, /^Subject: Away\r$/m);
  assert.match(r, /^From: alice@example\.org\r$/m);
  assert.match(r, /I am away until Monday\./);
  assert.equal((await mailboxContents(m.store, ALICE)).length, 1, 'redirect :copy keeps');

  // The same message again: the script does not run twice (no second redirect); it is still stored.
  assert.match(await lmtp('dave@remote.test', ALICE, message('dave@remote.test', 'please forward this', 'm2@remote.test')), /^250 /);
  // Once per sender and period; never for bulk mail; never when the user is not in To/Cc; machines never.
  assert.match(await lmtp('dave@remote.test', ALICE, message('dave@remote.test', 'hello again', 'm3@remote.test')), /^250 /);
  assert.match(await lmtp('erin@remote.test', ALICE, message('erin@remote.test', 'news', 'm4@remote.test', 'Precedence: bulk\r\n')), /^250 /);
  assert.match(await lmtp('list@remote.test', ALICE, message('list@remote.test', 'digest', 'm5@remote.test', 'List-Id: <x.remote.test>\r\n')), /^250 /);
  assert.match(await lmtp('auto@remote.test', ALICE, message('auto@remote.test', 'notice', 'm6@remote.test', 'Auto-Submitted: auto-generated\r\n')), /^250 /);
  assert.match(await lmtp('frank@remote.test', ALICE, message('frank@remote.test', 'bcc', 'm7@remote.test', '', 'someone@example.net')), /^250 /);
  assert.match(await lmtp('MAILER-DAEMON@remote.test', ALICE, message('MAILER-DAEMON@remote.test', 'bounce', 'm8@remote.test')), /^250 /);
  // A new sender in To gets one.
  assert.match(await lmtp('gina@remote.test', ALICE, message('gina@remote.test', 'hi', 'm9@remote.test')), /^250 /);
  const all = await sinkHolds(3);
  assert.deepEqual(all[2]!.to, ['gina@remote.test']);
  assert.equal((await mailboxContents(m.store, ALICE)).length, 9);

  // reject: refused at LMTP and at the SMTP MX, nothing stored.
  assert.match(await lmtp('dave@remote.test', ALICE, message('dave@remote.test', 'reject me', 'm10@remote.test')), /^550 5\.7\.1 No thanks\./);
  assert.match(await smtp('dave@remote.test', ALICE, message('dave@remote.test', 'reject me', 'm11@remote.test')), /^550 5\.7\.1 No thanks\./);
  // The administrator's sieve-before script runs first: its discard ends the sequence.
  assert.match(await lmtp('dave@remote.test', ALICE, message('dave@remote.test', 'forward me', 'm12@remote.test', 'X-Global: drop\r\n')), /^250 /);
  assert.equal((await mailboxContents(m.store, ALICE)).length, 9);
  await sinkHolds(3);
});

test("sieve-after runs when the user's script keeps; include :global reads the administrator's directory", async () => {
  const n = sink.messages.length;
  // Alice's script keeps (and answers, but dave was answered today): the after script files it.
  assert.match(await lmtp('dave@remote.test', ALICE, message('dave@remote.test', 'to archive', 'a1@remote.test', 'X-After: archive\r\n')), /^250 /);
  assert.equal((await mailboxContents(m.store, ALICE, 'Archived')).length, 1);
  // Her "report" rule files and stops: the after script does not run.
  assert.match(await lmtp('dave@remote.test', ALICE, message('dave@remote.test', 'monthly report', 'a2@remote.test', 'X-After: archive\r\n')), /^250 /);
  assert.equal((await mailboxContents(m.store, ALICE, 'Archived')).length, 1);
  assert.equal((await mailboxContents(m.store, ALICE, 'Reports')).length, 2);
  const bob = (await m.store.directory.getUser(BOB))!;
  assert.equal(await m.store.sieve.putScript(bob.id, 'inc', 'require "include";\r\ninclude :global "common";\r\n', DEFAULT_SIEVE_QUOTA), 'ok');
  await m.store.sieve.setActive(bob.id, 'inc');
  assert.match(await lmtp('dave@remote.test', BOB, message('dave@remote.test', 'common', 'g1@remote.test', 'X-Common: yes\r\n', BOB)), /^250 /);
  assert.equal((await mailboxContents(m.store, BOB, 'Common')).length, 1);
  await m.store.sieve.setActive(bob.id, null);
  await m.store.sieve.deleteScript(bob.id, 'inc');
  await sinkHolds(n);
});

test('a runtime error (too many redirects) keeps the message and sends nothing; a script that no longer compiles keeps too', async () => {
  const bob = (await m.store.directory.getUser(BOB))!;
  const five = ['a', 'b', 'c', 'd', 'e'].map((x) => `redirect "${x}@remote.test";`).join('\r\n');
  assert.equal(await m.store.sieve.putScript(bob.id, 'many', five, DEFAULT_SIEVE_QUOTA), 'ok');
  await m.store.sieve.setActive(bob.id, 'many');
  const before = sink.messages.length;
  assert.match(await lmtp('dave@remote.test', BOB, message('dave@remote.test', 'lots', 'b1@remote.test', '', BOB)), /^250 /);
  assert.equal((await mailboxContents(m.store, BOB)).length, 1);
  await sinkHolds(before);
  // Stored without the compile check (as an older version might have): kept.
  assert.equal(await m.store.sieve.putScript(bob.id, 'broken', 'if true { frobnicate; }', DEFAULT_SIEVE_QUOTA), 'ok');
  await m.store.sieve.setActive(bob.id, 'broken');
  assert.match(await lmtp('dave@remote.test', BOB, message('dave@remote.test', 'still here', 'b2@remote.test', '', BOB)), /^250 /);
  assert.equal((await mailboxContents(m.store, BOB)).length, 2);
  await m.store.sieve.setActive(bob.id, null);
});

test('the vacation setting answers without a script (subject and text), not outside its dates', async () => {
  const bob = (await m.store.directory.getUser(BOB))!;
  await m.store.sieve.setVacation(bob.id, { enabled: true, subject: 'Out of office', textBody: 'Back on the 4th.', fromDate: new Date(Date.now() - 3600_000), toDate: null });
  const n = sink.messages.length;
  assert.match(await lmtp('hank@remote.test', BOB, message('hank@remote.test', 'question', 'v1@remote.test', '', BOB)), /^250 /);
  const got = await sinkHolds(n + 1);
  const reply = got[n]!;
  assert.deepEqual(reply.to, ['hank@remote.test']);
  assert.match(reply.raw.toString(), /^Subject: Out of office\r$/m);
  assert.match(reply.raw.toString(), /Back on the 4th\./);
  await m.store.sieve.setVacation(bob.id, { enabled: true, subject: 'Out', textBody: 'x', fromDate: null, toDate: new Date(Date.now() - 1000) });
  assert.match(await lmtp('ivan@remote.test', BOB, message('ivan@remote.test', 'question', 'v2@remote.test', '', BOB)), /^250 /);
  await sinkHolds(n + 1);
  await m.store.sieve.setVacation(bob.id, { enabled: false, subject: '', textBody: '' });
});

test('a redirect loop between two local users ends with the message kept once', async () => {
  const l1 = (await m.store.directory.getUser('loop1@example.org'))!;
  const l2 = (await m.store.directory.getUser('loop2@example.org'))!;
  await m.store.sieve.putScript(l1.id, 'fwd', 'redirect "loop2@example.org";', DEFAULT_SIEVE_QUOTA);
  await m.store.sieve.putScript(l2.id, 'fwd', 'redirect "loop1@example.org";', DEFAULT_SIEVE_QUOTA);
  await m.store.sieve.setActive(l1.id, 'fwd');
  await m.store.sieve.setActive(l2.id, 'fwd');
  assert.match(await lmtp('dave@remote.test', 'loop1@example.org', message('dave@remote.test', 'round', 'loop@remote.test', '', 'loop1@example.org')), /^250 /);
  const deadline = Date.now() + 10_000;
  let total = 0;
  while (Date.now() < deadline) {
    await m.outboundQueue?.runOnce();
    total = (await mailboxContents(m.store, 'loop1@example.org')).length + (await mailboxContents(m.store, 'loop2@example.org')).length;
    if (total > 0 && (await m.store.queue.list()).length === 0) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal(total, 1, 'stored once, at the user who saw it a second time');
  assert.equal((await mailboxContents(m.store, 'loop1@example.org')).length, 1);
  assert.equal((await m.store.queue.list()).length, 0);
});
