/**
 * Hostile message content and hostile Sieve scripts: work that runs on every delivery (the searchable text,
 * the spam filter's tokens, the user's Sieve script) must take linear or bounded time whatever the bytes, so
 * one message or one script cannot stall the process for everybody. Each case delivers over raw LMTP and
 * checks over raw IMAP that the message arrived where it should and the server still answers.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createMailroom, type Mailroom } from '../src/server/mailroom.js';
import { RawClient } from './imap-helpers.js';
import { lmtpDeliver } from './web-helpers.js';
import { literal, plain, sieveConnect } from './managesieve-helpers.js';

const USER = 'alice@example.org';
const PASS = 'alice-pw';
let m: Mailroom;

before(async () => {
  m = createMailroom({ ports: { lmtp: 0, imap: 0, managesieve: 0 }, auth: { failureDelayMs: 0 } });
  await m.start();
  await m.addUser(USER, PASS);
});
after(async () => {
  await m.stop();
});

async function imap(): Promise<RawClient> {
  const c = await RawClient.connect(m.ports.imap!);
  await c.login(USER, PASS);
  return c;
}

function deliver(raw: string): Promise<string> {
  return lmtpDeliver(m.ports.lmtp!, 'bob@example.net', USER, Buffer.from(raw, 'latin1'));
}

test('HTML of megabytes of unclosed tags is delivered, searchable and previewed (linear-time text extraction)', { timeout: 90_000 }, async () => {
  // "<div <a <font " never closed: each "<" used to scan to the end of the text (quadratic: hours for 2 MB).
  const junk = ('<div <a <font '.repeat(70) + '\r\n').repeat(2000);
  const raw = ['From: <bob@example.net>', 'Subject: tags', 'MIME-Version: 1.0', 'Content-Type: text/html; charset=us-ascii', '', 'findme &amp; more', junk, ''].join('\r\n');
  assert.match(await deliver(raw), /^250 /);
  const c = await imap();
  assert.match(await c.cmd('SELECT INBOX', 's'), /^\* 1 EXISTS\r\n/m);
  assert.match(await c.cmd('SEARCH BODY findme', 'a'), /^\* SEARCH 1\r\na OK /m);
  assert.match(await c.cmd('FETCH 1 (PREVIEW)', 'b'), /^\* 1 FETCH \(PREVIEW "findme & more <div <a <font [^"]*"\)\r\nb OK /m);
  // Text around unclosed markup is kept as text, not dropped as one long tag.
  const raw2 = ['From: <bob@example.net>', 'Subject: lt', 'Content-Type: text/html', '', '<p>if a < b and c > d then</p> x <b>bold</b>', ''].join('\r\n');
  assert.match(await deliver(raw2), /^250 /);
  await c.cmd('NOOP', 'n');
  assert.match(await c.cmd('FETCH 2 (PREVIEW)', 'c'), /^\* 2 FETCH \(PREVIEW "if a < b and c > d then x bold"\)\r\nc OK /m);
  c.close();
});

test('Sieve :regex patterns that backtrack exponentially or polynomially are cut off; the message is kept', { timeout: 90_000 }, async () => {
  const { c: s } = await sieveConnect(m.ports.managesieve!);
  assert.match((await s.cmd(`AUTHENTICATE "PLAIN" "${plain(USER, PASS)}"`)).status, /^OK/);
  const script = [
    'require ["regex", "fileinto"];',
    // Exponential in JavaScript's engine, with no repetition inside the repeated group.
    'if header :regex "subject" "^(a|a)*$" { fileinto "Junk"; stop; }',
    // Six unbounded repetitions: O(n^6) on a 3000-character field without "y".
    'if header :regex "x-long" ".*.*.*.*.*.*y" { fileinto "Junk"; stop; }',
    // A back-reference.
    'if header :regex "x-ref" "^(x*)(x*)\\\\2\\\\1z$" { fileinto "Junk"; stop; }',
  ].join('\r\n');
  assert.match((await s.cmd(`PUTSCRIPT "re" ${literal(script)}`)).status, /^OK/);
  assert.match((await s.cmd('SETACTIVE "re"')).status, /^OK/);
  s.socket.destroy();

  const msg = (subject: string, extra: string[] = []): string => ['From: <bob@example.net>', `Subject: ${subject}`, ...extra, '', 'body', ''].join('\r\n');
  assert.match(await deliver(msg('a'.repeat(40) + 'b')), /^250 /);
  assert.match(await deliver(msg('long', ['X-Long: ' + 'x'.repeat(3000)])), /^250 /);
  assert.match(await deliver(msg('ref', ['X-Ref: ' + 'x'.repeat(5000)])), /^250 /);
  // The same patterns still match where they do, under the guard.
  assert.match(await deliver(msg('aaaa')), /^250 /);
  assert.match(await deliver(msg('short', ['X-Long: xxy'])), /^250 /);

  const c = await imap();
  const subjects = async (box: string): Promise<string[]> => {
    await c.cmd(`SELECT ${box}`, 's');
    const r = await c.cmd('FETCH 1:* (BODY.PEEK[HEADER.FIELDS (SUBJECT)])', 'f');
    // (INBOX also holds the other test's messages.)
    return [...r.matchAll(/^Subject: (\S+)\r\n/gm)].map((x) => x[1]!).filter((x) => x !== 'tags' && x !== 'lt').sort();
  };
  assert.deepEqual(await subjects('INBOX'), ['a'.repeat(40) + 'b', 'long', 'ref']);
  assert.deepEqual(await subjects('Junk'), ['aaaa', 'short']);
  c.close();
});

test('a message of 200 000 empty MIME parts is indexed up to 10 000 parts; the last spans the rest; nothing is lost', { timeout: 90_000 }, async () => {
  // Each "--b" line makes a part: unbounded, a 64 MB message of them made an index of gigabytes.
  const body = '--b\r\n\r\n'.repeat(200_000) + '--b--\r\n';
  const raw = ['From: <bob@example.net>', 'Subject: parts', 'MIME-Version: 1.0', 'Content-Type: multipart/mixed; boundary=b', '', body].join('\r\n');
  assert.match(await deliver(raw), /^250 /);
  const c = await imap();
  await c.cmd('SELECT INBOX', 's');
  const uid = /^\* SEARCH (\d+)\r\n/m.exec(await c.cmd('UID SEARCH SUBJECT parts', 'a'))?.[1];
  assert.ok(uid);
  const text = await c.cmd(`UID FETCH ${uid} BODY.PEEK[TEXT]`, 't');
  assert.ok(text.includes(`BODY[TEXT] {${body.length}}\r\n${body})`), 'the stored body is byte-exact');
  const bs = await c.cmd(`UID FETCH ${uid} BODYSTRUCTURE`, 'b');
  // The root multipart plus 9999 children.
  assert.equal(bs.match(/\("text" "plain"/g)?.length, 9999);
  assert.match(await c.cmd(`UID FETCH ${uid} BODY.PEEK[9998]`, 'c'), /BODY\[9998\] \{0\}\r\n/);
  // Part 9999 holds the rest of the multipart body verbatim: the delimiters after it, the close one too.
  const rest = '--b\r\n\r\n'.repeat(200_000 - 9999) + '--b--\r\n';
  const last = await c.cmd(`UID FETCH ${uid} BODY.PEEK[9999]`, 'd');
  assert.ok(last.includes(`BODY[9999] {${rest.length}}\r\n${rest})`), last.slice(0, 200));
  assert.match(await c.cmd(`UID FETCH ${uid} BODY.PEEK[10000]`, 'e'), /BODY\[10000\] \{0\}\r\n/);
  c.close();
});
