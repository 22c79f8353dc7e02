/**
 * swaks against mailroom's delivery listeners: the MX port (SMTP with STARTTLS, certificate verified), the
 * submission port (STARTTLS + AUTH PLAIN/LOGIN) and LMTP; delivered bytes are read back from the store.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ALICE, ALICE_PASS, BOB, describeRun, messageId, runTool, skipUnless, startServer, tempDir, testMessage, type InteropServer, type RunResult } from './helpers/interop.js';

/** swaks sends a data file followed by CRLF . CRLF: hand it the message without its last CRLF. */
function dataFile(msg: Buffer): Buffer {
  assert.ok(msg.subarray(-2).equals(Buffer.from('\r\n')));
  return msg.subarray(0, -2);
}

/** Splits a delivered message into the trace fields the server prepended and the message as sent. */
function splitTrace(raw: Buffer, sentStart: string): { trace: string; message: Buffer } {
  const text = raw.toString('latin1');
  const i = text.indexOf(sentStart);
  assert.ok(i > 0, text.slice(0, 400));
  return { trace: text.slice(0, i), message: Buffer.from(text.slice(i), 'latin1') };
}

async function swaks(dir: string, args: string[]): Promise<RunResult> {
  return runTool('swaks', ['--timeout', '10', '--hide-informational', ...args], { home: dir, timeoutMs: 30_000 });
}

async function inboxOf(s: InteropServer, user = s.bob): Promise<Buffer[]> {
  return (await s.messages('INBOX', user)).map((m) => m.raw);
}

test('swaks SMTP (MX port): STARTTLS with a verified certificate, byte-exact delivery, unknown users and relaying refused', { skip: skipUnless('swaks') }, async (t) => {
  const s = await startServer(t);
  const dir = await tempDir(t, 'swaks-mx');
  const msg = testMessage(3, { from: 'Carol <carol@remote.test>', to: `Bob <${BOB}>`, subject: 'over the MX port', attachment: true });
  const file = join(dir, 'msg.eml');
  await writeFile(file, dataFile(msg));
  const common = ['--server', '127.0.0.1', '--port', String(s.port('smtp')), '--ehlo', 'mx1.remote.test', '--from', 'carol@remote.test'];

  const ok = await swaks(dir, [...common, '--to', BOB, '-tls', '--tls-verify', '--tls-ca-path', s.certFile, '--data', file]);
  assert.equal(ok.code, 0, describeRun('swaks', ok));
  assert.match(ok.stdout, /<- {2}250-STARTTLS/);
  assert.doesNotMatch(ok.stdout, /250[- ]AUTH/, 'the MX port offers no AUTH');
  assert.match(ok.stdout, / -> STARTTLS\r?\n<- {2}220 .*\r?\n ~> EHLO/, 'the rest of the session ran inside TLS');
  assert.match(ok.stdout, /<~ {2}250 .*\r?\n ~> QUIT/);
  const got = await inboxOf(s);
  assert.equal(got.length, 1);
  const { trace, message } = splitTrace(got[0]!, 'From: Carol');
  assert.deepEqual(message, msg, 'delivered byte for byte after the trace fields (dot lines un-stuffed)');
  assert.match(trace, /^Return-Path: <carol@remote\.test>\r\n/);
  assert.match(trace, /Delivered-To: bob@example\.org\r\n/);
  assert.match(trace, /Received: from mx1\.remote\.test \(.*127\.0\.0\.1.*\)\r\n\tby mx\.example\.org .*with ESMTPS/s, 'RFC 3848: TLS without AUTH is ESMTPS');

  // An unknown local user is refused at RCPT; so is relaying to a foreign domain without authentication.
  const unknown = await swaks(dir, [...common, '--to', 'nobody-here@example.org', '-tls', '--tls-verify', '--tls-ca-path', s.certFile]);
  assert.notEqual(unknown.code, 0);
  assert.match(unknown.stdout, /~> RCPT TO:<nobody-here@example\.org>\r?\n<~\*+ {1,2}5\d\d /, describeRun('swaks', unknown));
  const relay = await swaks(dir, [...common, '--to', 'someone@elsewhere.test', '-tls', '--tls-verify', '--tls-ca-path', s.certFile]);
  assert.notEqual(relay.code, 0);
  assert.match(relay.stdout, /~> RCPT TO:<someone@elsewhere\.test>\r?\n<~\*+ {1,2}5\d\d /, describeRun('swaks', relay));
  assert.equal((await inboxOf(s)).length, 1, 'nothing else was delivered');
  assert.deepEqual(await s.m.store.queue.list(), [], 'nothing was queued for relaying');
});

