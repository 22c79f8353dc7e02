import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { indexMessage } from '../../mime/index.js';
import { envelopeImapText } from '../../imap/wire/envelope-text.js';
import type { Envelope, EnvelopeAddress } from '../../mime/types.js';
import { WireWriter } from '../../imap/wire/encode.js';
import { writeEnvelope } from './structure.js';

const FIXTURES = join(import.meta.dirname, '../../../test/fixtures/mime');

function rendered(e: Envelope, utf8: boolean): string {
  const w = new WireWriter(utf8);
  writeEnvelope(w, e);
  return w.toBuffer().toString('utf8');
}

/** The stored text form must be exactly what a session would render, for 7-bit and UTF-8 sessions alike. */
function assertSameAsRenderer(e: Envelope, why: string): void {
  const text = envelopeImapText(e);
  if (text === null) return;
  assert.equal(text, rendered(e, false), `${why}: 7-bit session`);
  assert.equal(text, rendered(e, true), `${why}: UTF-8 session`);
}

test('envelopeImapText equals the session renderer on every MIME fixture', () => {
  let withText = 0;
  for (const f of readdirSync(FIXTURES).filter((n) => n.endsWith('.eml'))) {
    const e = indexMessage(readFileSync(join(FIXTURES, f))).envelope;
    assertSameAsRenderer(e, f);
    if (envelopeImapText(e) !== null) withText++;
  }
  assert.ok(withText >= 10, `most fixtures have a 7-bit envelope (${withText})`);
});

test('envelopeImapText: quotes and backslashes escaped, NIL for absent, groups kept; null when a string needs a literal or 8-bit', () => {
  const raw = Buffer.from('Subject: say "hi" \\ bye\r\nTo: team: a@b.example, c@d.example;\r\nDate: Fri, 27 Nov 2026 10:00:00 +0000\r\n\r\n');
  const e = indexMessage(raw).envelope;
  assert.equal(
    envelopeImapText(e),
    '("Fri, 27 Nov 2026 10:00:00 +0000" "say \\"hi\\" \\\\ bye" NIL NIL NIL ((NIL NIL "team" NIL)(NIL NIL "a" "b.example")(NIL NIL "c" "d.example")(NIL NIL NIL NIL)) NIL NIL NIL NIL)',
  );
  assert.equal(envelopeImapText({ ...e, subject: 'caf\u00e9' }), null, '8-bit: the session decides');
  assert.equal(envelopeImapText({ ...e, subject: 'x'.repeat(1025) }), null, 'too long to quote: a literal');
  assert.equal(envelopeImapText({ ...e, subject: 'x'.repeat(1024) })!.includes('"' + 'x'.repeat(1024) + '"'), true);
  assert.equal(envelopeImapText({ ...e, messageId: 'a\rb' }), null, 'CR needs a literal');
});

test('envelopeImapText equals the session renderer on generated envelopes', () => {
  const str = fc.option(fc.string({ maxLength: 40, unit: fc.constantFrom('a', 'Z', ' ', '"', '\\', '(', ')', '\u00e9', '\r', '\u0001', '{', '1', '*') }), { nil: null });
  const addr: fc.Arbitrary<EnvelopeAddress> = fc.record({ name: str, adl: str, mailbox: str, host: str });
  const list = fc.option(fc.array(addr, { maxLength: 3 }), { nil: null });
  const env: fc.Arbitrary<Envelope> = fc.record({
    date: str,
    subject: fc.oneof(str, fc.constant('y'.repeat(1500))),
    from: list,
    sender: list,
    replyTo: list,
    to: list,
    cc: list,
    bcc: list,
    inReplyTo: str,
    messageId: str,
  });
  fc.assert(fc.property(env, (e) => assertSameAsRenderer(e, 'generated')), { numRuns: 500 });
});
