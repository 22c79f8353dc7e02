/**
 * `serve --rspamd URL` against a real rspamd (Debian's rspamd 3.x), started by the test on a loopback port
 * with a private configuration (controller worker only, Bayes statistics in SQLite files of a temporary
 * directory, the learn cache there too, no hyperscan cache, a tiny TLD list so it starts in seconds, no DNS): deliveries are scanned by /checkv2 and its
 * action decides Junk; IMAP moves into and out of Junk are forwarded to /learnspam and /learnham, so after
 * training a similar spam lands in Junk with rspamd's verdict in X-Spam-Status; when rspamd goes away,
 * delivery goes on with the built-in filter.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile, mkdir, readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImapFlow } from 'imapflow';
import { createMailroom } from '../src/index.js';
import { RspamdClient } from '../src/spam/index.js';
import { RawSmtp } from './delivery/helpers.js';

const USER = 'carol@example.org';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

async function startRspamd(dir: string): Promise<{ url: string; stop(): Promise<void> }> {
  const port = await freePort();
  for (const sub of ['db', 'hs', 'maps']) await mkdir(join(dir, sub), { recursive: true });
  await writeFile(join(dir, 'tld.dat'), 'com\norg\nnet\nexample\ntest\ntop\n');
  await writeFile(
    join(dir, 'rspamd.conf'),
    `options {
  pidfile = "${dir}/rspamd.pid";
  dbdir = "${dir}/db";
  filters = "";
  url_tld = "${dir}/tld.dat";
  disable_hyperscan = true;
  hs_cache_dir = "${dir}/hs";
  maps_cache_dir = "${dir}/maps";
  dns { nameserver = ["127.0.0.1:9"]; timeout = 0.1s; retransmits = 0; }
}
logging { type = "file"; filename = "${dir}/rspamd.log"; level = "info"; }
worker "controller" { bind_socket = "127.0.0.1:${port}"; count = 1; secure_ip = "127.0.0.1"; }
actions { reject = 50; add_header = 1; greylist = 0.5; }
group "stat" { symbols { "BAYES_SPAM" { weight = 9.0; } "BAYES_HAM" { weight = -3.0; } } }
classifier "bayes" {
  backend = "sqlite3";
  min_learns = 1;
  tokenizer { name = "osb"; }
  cache { type = "sqlite3"; path = "${dir}/db/learn_cache.sqlite"; }
  statfile { symbol = "BAYES_HAM"; spam = false; path = "${dir}/db/ham.sqlite"; }
  statfile { symbol = "BAYES_SPAM"; spam = true; path = "${dir}/db/spam.sqlite"; }
}
`,
  );
  const child = spawn('rspamd', ['-c', join(dir, 'rspamd.conf'), '-f', '-i', '-u', 'root', '-g', 'root'], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  const client = new RspamdClient({ url, timeoutMs: 1000 });
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      await client.check(Buffer.from('Subject: ping\r\n\r\nping\r\n'));
      break;
    } catch (e) {
      if (Date.now() > deadline || child.exitCode !== null) {
        child.kill('SIGKILL');
        throw new Error(`rspamd did not start: ${String(e)}`);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  return {
    url,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

async function lmtp(port: number, raw: string): Promise<string> {
  const { client: c } = await RawSmtp.open(port);
  try {
    await c.cmd('LHLO t.test');
    await c.cmd('MAIL FROM:<sender@remote.test>');
    assert.equal((await c.cmd(`RCPT TO:<${USER}>`)).code, 250);
    return (await c.data(raw)).text;
  } finally {
    c.close();
  }
}

// Distinct words per message (rspamd ignores numbers: messages differing only in digits are "already learned").
const SPAM_WORDS = ['cheap', 'viagra', 'pills', 'online', 'discount', 'pharmacy', 'offer', 'prescription', 'order', 'today', 'cialis', 'genuine', 'shipping', 'worldwide', 'bonus', 'lowest', 'price', 'tablets'];
const HAM_WORDS = ['dinner', 'saturday', 'salad', 'garden', 'photos', 'bring', 'still', 'evening', 'kids', 'school', 'concert', 'tickets', 'weekend', 'cabin', 'lake', 'recipe', 'birthday', 'grandma'];
const words = (bank: string[], i: number): string => Array.from({ length: 14 }, (_, k) => bank[(i * 5 + k * 7) % bank.length]).join(' ');
const spam = (i: number): string =>
  `From: deals${i}@pills.example.top\r\nSubject: cheap pills ${i}\r\nMessage-ID: <s${i}@pills.example.top>\r\n\r\nBuy cheap viagra pills online now. ${words(SPAM_WORDS, i)}.\r\n`;
const ham = (i: number): string =>
  `From: bob@friends.example.org\r\nSubject: dinner ${i}\r\nMessage-ID: <h${i}@friends.example.org>\r\n\r\nAre we still on for dinner on Saturday? ${words(HAM_WORDS, i)}.\r\n`;

async function headersIn(imap: ImapFlow, mailbox: string): Promise<string[]> {
  const lock = await imap.getMailboxLock(mailbox);
  try {
    await imap.noop();
    if ((imap.mailbox as { exists: number }).exists === 0) return [];
    const out: string[] = [];
    for await (const m of imap.fetch('1:*', { headers: true })) out.push(m.headers?.toString() ?? '');
    return out;
  } finally {
    lock.release();
  }
}

test('serve --rspamd: rspamd decides, moves train it, a dead rspamd falls back to the built-in filter', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'mailroom-rspamd-'));
  const rspamd = await startRspamd(dir);
  const server = createMailroom({ dataDir: join(dir, 'data'), ports: { imap: 0, lmtp: 0 }, auth: { failureDelayMs: 0 }, hostname: 'mx.test', spam: { rspamdUrl: rspamd.url } });
  await server.start();
  const imap = new ImapFlow({ host: '127.0.0.1', port: server.ports.imap!, secure: false, doSTARTTLS: false, auth: { user: USER, pass: 'pw' }, logger: false });
  try {
    await server.addUser(USER, 'pw');
    // Untrained rspamd: no action, INBOX, its score in the header.
    assert.match(await lmtp(server.ports.lmtp!, spam(0)), /^250/);
    await imap.connect();
    let inbox = await headersIn(imap, 'INBOX');
    assert.equal(inbox.length, 1);
    assert.match(inbox[0]!, /X-Spam-Status: No, score=-?\d+\.\d required=50\.0 engine=rspamd action="no action"/);

    // Training: spam moved into Junk, ham moved out of Junk (appended there first: APPEND trains nothing).
    for (let i = 1; i <= 4; i++) assert.match(await lmtp(server.ports.lmtp!, spam(i)), /^250/);
    for (let i = 1; i <= 4; i++) await imap.append('Junk', ham(i));
    let lock = await imap.getMailboxLock('INBOX');
    try {
      await imap.messageMove('1:*', 'Junk');
    } finally {
      lock.release();
    }
    lock = await imap.getMailboxLock('Junk');
    try {
      const uids = await imap.search({ subject: 'dinner' }, { uid: true });
      assert.ok(Array.isArray(uids) && uids.length === 4);
      await imap.messageMove(uids, 'INBOX', { uid: true });
    } finally {
      lock.release();
    }

    // A similar spam now gets rspamd's "add header" and goes to Junk; a similar ham stays.
    assert.match(await lmtp(server.ports.lmtp!, spam(9)), /^250/);
    assert.match(await lmtp(server.ports.lmtp!, ham(9)), /^250/);
    const junk = await headersIn(imap, 'Junk');
    const flagged = junk.filter((h) => /Subject: cheap pills 9/.test(h));
    assert.equal(flagged.length, 1, `the new spam is in Junk; INBOX: ${(await headersIn(imap, 'INBOX')).filter((h) => /pills 9/.test(h)).join('\n')}; rspamd log: ${(await readFile(join(dir, 'rspamd.log'), 'utf8')).split('\n').filter((l) => /learn|bayes|error/i.test(l)).slice(-12).join('\n')}`);
    assert.match(flagged[0]!, /X-Spam-Status: Yes, score=\d+\.\d required=50\.0 engine=rspamd action="add header"/);
    assert.match(flagged[0]!, /X-Spam: Yes/);
    inbox = await headersIn(imap, 'INBOX');
    assert.ok(inbox.some((h) => /Subject: dinner 9/.test(h) && /X-Spam-Status: No, .*engine=rspamd/.test(h)));

    // rspamd gone: delivery still succeeds, through the built-in filter.
    await rspamd.stop();
    assert.match(await lmtp(server.ports.lmtp!, ham(10)), /^250/);
    inbox = await headersIn(imap, 'INBOX');
    assert.ok(inbox.some((h) => /Subject: dinner 10/.test(h) && /X-Spam-Status: No, .*engine=bayes/.test(h)));
  } finally {
    await imap.logout().catch(() => undefined);
    await server.stop();
    await rspamd.stop();
    await rm(dir, { recursive: true, force: true });
  }
});