test('swaks submission: STARTTLS + AUTH PLAIN and LOGIN deliver to a local user; bad password and AUTH-less mail refused', { skip: skipUnless('swaks') }, async (t) => {
  const s = await startServer(t);
  const dir = await tempDir(t, 'swaks-sub');
  const common = ['--server', '127.0.0.1', '--port', String(s.port('submission')), '--ehlo', 'laptop.example.org', '--from', ALICE, '--to', BOB, '-tls', '--tls-verify', '--tls-ca-path', s.certFile];
  const msgs: Buffer[] = [];
  for (const [i, mech] of ['PLAIN', 'LOGIN'].entries()) {
    const msg = testMessage(10 + i, { from: `Alice <${ALICE}>`, to: `Bob <${BOB}>`, subject: `submitted with AUTH ${mech}` });
    msgs.push(msg);
    const file = join(dir, `msg-${mech}.eml`);
    await writeFile(file, dataFile(msg));
    const r = await swaks(dir, [...common, '--auth', mech, '--auth-user', ALICE, '--auth-password', ALICE_PASS, '--data', file]);
    assert.equal(r.code, 0, describeRun('swaks', r));
    assert.match(r.stdout, /<~ {2}235 /, `AUTH ${mech} accepted`);
  }

  const bad = await swaks(dir, [...common, '--auth', 'PLAIN', '--auth-user', ALICE, '--auth-password', 'wrong']);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stdout, /<~\*+ {1,2}535 /, describeRun('swaks', bad));
  const anonymous = await swaks(dir, common);
  assert.notEqual(anonymous.code, 0, 'submission without AUTH is refused');
  assert.match(anonymous.stdout, /<~\*+ {1,2}5\d\d /, describeRun('swaks', anonymous));

  // Local recipients are delivered by the outbound queue; wait for both.
  let got: Buffer[] = [];
  for (let i = 0; i < 100 && got.length < 2; i++) {
    got = await inboxOf(s);
    if (got.length < 2) await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(got.length, 2);
  const byId = new Map(got.map((raw) => [messageId(raw), raw]));
  for (const msg of msgs) {
    const raw = byId.get(messageId(msg));
    assert.ok(raw, messageId(msg));
    const { trace, message } = splitTrace(raw, 'From: Alice');
    assert.deepEqual(message, msg);
    assert.match(trace, /^Return-Path: <alice@example\.org>\r\n/);
    assert.match(trace, /with ESMTPSA/, 'RFC 3848: TLS + AUTH is ESMTPSA');
  }
});

test('swaks LMTP: per-recipient replies after DATA, byte-exact delivery to every accepted recipient', { skip: skipUnless('swaks') }, async (t) => {
  const s = await startServer(t);
  const dir = await tempDir(t, 'swaks-lmtp');
  const msg = testMessage(21, { to: `Alice <${ALICE}>, Bob <${BOB}>`, subject: 'via LMTP' });
  const file = join(dir, 'msg.eml');
  await writeFile(file, dataFile(msg));
  const r = await swaks(dir, [
    '--protocol', 'LMTP', '--server', '127.0.0.1', '--port', String(s.port('lmtp')), '--ehlo', 'mta.example.org',
    '--from', 'sender@remote.test', '--to', `${ALICE},unknown@example.org,${BOB}`, '--data', file,
  ]);
  assert.match(r.stdout, /-> LHLO mta\.example\.org/, describeRun('swaks', r));
  assert.match(r.stdout, /-> RCPT TO:<unknown@example\.org>\r?\n<\*\* {1,2}5\d\d /, describeRun('swaks', r));
  // Two accepted recipients: two replies after the final dot.
  const afterDot = r.stdout.slice(r.stdout.lastIndexOf(' -> .'));
  assert.equal([...afterDot.matchAll(/<- {2}250 /g)].length, 2, describeRun('swaks', r));
  for (const user of [s.alice, s.bob]) {
    const got = await inboxOf(s, user);
    assert.equal(got.length, 1);
    const { trace, message } = splitTrace(got[0]!, 'From: Bob Sender');
    assert.deepEqual(message, msg);
    assert.match(trace, new RegExp(`Delivered-To: ${user.address.replace('.', '\\.')}\\r\\n`));
    assert.match(trace, /with LMTP/);
  }
});

test('swaks submissions (implicit TLS, RFC 8314): AUTH and byte-exact delivery', { skip: skipUnless('swaks') }, async (t) => {
  const s = await startServer(t);
  const dir = await tempDir(t, 'swaks-subs');
  const msg = testMessage(30, { from: `Alice <${ALICE}>`, to: `Bob <${BOB}>`, subject: 'over implicit TLS' });
  const file = join(dir, 'msg.eml');
  await writeFile(file, dataFile(msg));
  const r = await swaks(dir, [
    '--server', '127.0.0.1', '--port', String(s.port('submissions')), '--tls-on-connect', '--tls-verify', '--tls-ca-path', s.certFile,
    '--ehlo', 'laptop.example.org', '--from', ALICE, '--to', BOB, '--auth', 'PLAIN', '--auth-user', ALICE, '--auth-password', ALICE_PASS, '--data', file,
  ]);
  assert.equal(r.code, 0, describeRun('swaks', r));
  assert.match(r.stdout, /^<~ {2}220 /m, 'the greeting already came over TLS');
  let got: Buffer[] = [];
  for (let i = 0; i < 100 && got.length === 0; i++) {
    got = await inboxOf(s);
    if (got.length === 0) await new Promise((res) => setTimeout(res, 100));
  }
  assert.equal(got.length, 1);
  const { trace, message } = splitTrace(got[0]!, 'From: Alice');
  assert.deepEqual(message, msg);
  assert.match(trace, /with ESMTPSA/);
});
