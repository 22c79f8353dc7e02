/**
 * Addresses and user names fold ASCII letters only (A-Z to a-z, as Dovecot's %Lu): a non-ASCII spelling that
 * Unicode case rules would map onto an ASCII name (the Kelvin sign U+212A lowercases to "k"), or that Unicode
 * trimming would shorten (a trailing no-break space), is another name. No such spelling reaches kate's
 * mailbox or logs in as her, over IMAP LOGIN, POP3 USER, SASL PLAIN (ManageSieve, submission), HTTP Basic or
 * LMTP RCPT; the ASCII spellings in any case still do.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createMailroom, type Mailroom } from '../src/server/mailroom.js';
import { resolveRecipient } from '../src/delivery/resolve.js';
import { parseAddress } from '../src/delivery/address.js';
import { RawClient } from './imap-helpers.js';
import { RawPop3 } from './pop3-helpers.js';
import { RawSmtp } from './delivery/helpers.js';
import { plain, sieveConnect } from './managesieve-helpers.js';

const KATE = 'kate@example.org';
const PASS = 'kate-secret-1';
const KELVIN = '\u212Aate@example.org';
/** Spellings of no user at all: each must fail where KATE in upper case succeeds. */
const IMPOSTORS = [KELVIN, 'kate@example.org\u00a0', '\u00a0kate@example.org', 'kate@example.org\u3000', 'kate@e\u0078ample.org\u2028'];
let m: Mailroom;

before(async () => {
  m = createMailroom({ ports: { lmtp: 0, imap: 0, pop3: 0, managesieve: 0, http: 0 }, auth: { failureDelayMs: 0, maxDelayMs: 0 } });
  await m.start();
  await m.addUser(KATE, PASS);
  await m.store.directory.addAlias('kontakt@example.org', KATE);
});
after(async () => {
  await m.stop();
});

test('parseAddress folds ASCII letters only', () => {
  assert.equal(parseAddress('KATE@Example.ORG')?.address, KATE);
  assert.equal(parseAddress(KELVIN)?.address, KELVIN);
  assert.equal(parseAddress('\u00c4rger@example.org')?.address, '\u00c4rger@example.org');
  assert.equal(parseAddress(KELVIN.toUpperCase())?.address, '\u212Aate@example.org');
});

test('the authenticator and the directory: only ASCII spellings of kate log in', async () => {
  assert.equal((await m.auth.verify('KATE@EXAMPLE.ORG', PASS, { remoteAddress: '127.0.0.1' })).ok, true);
  for (const who of IMPOSTORS) {
    assert.equal((await m.auth.verify(who, PASS, { remoteAddress: '127.0.0.1' })).ok, false, JSON.stringify(who));
    assert.equal(await m.store.directory.getUser(who), null, JSON.stringify(who));
  }
});

test('LMTP RCPT: the Kelvin spelling of a user or an alias is an unknown recipient', async () => {
  assert.equal((await resolveRecipient(m.store.directory, 'Kate@EXAMPLE.org')).kind, 'local');
  assert.equal((await resolveRecipient(m.store.directory, KELVIN)).kind, 'unknown');
  assert.equal((await resolveRecipient(m.store.directory, '\u212Aontakt@example.org')).kind, 'unknown');
  assert.equal((await resolveRecipient(m.store.directory, 'kontakt@example.org')).kind, 'local');
  const { client } = await RawSmtp.open(m.ports.lmtp!);
  assert.equal((await client.cmd('LHLO client.test')).code, 250);
  assert.equal((await client.cmd('MAIL FROM:<bob@example.net> SMTPUTF8')).code, 250);
  assert.equal((await client.cmd(`RCPT TO:<${KELVIN}>`)).code, 550);
  assert.equal((await client.cmd('RCPT TO:<\u212Aontakt@example.org>')).code, 550);
  assert.equal((await client.cmd('RCPT TO:<KATE@example.org>')).code, 250);
  client.close();
});

