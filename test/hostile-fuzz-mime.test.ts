/**
 * Hostile message content stored and read back over IMAP: address fields of hundreds of thousands of
 * addresses are read only up to MAX_ADDRESS_TOKENS (ENVELOPE, SEARCH TO), other pathological structures
 * (deep nesting, thousands of parts or header fields, broken boundaries and encodings) are stored and
 * served, and after each the server still serves and a known message reads back byte-identical.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startImap, RawClient, message, type ImapFixture } from './imap-helpers.js';
import { MAX_ADDRESS_TOKENS, parseAddressList } from '../src/mime/address.js';

const KNOWN = message('known', 'the known body\r\nline two');

/** A fresh session reads message 1 (the known one) byte for byte. */
async function knownIntact(port: number): Promise<void> {
  const c = await RawClient.connect(port);
  try {
    await c.login();
    await c.cmd('SELECT INBOX', 's');
    const r = await c.cmd('FETCH 1 BODY.PEEK[]', 'f');
    assert.ok(r.includes(`BODY[] {${Buffer.byteLength(KNOWN)}}\r\n${KNOWN})`), r.slice(0, 300));
  } finally {
    c.close();
  }
}

/** The number of addresses in the first ENVELOPE address list of `field` index (5 = To) of a FETCH answer. */
function countAddresses(fetch: string): number {
  return (fetch.match(/\(NIL NIL "u\d+" "x\.y"\)/g) ?? []).length;
}

describe('address lists beyond the bound', () => {
  test('parseAddressList stops after MAX_ADDRESS_TOKENS, dropping a cut address and closing an open group', () => {
    const n = 200_000;
    const list = Array.from({ length: n }, (_, i) => `u${i}@x.y`).join(',');
    const all = parseAddressList(list)!;
    assert.ok(all.length < n && all.length >= MAX_ADDRESS_TOKENS / 5, `${all.length} addresses`);
    // Four tokens per address: the last one kept is complete.
    assert.deepEqual(all.at(-1), { name: null, adl: null, mailbox: `u${all.length - 1}`, host: 'x.y' });
    const group = parseAddressList('team: ' + list + ';')!;
    assert.deepEqual(group[0], { name: null, adl: null, mailbox: 'team', host: null });
    assert.deepEqual(group.at(-1), { name: null, adl: null, mailbox: null, host: null });
    assert.equal(group.at(-2)!.host, 'x.y');
    // A short list is untouched.
    assert.equal(parseAddressList(Array.from({ length: 1000 }, (_, i) => `"N ${i}" <u${i}@x.y>`).join(', '))!.length, 1000);
  });
});

describe('hostile messages in the store', () => {
  let f: ImapFixture;
  before(async () => {
    f = await startImap();
    await f.append(KNOWN);
  });
  after(async () => {
    await f.close();
  });

  test('a To field of 200,000 addresses: ENVELOPE and SEARCH TO read its first addresses only', async () => {
    const to = Array.from({ length: 200_000 }, (_, i) => `u${i}@x.y`).join(',\r\n ');
    const { uid } = await f.append(`From: a@b.c\r\nSubject: crowd\r\nTo: ${to}\r\n\r\nbody\r\n`);
    const c = await RawClient.connect(f.port);
    try {
      await c.login();
      await c.cmd('SELECT INBOX', 's');
      const env = await c.cmd(`UID FETCH ${uid} (ENVELOPE)`, 'e');
      assert.match(env, /^e OK /m);
      const n = countAddresses(env);
      assert.ok(n > 1000 && n <= MAX_ADDRESS_TOKENS / 4, `${n} addresses in the ENVELOPE`);
      assert.match(await c.cmd('UID SEARCH TO u7@x.y', 'a'), new RegExp(`^\\* SEARCH ${uid}\\r\\n`, 'm'));
      assert.match(await c.cmd('UID SEARCH TO "<u199999@x.y>"', 'b'), /^\* SEARCH\r\n/m);
    } finally {
      c.close();
    }
    await knownIntact(f.port);
  });

  test('nesting, part and header counts, broken boundaries and encodings: stored, served, the store intact', async () => {
    let nest = 'From: a@b.c\r\nSubject: nest\r\n';
    for (let i = 0; i < 300; i++) nest += `Content-Type: multipart/mixed; boundary="b${i}"\r\n\r\n--b${i}\r\n`;
    nest += 'Content-Type: text/plain\r\n\r\nleaf\r\n';
    const hostile = [
      nest,
      'From: a@b.c\r\nSubject: m\r\n' + 'Content-Type: message/rfc822\r\n\r\nSubject: n\r\n'.repeat(500) + '\r\nleaf\r\n',
      'From: a@b.c\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n' + '--x\r\n\r\np\r\n'.repeat(5000) + '--x--\r\n',
      'From: a@b.c\r\n' + Array.from({ length: 20_000 }, (_, i) => `X-H${i}: v\r\n`).join('') + '\r\nbody\r\n',
      'From: a@b.c\r\nContent-Type: multipart/mixed\r\n\r\n--x\r\n\r\np\r\n--x--\r\n',
      'From: a@b.c\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: text/plain\r\n\r\nno close',
      'From: a@b.c\r\nSubject: header only',
      'From: a@b.c\nSubject: bare lf\nContent-Type: multipart/alternative; boundary=q\n\n--q\nContent-Type: text/html\n\n<b>x</b>\n--q--\n',
      'From: =?x-bogus?B?////?= <a@b.c>\r\nSubject: =?utf-7?Q?+AGE-?= =?utf-16?B?2D3d?=\r\nContent-Type: text/plain; charset="x-unknown"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n=FF=FE=\r\n=ZZ=\r\n',
      'From: a@b.c\r\nContent-Type: text/plain; charset=utf-16le\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!!====abc=d\r\nAAAAAAA\r\n',
      "From: a@b.c\r\nContent-Type: application/x; name*0*=utf-8''%FF%FE; name*1*=%00; name*99999999999=x\r\n\r\nx\r\n",
      'From: ' + '('.repeat(5000) + 'a@b.c' + ')'.repeat(5000) + '\r\nTo: ' + 'g:'.repeat(2000) + 'a@b.c' + ';'.repeat(2000) + '\r\n\r\nb\r\n',
    ];
    const uids: number[] = [];
    for (const m of hostile) uids.push((await f.append(m)).uid);
    const c = await RawClient.connect(f.port);
    try {
      await c.login();
      await c.cmd('SELECT INBOX', 's');
      for (const uid of uids) {
        for (const items of ['BODYSTRUCTURE ENVELOPE', 'BODY.PEEK[1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1] BODY.PEEK[1.MIME]', 'PREVIEW', 'BODY.PEEK[HEADER.FIELDS (Subject To)]']) {
          assert.match(await c.cmd(`UID FETCH ${uid} (${items})`, 'f'), /^f OK /m, `uid ${uid}: ${items}`);
        }
        assert.match(await c.cmd(`UID FETCH ${uid} (BINARY.PEEK[1])`, 'g'), /^g (OK|NO) /m);
      }
      assert.match(await c.cmd('SEARCH TEXT zzzz', 'h'), /^h OK /m);
      assert.match(await c.cmd('SORT (SUBJECT FROM DISPLAYTO DATE) UTF-8 ALL', 'i'), /^i OK /m);
      assert.match(await c.cmd('THREAD REFERENCES UTF-8 ALL', 'j'), /^j OK /m);
    } finally {
      c.close();
    }
    await knownIntact(f.port);
  });
});
