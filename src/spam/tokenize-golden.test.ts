/**
 * The tokenizer's output must never change unnoticed: users' trained statistics are stored under the token
 * strings (and token ids are hashes of them), so a tokenizer that yields other tokens for the same message
 * makes stored training stop matching. This test pins the exact output (tokens, their order, the header and
 * body runs) over a varied corpus: the synthetic spam corpus, the MIME fixtures, generated MIME trees and
 * hand-made awkward texts (Unicode, invisible characters, CJK, spaced letters, shouting, HTML, URLs). A change
 * of the digest below means a change of tokens: only acceptable with a migration of stored training.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { spamCorpus } from '../../bench/spam-corpus.js';
import { serialize, treeArb } from '../../test/mime/generate.js';
import { joinTokenIds, joinTokens, tokenIdParts, tokenIdPartsOf, tokenize, tokenParts } from './tokenize.js';
import { tokenIdList } from './token-ids.js';

const AUTH = 'mx.example; dkim=pass header.d=example.org header.s=s1; spf=pass smtp.mailfrom=a@example.org; dmarc=pass header.from=example.org';

const crlf = (s: string): Buffer => Buffer.from(s.replace(/\r?\n/g, '\r\n'), 'utf8');

function handMade(): Buffer[] {
  const head = (extra = ''): string => `From: "Zoë Ünïcode" <zoe@exämple.org>\nTo: a@b.example, c@d.example, e@f.example\nSubject: =?utf-8?B?${Buffer.from('FREE $$$ ÖFFER!!! 限时优惠').toString('base64')}?=\nMessage-ID: <x1@mail.exämple.org>\nX-Mailer: Mailer 2.3.4\n${extra}`;
  const texts = [
    'THIS IS A VERY LOUD MESSAGE WITH MANY CAPITAL WORDS AND ABC DEF GHI JKL MNO\nBUY NOW!!! $100 only 50 EUR',
    'v.i.a.g.r.a and f r e e and c-i-a-l-i-s, x_y_z_w, 1.2.3.4.5 and A|B|C|D',
    'invisi\u200bble soft\u00adhyphen zero\u2060width \ufeffbom ｆｕｌｌｗｉｄｔｈ ﬁ ligature',
    '限时优惠，立即购买！这是一封测试邮件。日本語のテキストです。한국어 텍스트',
    "naïve café résumé don't rock'n'roll l’été €100 100€ ABC123 x2y3z4 3000000000 pre-- --post",
    'Visit https://bit.ly/abc?id=5 or http://192.168.0.1:8080/login?token=x and www.Example.co.uk/path/to/PAGE and mail me at Someone@Sub.Example.COM',
    'supercalifragilisticexpialidocious antidisestablishmentarianism a bb ccc dddd 12 123456789012345',
    'ÀÉÎÕÜ SHOUTING IN ÜNICODE ÇA VA? ΑΒΓΔ ΕΖΗΘ Кириллица ТЕКСТ',
  ];
  const out: Buffer[] = [];
  for (const t of texts) {
    out.push(crlf(`${head()}Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n${t}\n`));
    const html = `<html><body><p style="display:none">hidden</p><font size="1">tiny</font><span style="color:#ffffff">white</span><a href="http://evil.example/x">https://bank.example.com/</a><img src="http://img.example/a.png"><table><tr><td>${t}</td></tr></table><form></form><script>x</script></body></html>`;
    out.push(crlf(`${head('Reply-To: other@else.example\nList-Id: Some List <list.example.org>\nPrecedence: bulk\n')}MIME-Version: 1.0\nContent-Type: multipart/alternative; boundary=b1\n\n--b1\nContent-Type: text/html; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\n${html.replace(/=/g, '=3D')}\n--b1--\n`));
    out.push(crlf(`${head()}MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b2\n\n--b2\nContent-Type: text/plain; charset=iso-8859-1\nContent-Transfer-Encoding: base64\n\n${Buffer.from(t, 'latin1').toString('base64')}\n--b2\nContent-Type: application/octet-stream; name="invoice.pdf.exe"\nContent-Disposition: attachment; filename="invoice.pdf.exe"\nContent-Transfer-Encoding: base64\n\nAAAA\n--b2\nContent-Type: image/jpeg\n\nxx\n--b2--\n`));
  }
  out.push(Buffer.alloc(0), crlf('no header at all'), crlf('Subject: only a header\n'), crlf('Subject: x\n\n'), crlf(`Subject: big\n\n${'word '.repeat(40_000)}`));
  return out;
}

function corpus(): Buffer[] {
  const msgs: Buffer[] = [];
  for (const m of spamCorpus(600, 7)) msgs.push(m.raw);
  for (const m of spamCorpus(200, 202)) msgs.push(m.raw);
  const dir = join(import.meta.dirname, '../../test/fixtures/mime');
  for (const f of readdirSync(dir).sort()) msgs.push(readFileSync(join(dir, f)));
  for (const t of fc.sample(treeArb, { seed: 42, numRuns: 150 })) msgs.push(serialize(t, ['From: a@b.example', 'Subject: generated']));
  msgs.push(...handMade());
  return msgs;
}

/** Digest of the tokenizer's outputs over the corpus: the parts, and the joined tokens with and without results. */
function digest(msgs: Buffer[]): string {
  const h = createHash('sha256');
  for (const raw of msgs) {
    const p = tokenParts(raw);
    h.update(JSON.stringify([p.head, p.body, p.failed, tokenize(raw), tokenize(raw, { authResults: AUTH })]));
    h.update('\n');
  }
  return h.digest('hex');
}

const EXPECTED = '1011c5da1951e4956b538ea6b4cb5edc21d7a932fbac0bb9247d518901b95494';

test('the tokenizer yields exactly the tokens it always did, over a varied corpus', () => {
  assert.equal(digest(corpus()), EXPECTED);
});

test('token ids over the corpus are the ids of the token strings, in the same order', () => {
  for (const raw of corpus()) {
    const p = tokenParts(raw);
    const ids = tokenIdParts(p);
    assert.deepEqual(ids.head, tokenIdList(p.head));
    assert.deepEqual(ids.body, tokenIdList(p.body));
    assert.equal(ids.failed, p.failed);
    assert.deepEqual(joinTokenIds(ids, AUTH, raw.length), tokenIdList(joinTokens(p, AUTH, raw.length)));
  }
});

test('ids made while scanning (tokenIdPartsOf) are the ids of the token strings, in the same order', () => {
  for (const raw of corpus()) {
    const strings = tokenIdParts(tokenParts(raw));
    const direct = tokenIdPartsOf(raw);
    assert.deepEqual(direct.head, strings.head);
    assert.deepEqual(direct.body, strings.body);
    assert.equal(direct.failed, strings.failed);
  }
});

if (process.env['PRINT_TOKEN_DIGEST']) process.stdout.write(`digest ${digest(corpus())}\n`);
