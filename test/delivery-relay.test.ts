import { test } from 'node:test';
import assert from 'node:assert/strict';
import nodemailer from 'nodemailer';
import { createOutboundQueue, createSmtpService, createSubmissionService } from '../src/delivery/index.js';
import { makeEnv, mailboxContents, stripTrace, testTls } from './delivery/helpers.js';

test('mailroom to mailroom: submission on one instance, queue relays to the MX of a second one; unknown user bounces back', { timeout: 30_000 }, async () => {
  const a = await makeEnv([['alice@example.org', 'pw']]);
  const b = await makeEnv([['carol@remote.test', 'pw']]);
  const tls = await testTls();
  const mx = createSmtpService({ store: b.store, auth: b.auth, hostname: 'mx.remote.test', tls });
  const mxPort = (await mx.listen({ host: '127.0.0.1', port: 0, implicitTls: false })).port;
  const queue = createOutboundQueue({ store: a.store, auth: a.auth, hostname: 'mail.example.org', routes: { 'remote.test': { host: '127.0.0.1', port: mxPort } } });
  const sub = createSubmissionService({ store: a.store, auth: a.auth, hostname: 'mail.example.org', tls, outbound: queue });
  const subPort = (await sub.listen({ host: '127.0.0.1', port: 0, implicitTls: true })).port;
  try {
    const raw = 'From: Alice <alice@example.org>\r\nTo: carol@remote.test\r\nSubject: across\r\nMessage-ID: <across@example.org>\r\nDate: Fri, 27 Nov 2026 07:00:00 +0000\r\n\r\nHello Carol.\r\n';
    const t = nodemailer.createTransport({ host: '127.0.0.1', port: subPort, secure: true, auth: { user: 'alice@example.org', pass: 'pw' }, tls: { rejectUnauthorized: false }, logger: false });
    await t.sendMail({ envelope: { from: 'alice+out@example.org', to: ['carol@remote.test', 'nobody@remote.test'] }, raw });
    await queue.runOnce();

    const carol = await mailboxContents(b.store, 'carol@remote.test');
    assert.equal(carol.length, 1);
    const copy = carol[0]!.toString();
    assert.equal(stripTrace(carol[0]!).toString(), raw, 'both hops leave the message itself untouched');
    assert.match(copy, /^Return-Path: <alice\+out@example\.org>\r\nDelivered-To: carol@remote\.test\r\nReceived: from mail\.example\.org \(\[127\.0\.0\.1\]\)\r\n\tby mx\.remote\.test \(mailroom\) with ESMTPS id \S+\r\n\tfor <carol@remote\.test>;\r\n\t[^\r]+\r\nReceived: from \S+ \(\[127\.0\.0\.1\]\)\r\n\tby mail\.example\.org \(mailroom\) with ESMTPSA id /);

    const inbox = await mailboxContents(a.store, 'alice@example.org');
    assert.equal(inbox.length, 1, 'the bounce for nobody@remote.test');
    assert.match(inbox[0]!.toString(), /^Return-Path: <>\r\nDelivered-To: alice\+out@example\.org\r\n/);
    assert.match(inbox[0]!.toString(), /Final-Recipient: rfc822; nobody@remote\.test\r\nAction: failed\r\nStatus: 5\.1\.1\r\nRemote-MTA: dns; 127\.0\.0\.1\r\nDiagnostic-Code: smtp; 550 5\.1\.1 No such user here/);
    assert.equal((await a.store.queue.list()).length, 0);
    assert.equal((await mailboxContents(a.store, 'alice@example.org', 'Sent')).length, 1);
  } finally {
    await sub.close();
    await queue.stop();
    await mx.close();
    await a.close();
    await b.close();
  }
});
