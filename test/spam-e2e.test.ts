/**
 * The spam filter end to end on one in-process server (createMailroom): mail delivered over LMTP, training
 * by IMAP MOVE with imapflow (into Junk: spam; back out of Junk: ham, re-classing what was trained as
 * spam), the next similar message lands in Junk with X-Spam headers while ham stays in INBOX; untrained
 * users are never misfiled; forged X-Spam fields decide nothing; moves to Trash train nothing;
 * `mailroom spam train` (mbox and Maildir) and `mailroom spam stats` on the server's data directory; bad
 * input over LMTP.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImapFlow } from 'imapflow';
import { createMailroom } from '../src/index.js';
import { main } from '../src/cli/main.js';
import { spamCorpus, type CorpusMessage } from '../bench/spam-corpus.js';
import { RawSmtp } from './delivery/helpers.js';

const USER = 'alex@mailroom.example';

async function lmtp(port: number, raw: Buffer | string): Promise<string> {
  const { client: c } = await RawSmtp.open(port);
  try {
    await c.cmd('LHLO t.test');
    await c.cmd('MAIL FROM:<sender@remote.test>');
    assert.equal((await c.cmd(`RCPT TO:<${USER}>`)).code, 250);
    const text = Buffer.isBuffer(raw) ? raw.toString('latin1') : raw;
    const body = text.replace(/(^|\r\n)\./g, '$1..');
    return (await c.data(body.endsWith('\r\n') ? body : body + '\r\n')).text;
  } finally {
    c.close();
  }
}

/** Runs `mailroom ARGS` in-process; returns exit code and stdout. */
async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const w1 = process.stdout.write.bind(process.stdout);
  const w2 = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((c: string | Uint8Array) => ((out += c.toString()), true)) as typeof process.stdout.write;
  process.stderr.write = ((c: string | Uint8Array) => ((err += c.toString()), true)) as typeof process.stderr.write;
  try {
    const code = await main(args);
    return { code, out, err };
  } finally {
    process.stdout.write = w1;
    process.stderr.write = w2;
  }
}

async function subjects(imap: ImapFlow, mailbox: string): Promise<Array<{ uid: number; subject: string; header: string }>> {
  const lock = await imap.getMailboxLock(mailbox);
  try {
    await imap.noop(); // learn of deliveries since the mailbox was selected
    const out: Array<{ uid: number; subject: string; header: string }> = [];
    if ((imap.mailbox as { exists: number }).exists === 0) return out;
    for await (const m of imap.fetch('1:*', { uid: true, envelope: true, headers: true })) out.push({ uid: m.uid, subject: m.envelope?.subject ?? '', header: m.headers?.toString() ?? '' });
    return out;
  } finally {
    lock.release();
  }
}

