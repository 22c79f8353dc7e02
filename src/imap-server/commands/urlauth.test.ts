/**
 * URLAUTH (RFC 4467) and URLAUTH=BINARY (RFC 5524) raw-socket transcripts: GENURLAUTH, URLFETCH (plain,
 * BODY/BINARY/BODYPARTSTRUCTURE), RESETKEY, access identifiers across users, and bad input (BAD for
 * grammar, NO for URLs that cannot be signed, NIL for URLs that do not resolve; the session goes on).
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { ParseError } from '../../imap/grammar/args.js';
import { args } from './testing/grammar.js';
import { parseGenUrlauth, parseResetKey, parseUrlFetch } from './urlauth.js';
import { parseImapUrl } from '../../urlauth/url.js';
import { RawClient, useTranscriptImap, USER, PASSWORD } from '../../../test/imap-helpers.js';

describe('URLAUTH grammar and URLs', () => {
  test('commands', () => {
    assert.deepEqual(parseResetKey(args('')), { mailbox: null });
    assert.deepEqual(parseResetKey(args('INBOX INTERNAL')), { mailbox: 'INBOX' });
    assert.deepEqual(parseGenUrlauth(args('"imap://a@b/INBOX/;UID=1;URLAUTH=authuser" INTERNAL')).rumps, ['imap://a@b/INBOX/;UID=1;URLAUTH=authuser']);
    assert.deepEqual(parseUrlFetch(args('u1 (u2 BINARY BODYPARTSTRUCTURE)')).items, [
      { url: 'u1', params: null },
      { url: 'u2', params: { body: false, binary: true, bodyPartStructure: true } },
    ]);
    for (const bad of ['"imap://a@b/INBOX/;UID=1;URLAUTH=authuser"', '']) assert.throws(() => parseGenUrlauth(args(bad)), ParseError, bad);
    assert.throws(() => parseUrlFetch(args('(u1 FLAGS)')), ParseError);
    assert.throws(() => parseUrlFetch(args('()')), ParseError);
    assert.throws(() => parseUrlFetch(args('')), ParseError);
  });

  test('IMAP URLs (RFC 5092)', () => {
    const u = parseImapUrl('imap://fred%40example.org;AUTH=*@Mail.Example.org/Lists%2FA/b;UIDVALIDITY=7/;UID=20/;SECTION=1.2/;PARTIAL=5.10;EXPIRE=2030-01-01T00:00:00Z;URLAUTH=submit+fred:INTERNAL:0a1b');
    assert.ok(u);
    assert.equal(u.user, 'fred@example.org');
    assert.equal(u.host, 'mail.example.org');
    assert.equal(u.mailbox, 'Lists/A/b');
    assert.equal(u.uidValidity, 7);
    assert.equal(u.uid, 20);
    assert.equal(u.section, '1.2');
    assert.deepEqual(u.partial, { start: 5, length: 10 });
    assert.deepEqual(u.auth, { access: 'submit+fred', mechanism: 'INTERNAL', token: '0a1b' });
    assert.equal(u.rump, 'imap://fred%40example.org;AUTH=*@Mail.Example.org/Lists%2FA/b;UIDVALIDITY=7/;UID=20/;SECTION=1.2/;PARTIAL=5.10;EXPIRE=2030-01-01T00:00:00Z');
    for (const bad of ['/INBOX', '/INBOX/;UID=0', '/INBOX/;UID=1/;BOGUS=1', '//x/INBOX/;UID=1', 'imap://host', '/INBOX/;SECTION=1/;UID=1', '/%ZZ/;UID=1']) {
      assert.equal(parseImapUrl(bad), null, bad);
    }
  });
});

/** The URL as the server writes it: an atom, or quoted when it holds list wildcards such as "%". */
const q = (url: string): string => (/[%*]/.test(url) ? `"${url}"` : url);