test('IMAP LOGIN and AUTHENTICATE PLAIN: impostor spellings fail, upper case works, the authorization identity is compared the same way', async () => {
  for (const who of IMPOSTORS) {
    const c = await RawClient.connect(m.ports.imap!);
    assert.match(await c.cmd(Buffer.from(`LOGIN "${who}" "${PASS}"`, 'utf8')), /^t1 NO /m, JSON.stringify(who));
    c.write('t2 AUTHENTICATE PLAIN\r\n');
    await c.readUntil((s) => s.startsWith('+'));
    c.take();
    c.write(plain(who, PASS) + '\r\n');
    assert.match(await c.waitTagged('t2'), /^t2 NO /m, JSON.stringify(who));
    c.close();
  }
  const c = await RawClient.connect(m.ports.imap!);
  assert.match(await c.cmd(`LOGIN "KATE@EXAMPLE.ORG" "${PASS}"`), / OK /);
  c.close();
  // An authorization identity differing only by Unicode case is refused; by ASCII case it is the same user.
  for (const [authz, want] of [[KELVIN, /^t3 NO \[AUTHORIZATIONFAILED\]/m], ['KATE@example.org', /^t3 OK /m]] as const) {
    const a = await RawClient.connect(m.ports.imap!);
    a.write(`t3 AUTHENTICATE PLAIN ${Buffer.from(`${authz}\0${KATE}\0${PASS}`, 'utf8').toString('base64')}\r\n`);
    assert.match(await a.waitTagged('t3'), want, authz);
    a.close();
  }
});

test('POP3 USER/PASS: impostor spellings fail, upper case works', async () => {
  for (const who of [KELVIN, 'kate@example.org\u00a0']) {
    const { c } = await RawPop3.open(m.ports.pop3!);
    c.send(Buffer.from(`USER ${who}\r\n`, 'utf8'));
    await c.line();
    assert.match(await c.cmd(`PASS ${PASS}`), /^-ERR/, JSON.stringify(who));
    c.destroy();
  }
  const { c } = await RawPop3.open(m.ports.pop3!);
  assert.match(await c.login('KATE@example.org', PASS), /^\+OK/);
  c.destroy();
});

test('ManageSieve AUTHENTICATE PLAIN: impostor spellings fail, and an authorization identity differing only by Unicode case is refused', async () => {
  for (const who of IMPOSTORS) {
    const { c } = await sieveConnect(m.ports.managesieve!);
    assert.match((await c.cmd(`AUTHENTICATE "PLAIN" "${plain(who, PASS)}"`)).status, /^NO/, JSON.stringify(who));
    c.socket.destroy();
  }
  const { c } = await sieveConnect(m.ports.managesieve!);
  const asKelvin = Buffer.from(`${KELVIN}\0${KATE}\0${PASS}`, 'utf8').toString('base64');
  assert.match((await c.cmd(`AUTHENTICATE "PLAIN" "${asKelvin}"`)).status, /^NO/);
  const upper = Buffer.from(`KATE@example.org\0${KATE}\0${PASS}`, 'utf8').toString('base64');
  assert.match((await c.cmd(`AUTHENTICATE "PLAIN" "${upper}"`)).status, /^OK/);
  c.socket.destroy();
});

test('HTTP Basic (JMAP session): impostor spellings are 401, upper case is 200', async () => {
  const session = (who: string) =>
    fetch(`http://127.0.0.1:${m.ports.http}/.well-known/jmap`, { headers: { Authorization: `Basic ${Buffer.from(`${who}:${PASS}`, 'utf8').toString('base64')}` } });
  for (const who of IMPOSTORS) assert.equal((await session(who)).status, 401, JSON.stringify(who));
  const ok = await session('KATE@EXAMPLE.ORG');
  assert.equal(ok.status, 200);
  await ok.body?.cancel();
});
