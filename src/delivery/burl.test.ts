/**
 * BURL (RFC 4468) end to end over raw sockets: a draft APPENDed over IMAP, GENURLAUTH for submit+user,
 * then submitted with BURL over SMTP; the message arrives in the local recipient's INBOX. Bad input:
 * BURL before AUTH / MAIL, bad syntax, a forged token, user+ access, another user's URL, a reset key.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createOutboundQueue, createSubmissionService, type OutboundQueue } from './index.js';
import { createImapService } from '../imap-server/index.js';
import type { NetService } from '../lib/service.js';
import { silentLogger } from '../lib/logger.js';
import { RawClient } from '../../test/imap-helpers.js';
import { makeEnv, mailboxContents, RawSmtp, stripTrace, type Env } from '../../test/delivery/helpers.js';

const b64 = (s: string): string => Buffer.from(s).toString('base64');

describe('BURL: submitting an IMAP draft by URL', () => {
  let env: Env;
  let imap: NetService;
  let sub: NetService;
  let queue: OutboundQueue;
  let imapPort: number;
  let subPort: number;

  before(async () => {
    env = await makeEnv([
      ['alice@example.org', 'pw'],
      ['bob@example.org', 'pw'],
    ]);
    queue = createOutboundQueue({ store: env.store, auth: env.auth, hostname: 'mail.example.org' });
    imap = createImapService({ store: env.store, auth: env.auth, logger: silentLogger, hostname: 'mail.example.org' });
    sub = createSubmissionService({ store: env.store, auth: env.auth, hostname: 'mail.example.org', outbound: queue, maxMessageSize: 100_000 });
    imapPort = (await imap.listen({ host: '127.0.0.1', port: 0, implicitTls: false })).port;
    subPort = (await sub.listen({ host: '127.0.0.1', port: 0, implicitTls: false })).port;
  });
  after(async () => {
    await sub.close();
    await imap.close();
    await queue.stop();
    await env.close();
  });

  /** APPENDs `draft` to alice's Drafts and returns an URLAUTH URL for it with `access`. */
  async function draftUrl(c: RawClient, draft: string, access: string, section = ''): Promise<string> {
    const r = await c.cmd(`APPEND Drafts (\\Draft) {${draft.length}+}\r\n${draft}`);
    const uid = /APPENDUID \d+ (\d+)/.exec(r)![1];
    const g = await c.cmd(`GENURLAUTH "imap://alice@example.org@mail.example.org/Drafts/;UID=${uid}${section};URLAUTH=${access}" INTERNAL`);
    const m = /^\* GENURLAUTH (\S+)\r\n/.exec(g);
    assert.ok(m, g);
    return m[1]!.replace(/^"|"$/g, '');
  }

  async function session(user = 'alice@example.org'): Promise<RawSmtp> {
    const { client } = await RawSmtp.open(subPort);
    const ehlo = await client.cmd('EHLO client.test');
    assert.ok(ehlo.lines.some((l) => /^250[- ]BURL$/.test(l)), ehlo.text);
    assert.equal((await client.cmd(`AUTH PLAIN ${b64(`\0${user}\0pw`)}`)).code, 235);
    const again = await client.cmd('EHLO client.test');
    assert.ok(again.lines.some((l) => /^250[- ]BURL imap$/.test(l)), again.text);
    return client;
  }

  test('a draft submitted with BURL arrives without being uploaded again; chunks and text parts join', async () => {
    const c = await RawClient.connect(imapPort);
    await c.login('alice@example.org', 'pw');
    const draft = 'From: alice@example.org\r\nTo: bob@example.org\r\nSubject: by reference\r\nMessage-ID: <burl1@example.org>\r\nDate: Fri, 27 Nov 2026 07:00:00 +0000\r\n\r\nHello Bob, from a draft.\r\n';
    const url = await draftUrl(c, draft, 'submit+alice@example.org');
    const s = await session();
    assert.equal((await s.cmd('MAIL FROM:<alice@example.org>')).code, 250);
    assert.equal((await s.cmd('RCPT TO:<bob@example.org>')).code, 250);
    const r = await s.cmd(`BURL ${url} LAST`);
    assert.equal(r.code, 250, r.text);
    const inbox = await mailboxContents(env.store, 'bob@example.org');
    assert.equal(stripTrace(inbox.at(-1)!).toString(), draft);

    // Two chunks: the header from one URL, the body from another (sections), BURL then BURL LAST.
    const hdr = await draftUrl(c, draft, 'submit+alice@example.org', '/;SECTION=HEADER');
    const text = await draftUrl(c, draft, 'submit+alice@example.org', '/;SECTION=TEXT');
    assert.equal((await s.cmd('MAIL FROM:<alice@example.org>')).code, 250);
    assert.equal((await s.cmd('RCPT TO:<bob@example.org>')).code, 250);
    const first = await s.cmd(`BURL ${hdr}`);
    assert.match(first.text, /^250 2\.5\.0 /);
    assert.equal((await s.cmd(`BURL ${text} LAST`)).code, 250);
    const again = await mailboxContents(env.store, 'bob@example.org');
    assert.equal(stripTrace(again.at(-1)!).toString(), draft);
    s.close();
    c.close();
  });

  test('bad input: no AUTH, no MAIL, syntax, forged token, user+ access, reset key; the session goes on', async () => {
    const c = await RawClient.connect(imapPort);
    await c.login('alice@example.org', 'pw');
    const draft = 'From: alice@example.org\r\nSubject: x\r\n\r\nx\r\n';
    const good = await draftUrl(c, draft, 'submit+alice@example.org');
    const userOnly = await draftUrl(c, draft, 'user+alice@example.org');
    const { client: anon } = await RawSmtp.open(subPort);
    await anon.cmd('EHLO client.test');
    assert.equal((await anon.cmd(`BURL ${good} LAST`)).code, 530);
    anon.close();

    const s = await session();
    assert.equal((await s.cmd(`BURL ${good} LAST`)).code, 503);
    assert.equal((await s.cmd('MAIL FROM:<alice@example.org>')).code, 250);
    assert.equal((await s.cmd('RCPT TO:<bob@example.org>')).code, 250);
    assert.equal((await s.cmd('BURL')).code, 501);
    assert.equal((await s.cmd(`BURL ${good} NOTLAST`)).code, 501);
    const forged = good.replace(/[0-9a-f]{8}$/, '00000000');
    assert.match((await s.cmd(`BURL ${forged} LAST`)).text, /^554 5\.6\.6 /);
    assert.equal((await s.cmd('MAIL FROM:<alice@example.org>')).code, 250);
    assert.equal((await s.cmd('RCPT TO:<bob@example.org>')).code, 250);
    assert.match((await s.cmd(`BURL ${userOnly} LAST`)).text, /^554 5\.6\.6 /);
    // Bob may not submit alice's URL even though it is signed.
    const bob = await session('bob@example.org');
    assert.equal((await bob.cmd('MAIL FROM:<bob@example.org>')).code, 250);
    assert.equal((await bob.cmd('RCPT TO:<alice@example.org>')).code, 250);
    assert.match((await bob.cmd(`BURL ${good} LAST`)).text, /^554 5\.6\.6 /);
    bob.close();
    // RESETKEY: the URL stops resolving.
    assert.match(await c.cmd('RESETKEY Drafts INTERNAL'), /OK/);
    assert.equal((await s.cmd('MAIL FROM:<alice@example.org>')).code, 250);
    assert.equal((await s.cmd('RCPT TO:<bob@example.org>')).code, 250);
    assert.match((await s.cmd(`BURL ${good} LAST`)).text, /^554 5\.6\.6 /);
    assert.equal((await s.cmd('NOOP')).code, 250);
    s.close();
    c.close();
  });
});
