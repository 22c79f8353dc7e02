import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildVacationReply, encodeHeaderValue, headerFields, messageId, redirectedBy, redirectedCopy, vacationHandle, vacationRefusal } from './deliver-outgoing.js';

const msg = (extra: string, to = 'Alice <alice@example.org>'): Buffer =>
  Buffer.from(`From: Dave <dave@remote.test>\r\nTo: ${to}\r\nSubject: =?UTF-8?B?w5xiZXIgZGFz?= plan\r\nMessage-ID: <m1@remote.test>\r\nReferences: <m0@remote.test>\r\n${extra}\r\nHi.\r\n`);
const own = ['alice@example.org'];

test('vacationRefusal: who gets no reply', () => {
  const f = (extra: string, from = 'dave@remote.test', to?: string) => vacationRefusal({ fields: headerFields(msg(extra, to)), envelopeFrom: from, own });
  assert.equal(f(''), null);
  assert.equal(f('', 'dave@remote.test', 'x@y.test, "A" <Alice+work@Example.ORG>'), null, 'plus-address and case');
  assert.match(f('', '')!, /null/);
  for (const s of ['MAILER-DAEMON@remote.test', 'owner-list@remote.test', 'list-request@remote.test', 'LISTSERV@remote.test', 'majordomo@remote.test']) assert.ok(f('', s), s);
  assert.match(f('', 'alice@example.org')!, /the user/);
  assert.match(f('Auto-Submitted: auto-generated\r\n')!, /auto-submitted/);
  assert.equal(f('Auto-Submitted: no\r\n'), null);
  for (const p of ['bulk', 'list', 'junk', 'Bulk']) assert.match(f(`Precedence: ${p}\r\n`)!, /precedence/);
  assert.equal(f('Precedence: first-class\r\n'), null);
  assert.match(f('List-Unsubscribe: <mailto:u@remote.test>\r\n')!, /list/);
  assert.match(f('X-Auto-Response-Suppress: OOF\r\n')!, /suppressed/);
  assert.match(f('', 'dave@remote.test', 'someone@example.net')!, /not in To or Cc/);
  assert.equal(f('Cc: alice@example.org\r\n', 'dave@remote.test', 'someone@example.net'), null);
});

test('buildVacationReply: headers, default subject from the decoded original, threading, bodies', () => {
  const fields = headerFields(msg(''));
  const r = buildVacationReply({ fields, to: 'dave@remote.test', from: 'alice@example.org', reason: 'Away\nback Monday', mime: false, hostname: 'mx.test', now: new Date('2026-12-07T09:00:00Z') });
  const t = r.raw.toString('utf8');
  assert.equal(r.to, 'dave@remote.test');
  assert.match(t, /^From: alice@example\.org\r\nTo: <dave@remote\.test>\r\nSubject: =\?UTF-8\?B\?[^\r]+\?=\r\n/);
  assert.match(t, /\r\nIn-Reply-To: <m1@remote\.test>\r\nReferences: <m0@remote\.test> <m1@remote\.test>\r\nAuto-Submitted: auto-replied \(vacation\)\r\n/);
  assert.match(t, /Date: Mon, 7 Dec 2026 09:00:00 \+0000/);
  assert.match(t, /\r\n\r\nAway\r\nback Monday\r\n$/);
  const subject = /Subject: ([^\r]+)/.exec(t)![1]!;
  assert.equal(Buffer.from(/\?B\?(.+)\?=/.exec(subject)![1]!, 'base64').toString('utf8'), 'Auto: Über das plan');
  const mime = buildVacationReply({ fields, to: 'd@r.test', from: 'a@e.org', reason: 'Content-Type: text/html\r\n\r\n<p>x</p>', subject: 'Away', mime: true, hostname: 'h', now: new Date() }).raw.toString();
  assert.match(mime, /Subject: Away\r\n[\s\S]*MIME-Version: 1\.0\r\nContent-Type: text\/html\r\n\r\n<p>x<\/p>\r\n$/);
  const alt = buildVacationReply({ fields, to: 'd@r.test', from: 'a@e.org', reason: 'text', htmlBody: '<b>html</b>', mime: false, hostname: 'h', now: new Date() }).raw.toString();
  assert.match(alt, /multipart\/alternative[\s\S]*text\/plain[\s\S]*text[\s\S]*text\/html[\s\S]*<b>html<\/b>/);
});

test('handles, header encoding, redirect marks, Message-ID', () => {
  assert.equal(vacationHandle({ reason: 'a', mime: false }), vacationHandle({ reason: 'a', mime: false }));
  assert.notEqual(vacationHandle({ reason: 'a', mime: false }), vacationHandle({ reason: 'a', subject: 's', mime: false }));
  assert.equal(encodeHeaderValue('plain text'), 'plain text');
  assert.equal(encodeHeaderValue('bad\r\nInjected: x'), 'badInjected: x', 'no line breaks reach a header');
  assert.match(encodeHeaderValue('ÄÖÜ'.repeat(30)), /^=\?UTF-8\?B\?[^\r]+\?=(\r\n =\?UTF-8\?B\?[^\r]+\?=)+$/);
  const copy = redirectedCopy(msg(''), 'alice@example.org');
  assert.match(copy.toString(), /^X-Sieve-Redirected-From: <alice@example\.org>\r\nFrom: /);
  assert.equal(redirectedBy(headerFields(copy), 'Alice@Example.org'), true);
  assert.equal(redirectedBy(headerFields(copy), 'bob@example.org'), false);
  assert.equal(messageId(headerFields(msg(''))), '<m1@remote.test>');
  assert.equal(messageId(headerFields(Buffer.from('Subject: x\r\n\r\n'))), null);
});

test('buildVacationReply with :mime keeps only the Content-* fields of the reason: it cannot add From, Bcc or other header fields', () => {
  const reason = 'From: boss@example.org\r\nBcc: x@example.net\r\nContent-Type: text/plain;\r\n charset=utf-8\r\nauto-submitted: no\r\nContent-Transfer-Encoding: 8bit\r\n\r\nhello\r\nFrom: in the body stays\r\n';
  const raw = buildVacationReply({ fields: [], to: 'bob@example.net', from: 'alice@example.org', reason, mime: true, hostname: 'mx.test', now: new Date() }).raw.toString();
  const [head, body] = raw.split('\r\n\r\n') as [string, string];
  assert.deepEqual(head.match(/^From:.*$/gim), ['From: alice@example.org']);
  assert.doesNotMatch(head, /^Bcc:/im);
  assert.deepEqual(head.match(/^auto-submitted:.*$/gim), ['Auto-Submitted: auto-replied (vacation)']);
  assert.match(head, /\r\nContent-Type: text\/plain;\r\n charset=utf-8\r\nContent-Transfer-Encoding: 8bit$/);
  assert.equal(body, 'hello\r\nFrom: in the body stays\r\n');
  // A reason without a header part is a text/plain body.
  const bare = buildVacationReply({ fields: [], to: 'b@e.net', from: 'a@e.org', reason: 'Bcc: x@example.net', mime: true, hostname: 'h', now: new Date() }).raw.toString();
  assert.match(bare, /MIME-Version: 1\.0\r\nContent-Type: text\/plain; charset=utf-8\r\n\r\nBcc: x@example\.net\r\n$/);
});