test('LMTP delivery, training by IMAP MOVE, the next spam lands in Junk; CLI train and stats', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'mailroom-spam-e2e-'));
  const server = createMailroom({ dataDir, ports: { imap: 0, lmtp: 0 }, auth: { failureDelayMs: 0 }, hostname: 'mx.test', spam: { minTrained: 4 } });
  await server.start();
  const imap = new ImapFlow({ host: '127.0.0.1', port: server.ports.imap!, secure: false, auth: { user: USER, pass: 'pw' }, logger: false, doSTARTTLS: false });
  try {
    await server.addUser(USER, 'pw');
    const corpus = spamCorpus(200, 5);
    const spam = corpus.filter((m) => m.spam);
    const ham = corpus.filter((m) => !m.spam);
    const subj = (m: CorpusMessage, i: number): Buffer => Buffer.from(m.raw.toString('latin1').replace(/^Subject: [^\r]*/m, `Subject: corpus-${m.spam ? 'spam' : 'ham'}-${i}`), 'latin1');

    // Untrained: nothing is misfiled, even spam; forged verdicts are renamed.
    assert.match(await lmtp(server.ports.lmtp!, subj(spam[0]!, 0)), /^250/);
    assert.match(await lmtp(server.ports.lmtp!, `X-Spam-Status: Yes, score=50\r\nX-Spam: Yes\r\nSubject: forged\r\n\r\nhello\r\n`), /^250/);
    await imap.connect();
    let inbox = await subjects(imap, 'INBOX');
    assert.deepEqual(inbox.map((m) => m.subject), ['corpus-spam-0', 'forged']);
    assert.match(inbox[0]!.header, /X-Spam-Status: No, score=0\.0 required=9\.0 engine=bayes untrained/);
    assert.match(inbox[1]!.header, /Untrusted-X-Spam-Status: Yes, score=50/);
    assert.doesNotMatch(inbox[1]!.header, /^X-Spam: Yes/m);

    // Six spam and six ham arrive in INBOX; the user moves the spam into Junk...
    for (let i = 1; i <= 6; i++) assert.match(await lmtp(server.ports.lmtp!, subj(spam[i]!, i)), /^250/);
    for (let i = 1; i <= 6; i++) assert.match(await lmtp(server.ports.lmtp!, subj(ham[i]!, i)), /^250/);
    inbox = await subjects(imap, 'INBOX');
    const spamUids = inbox.filter((m) => /^corpus-spam-[1-6]$/.test(m.subject)).map((m) => m.uid);
    const hamUids = inbox.filter((m) => /^corpus-ham-/.test(m.subject)).map((m) => m.uid);
    assert.equal(spamUids.length, 6);
    let lock = await imap.getMailboxLock('INBOX');
    try {
      await imap.messageMove(spamUids, 'Junk', { uid: true });
      // ...and, by mistake, the ham too, then back out of Junk: that re-classes it as ham.
      await imap.messageMove(hamUids, 'Junk', { uid: true });
    } finally {
      lock.release();
    }
    let stats = await cli(['--data', dataDir, 'spam', 'stats', '--user', USER]);
    assert.equal(stats.code, 0, stats.err);
    assert.match(stats.out, /^alex@mailroom\.example: 12 spam, 0 ham, \d+ tokens\n$/);
    const junk = await subjects(imap, 'Junk');
    lock = await imap.getMailboxLock('Junk');
    try {
      await imap.messageMove(junk.filter((m) => /^corpus-ham-/.test(m.subject)).map((m) => m.uid), 'INBOX', { uid: true });
    } finally {
      lock.release();
    }
    stats = await cli(['--data', dataDir, 'spam', 'stats', '--user', USER, '--json']);
    assert.deepEqual({ ...JSON.parse(stats.out), tokens: 0 }, { user: USER, spam: 6, ham: 6, tokens: 0 });

    // The next spam lands in Junk with the headers; the next ham stays in INBOX.
    for (let i = 7; i <= 10; i++) assert.match(await lmtp(server.ports.lmtp!, subj(spam[i]!, i)), /^250/);
    for (let i = 7; i <= 10; i++) assert.match(await lmtp(server.ports.lmtp!, subj(ham[i]!, i)), /^250/);
    const junkNow = await subjects(imap, 'Junk');
    const newSpam = junkNow.filter((m) => /^corpus-spam-(7|8|9|10)$/.test(m.subject));
    assert.ok(newSpam.length >= 3, `new spam in Junk: ${junkNow.map((m) => m.subject).join(', ')}`);
    for (const m of newSpam) {
      assert.match(m.header, /X-Spam-Status: Yes, score=\d+\.\d required=9\.0 engine=bayes/);
      assert.match(m.header, /X-Spam: Yes/);
    }
    inbox = await subjects(imap, 'INBOX');
    const newHam = inbox.filter((m) => /^corpus-ham-(7|8|9|10)$/.test(m.subject));
    assert.equal(newHam.length, 4, 'no ham misfiled');
    for (const m of newHam) assert.match(m.header, /X-Spam-Status: No, score=\d+\.\d required=9\.0/);
    assert.ok(!junkNow.some((m) => /^corpus-ham/.test(m.subject)));

    // Junk -> Trash trains nothing; COPY into Junk trains spam like MOVE.
    lock = await imap.getMailboxLock('Junk');
    try {
      await imap.messageMove(newSpam.map((m) => m.uid), 'Trash', { uid: true });
    } finally {
      lock.release();
    }
    lock = await imap.getMailboxLock('INBOX');
    try {
      await imap.messageCopy([inbox.find((m) => m.subject === 'forged')!.uid], 'Junk', { uid: true });
    } finally {
      lock.release();
    }
    stats = await cli(['--data', dataDir, 'spam', 'stats', '--json']);
    assert.deepEqual({ ...JSON.parse(stats.out), tokens: 0 }, { user: USER, spam: 7, ham: 6, tokens: 0 });

    // CLI training from an mbox (spam) and a Maildir (ham); again is idempotent.
    const mbox = join(dataDir, 'spam.mbox');
    await writeFile(mbox, spam.slice(20, 23).map((m) => `From sender@remote.test Mon Dec  7 01:00:00 2026\n${m.raw.toString('latin1').replace(/\r\n/g, '\n').replace(/^From /gm, '>From ')}\n`).join(''), 'latin1');
    let r = await cli(['--data', dataDir, 'spam', 'train', '--user', USER, '--spam', mbox]);
    assert.deepEqual([r.code, r.out], [0, `${USER}: 3 trained as spam, 0 re-classed as spam, 0 already known, 0 skipped\n`]);
    r = await cli(['--data', dataDir, 'spam', 'train', '--user', USER, '--spam', mbox]);
    assert.equal(r.out, `${USER}: 0 trained as spam, 0 re-classed as spam, 3 already known, 0 skipped\n`);
    const md = join(dataDir, 'hammd');
    for (const sub of ['cur', 'new', 'tmp']) await mkdir(join(md, sub), { recursive: true });
    await writeFile(join(md, 'cur', '1.host:2,S'), ham[30]!.raw);
    await writeFile(join(md, 'new', '2.host'), ham[31]!.raw);
    await writeFile(join(md, 'new', '3.host'), '');
    r = await cli(['--data', dataDir, 'spam', 'train', '--user', USER, '--ham', md]);
    assert.equal(r.out, `${USER}: 2 trained as ham, 0 re-classed as ham, 0 already known, 1 skipped\n`);
    stats = await cli(['--data', dataDir, 'spam', 'stats']);
    assert.match(stats.out, /^alex@mailroom\.example: 10 spam, 8 ham, \d+ tokens\n$/);

    // Bad command lines.
    r = await cli(['--data', dataDir, 'spam', 'train', '--user', USER, '--spam', '--ham', mbox]);
    assert.deepEqual([r.code, r.err], [1, 'mailroom: give exactly one of --spam and --ham\n']);
    r = await cli(['--data', dataDir, 'spam', 'train', '--user', 'nobody@x.test', '--spam', mbox]);
    assert.deepEqual([r.code, r.err], [1, 'mailroom: no such user: nobody@x.test\n']);
    r = await cli(['--data', dataDir, 'spam', 'train', '--user', USER, '--ham', join(dataDir, 'missing')]);
    assert.equal(r.code, 1);
    assert.match(r.err, /no such file or directory/);
    r = await cli(['--data', dataDir, 'spam', 'train', '--user', USER, '--ham', dataDir]);
    assert.match(r.err, /is not a Maildir/);

    // Bad input over LMTP is delivered (or refused by LMTP itself), never breaks the stage.
    const huge = `X-Big: ${'a'.repeat(900_000)}\r\nSubject: huge header\r\n\r\nbody\r\n`;
    for (const raw of [huge, 'Subject: binary\r\n\r\n' + Buffer.from(Array.from({ length: 5000 }, (_, i) => 1 + ((i * 31) % 255))).toString('latin1').replace(/[\r\n]/g, ' ') + '\r\n', '\r\n']) {
      assert.match(await lmtp(server.ports.lmtp!, raw), /^250/);
    }
    inbox = await subjects(imap, 'INBOX');
    assert.ok(inbox.some((m) => m.subject === 'huge header') && inbox.some((m) => m.subject === 'binary'));
  } finally {
    await imap.logout().catch(() => undefined);
    await server.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
});