describe('URLAUTH raw transcripts', () => {
  const f = useTranscriptImap(async (fx) => {
    await fx.store.directory.createUser('bob@example.org', fx.user.passwordHash);
  });

  async function gen(c: RawClient, rump: string): Promise<string> {
    const r = await c.cmd(`GENURLAUTH "${rump}" INTERNAL`);
    const m = /^\* GENURLAUTH "?([^"\r\n]+)"?\r\n\S+ OK/.exec(r);
    assert.ok(m, r);
    return m[1]!;
  }

  test('GENURLAUTH, URLFETCH for the user, another user with authuser, RESETKEY', async () => {
    const c = await RawClient.connect(f.port);
    await c.login();
    const base = `imap://${encodeURIComponent(USER)}@imap.test/INBOX/;UID=3`;
    const mine = await gen(c, `${base};URLAUTH=user+${USER}`);
    assert.match(mine, /^imap:\/\/alice%40example\.org@imap\.test\/INBOX\/;UID=3;URLAUTH=user\+alice@example\.org:INTERNAL:[0-9a-f]{40}$/);
    const any = await gen(c, `${base}/;SECTION=TEXT;URLAUTH=authuser`);
    const body = (await f.store.mail.readBytes(f.inbox.id, 3)).toString('latin1');
    assert.equal(await c.cmd(`URLFETCH ${q(mine)}`, 'a'), `* URLFETCH ${q(mine)} {${body.length}}\r\n${body}\r\na OK URLFETCH completed\r\n`);
    assert.equal(await c.cmd(`URLFETCH (${q(any)} BODY)`, 'b'), `* URLFETCH ${q(any)} (BODY {12}\r\nthird body\r\n)\r\nb OK URLFETCH completed\r\n`);

    const bob = await RawClient.connect(f.port);
    await bob.login('bob@example.org', PASSWORD);
    // user+alice is for alice only; authuser for anyone logged in here.
    assert.equal(await bob.cmd(`URLFETCH ${q(mine)} ${q(any)}`, 'c'), `* URLFETCH ${q(mine)} NIL\r\n* URLFETCH ${q(any)} {12}\r\nthird body\r\n\r\nc OK URLFETCH completed\r\n`);
    // A forged token, or one for a URL edited after signing, does not resolve.
    const forged = any.replace(/[0-9a-f]{4}$/, '0000');
    const edited = any.replace(';SECTION=TEXT', ';SECTION=HEADER');
    assert.equal(await bob.cmd(`URLFETCH ${q(forged)} ${q(edited)}`, 'd'), `* URLFETCH ${q(forged)} NIL\r\n* URLFETCH ${q(edited)} NIL\r\nd OK URLFETCH completed\r\n`);
    // Bob cannot sign alice's URLs.
    assert.equal(await bob.cmd(`GENURLAUTH "${base};URLAUTH=authuser" INTERNAL`, 'e'), 'e NO Invalid URL\r\n');

    // RFC 4467 6.1: the mechanisms a mailbox's URLs can use, on RESETKEY of that mailbox and on SELECT.
    assert.equal(await c.cmd('RESETKEY INBOX INTERNAL', 'f'), 'f OK [URLMECH INTERNAL] RESETKEY completed\r\n');
    assert.match(await bob.cmd('EXAMINE INBOX', 'x'), /^\* OK \[URLMECH INTERNAL\] Ok\r\n/m);
    assert.equal(await bob.cmd(`URLFETCH ${q(any)}`, 'g'), `* URLFETCH ${q(any)} NIL\r\ng OK URLFETCH completed\r\n`);
    const again = await gen(c, `${base};URLAUTH=authuser`);
    assert.equal(await c.cmd('RESETKEY', 'h'), 'h OK RESETKEY completed\r\n');
    assert.equal(await c.cmd(`URLFETCH ${q(again)}`, 'i'), `* URLFETCH ${q(again)} NIL\r\ni OK URLFETCH completed\r\n`);
    bob.close();
    c.close();
  });

  test('URLAUTH=BINARY: BINARY decodes the part, BODYPARTSTRUCTURE describes it (decoded sizes with BINARY, as Dovecot)', async () => {
    const c = await RawClient.connect(f.port);
    await c.login();
    const url = await gen(c, `imap://${encodeURIComponent(USER)}@imap.test/INBOX/;UID=2/;SECTION=2;URLAUTH=authuser`);
    const r = await c.cmd(`URLFETCH (${q(url)} BODYPARTSTRUCTURE BINARY)`, 'a');
    assert.equal(
      r,
      `* URLFETCH ${q(url)} (BODYPARTSTRUCTURE ("application" "octet-stream" ("name" "a.bin") NIL NIL "base64" 4 NIL ("attachment" ("filename" "a.bin")) NIL NIL) BINARY ~{4}\r\n\x00\x01\x02\x03)\r\na OK URLFETCH completed\r\n`,
    );
    const plain = await c.cmd(`URLFETCH (${q(url)} BODYPARTSTRUCTURE)`, 'b');
    assert.match(plain, /NIL NIL "base64" 8 NIL \("attachment"/);
    // The whole message: every base64 / quoted-printable leaf decoded, its encoding field made "binary".
    const whole = await gen(c, `imap://${encodeURIComponent(USER)}@imap.test/INBOX/;UID=2;URLAUTH=authuser`);
    const all = await c.cmd(`URLFETCH (${q(whole)} BINARY)`, 'c');
    assert.ok(all.includes('Content-Transfer-Encoding: binary\r\n\r\ncaf\xc3\xa9 au lait\r\n--XX'), all);
    assert.ok(all.includes('Content-Transfer-Encoding: binary\r\n\r\n\x00\x01\x02\x03\r\n--XX--'), all);
    assert.match(all, /BINARY ~\{\d+\}\r\n/);
    c.close();
  });

  test('bad input: BAD for grammar and mechanisms, NO for unsignable URLs, NONEXISTENT for RESETKEY', async () => {
    const c = await RawClient.connect(f.port);
    await c.login();
    const base = `imap://${encodeURIComponent(USER)}@imap.test/INBOX/;UID=1`;
    assert.equal(await c.cmd(`GENURLAUTH "${base};URLAUTH=authuser" XSHA1`, 'a'), 'a BAD Unsupported URLAUTH mechanism\r\n');
    assert.equal(await c.cmd(`GENURLAUTH "${base};URLAUTH=authuser"`, 'b'), 'b BAD Missing URLAUTH mechanism\r\n');
    for (const rump of [`${base}`, `${base};URLAUTH=anonymous`, `${base};URLAUTH=authuser:INTERNAL:00`, '/INBOX/;UID=1;URLAUTH=authuser', `imap://${encodeURIComponent(USER)}@imap.test/Nope/;UID=1;URLAUTH=authuser`]) {
      assert.equal(await c.cmd(`GENURLAUTH "${rump}" INTERNAL`, 'c'), 'c NO Invalid URL\r\n', rump);
    }
    assert.equal(await c.cmd('URLFETCH /INBOX/;UID=1', 'd'), '* URLFETCH /INBOX/;UID=1 NIL\r\nd OK URLFETCH completed\r\n');
    assert.equal(await c.cmd('URLFETCH (x BOGUS)', 'e'), 'e BAD URLFETCH parameters are BODY, BINARY and BODYPARTSTRUCTURE\r\n');
    assert.equal(await c.cmd('RESETKEY Nope', 'f'), 'f NO [NONEXISTENT] Mailbox does not exist\r\n');
    assert.equal(await c.cmd('RESETKEY INBOX XSHA1', 'g'), 'g BAD Unsupported URLAUTH mechanism\r\n');
    assert.match(await c.cmd('NOOP', 'h'), /^h OK/);
    c.close();
  });
});
