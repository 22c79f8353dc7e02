/**
 * `client read` of an IMAP message whose body is not cached, against Dovecot through a byte-counting
 * proxy: the raw message is streamed into the cache and out (never whole in memory); the readable view of
 * a big message fetches only its header and text part (BODY.PEEK[section], RFC 3501 section 6.4.5), not
 * its attachments; a text part bigger than the view's limit is shown cut, with a note.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Writable } from 'node:stream';
import { startDovecot, dovecotAvailable, type Dovecot } from '../support/dovecot.js';
import { tempProfile, engine, sampleMessage, PASSWORD_ENV, peakBufferGrowth, bigMessage } from './helpers/client.js';
import { startCutProxy, type CutProxy } from './helpers/cut-proxy.js';
import type { ClientEngine } from '../src/client/engine.js';

const skip = dovecotAvailable();
const PW = 'secret';

/** multipart/mixed: a short UTF-8 text/plain part (or `textBytes` of it), then an attachment of `attachBytes`. */
function withAttachment(subject: string, attachBytes: number, textBytes = 0): Buffer {
  const text = textBytes ? 'The long text, line after line.\r\n'.repeat(Math.ceil(textBytes / 33)) : 'Caf=C3=A9 au lait: the report is attached.\r\n';
  const b64 = Buffer.alloc(attachBytes, 7).toString('base64').replace(/.{76}/g, '$&\r\n');
  return Buffer.from(
    [
      'From: Sender <sender@example.org>',
      'To: rcpt@example.org',
      `Subject: ${subject}`,
      'Date: Mon, 07 Dec 2026 10:00:00 +0000',
      'MIME-Version: 1.0',
      'Content-Type: multipart/mixed; boundary="b1"',
      '',
      'preamble',
      '--b1',
      'Content-Type: text/plain; charset=utf-8',
      'Content-Transfer-Encoding: quoted-printable',
      '',
      text,
      '--b1',
      'Content-Type: application/octet-stream',
      'Content-Disposition: attachment; filename="report.bin"',
      'Content-Transfer-Encoding: base64',
      '',
      b64,
      '--b1--',
      '',
    ].join('\r\n'),
    'latin1',
  );
}

/** A Writable that keeps only a SHA-256 and a length of what it is given. */
function hashSink(): { sink: Writable; digest: () => string; length: () => number } {
  const h = createHash('sha256');
  let n = 0;
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      h.update(chunk);
      n += chunk.length;
      cb();
    },
  });
  return { sink, digest: () => h.digest('hex'), length: () => n };
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

describe('client read of uncached IMAP messages (Dovecot)', { skip: skip ?? false }, () => {
  let dc: Dovecot;
  let proxy: CutProxy;
  const cleanups: Array<() => void> = [];
  before(async () => {
    dc = await startDovecot({ users: ['ra', 'rb', 'rc'].map((user) => ({ user, password: PW })) });
    proxy = await startCutProxy(dc.imapPort);
  });
  after(async () => {
    for (const c of cleanups) c();
    await proxy?.close();
    await dc?.stop();
  });
  const synced = async (user: string): Promise<ClientEngine> => {
    const p = tempProfile();
    cleanups.push(p.cleanup);
    const e = engine(p.dir, PW);
    cleanups.unshift(() => e.close());
    e.addAccount({ name: user, protocol: 'imap', host: '127.0.0.1', port: proxy.port, user, password: { kind: 'env', name: PASSWORD_ENV } });
    await e.syncAccount(user);
    return e;
  };

  test('the view of a 25 MB message fetches its text part only; read --raw streams it whole into the cache', async () => {
    const big = withAttachment('quarterly report', 18 * 1024 * 1024);
    assert.ok(big.length > 24 * 1024 * 1024);
    await dc.deliver('ra', big);
    const e = await synced('ra');
    const row = e.list({ account: 'ra' })[0];
    assert.ok(row && !row.bodyCached && row.size === big.length);

    let before = proxy.bytesFromServer;
    let view: Awaited<ReturnType<ClientEngine['view']>> | undefined;
    const viewGrowth = await peakBufferGrowth(async () => {
      view = await e.view(row.id);
    });
    const viewBytes = proxy.bytesFromServer - before;
    assert.ok(view);
    assert.match(view.text, /^Subject: quarterly report$/m);
    assert.match(view.text, /^Attachments: 1$/m);
    assert.match(view.text, /Café au lait: the report is attached\./);
    assert.doesNotMatch(view.text, /more bytes of this text/);
    assert.ok(viewBytes < 64 * 1024, `the view cost ${viewBytes} bytes from the server for a ${big.length}-byte message`);
    assert.ok(viewGrowth < 4 * 1024 * 1024, `the view grew buffer memory by ${viewGrowth} bytes`);
    assert.equal(e.message(row.id).bodyCached, false, 'a partial view is not cached as the message');
    assert.ok(e.message(row.id).flags.includes('\\Seen'), 'viewing marks it read');

    before = proxy.bytesFromServer;
    const out = hashSink();
    let r: Awaited<ReturnType<ClientEngine['readTo']>> | undefined;
    const rawGrowth = await peakBufferGrowth(async () => {
      r = await e.readTo(row.id, out.sink, { peek: true });
    }, 100);
    assert.equal(r?.fetched, true);
    assert.equal(out.length(), big.length);
    assert.equal(out.digest(), sha(big), 'byte-exact');
    // The live buffers: a partial FETCH window or two of 1 MB in flight (2-3 MB measured under load),
    // never the message whole.
    assert.ok(rawGrowth < 8 * 1024 * 1024, `read --raw grew buffer memory by ${Math.round(rawGrowth / 1048576)} MB for a 25 MB message`);
    assert.ok(proxy.bytesFromServer - before < big.length * 1.05, 'fetched once');
    assert.equal(e.message(row.id).bodyCached, true);

    // cached now: no network at all
    before = proxy.bytesFromServer;
    const again = hashSink();
    assert.equal((await e.readTo(row.id, again.sink)).fetched, false);
    assert.equal(again.digest(), sha(big));
    assert.match((await e.view(row.id)).text, /Café au lait/);
    assert.equal(proxy.bytesFromServer, before, 'cached reads stay off the network');
  });

  test('a text part over the view limit is shown cut, with a note; the cut is at a line end', async () => {
    const m = withAttachment('long text', 1024, 3 * 1024 * 1024);
    await dc.deliver('rb', m);
    const e = await synced('rb');
    const row = e.list({ account: 'rb' })[0];
    assert.ok(row);
    const before = proxy.bytesFromServer;
    const v = await e.view(row.id, { peek: true });
    const cost = proxy.bytesFromServer - before;
    assert.ok(cost < 1.2 * 1024 * 1024, `fetched ${cost} bytes for a 3 MB text part`);
    const body = v.text.slice(v.text.indexOf('\n\n') + 2);
    const lines = body.split('\n');
    const note = lines.pop() ?? '';
    assert.match(note, /^\[\d+ more bytes of this text not shown: mailroom client read --raw \d+ gets the whole message\]$/);
    assert.ok(lines.filter((l) => l !== '').every((l) => l === 'The long text, line after line.'), 'no half line');
    assert.ok(lines.length > 30_000);
    assert.ok(!e.message(row.id).flags.includes('\\Seen'), '--peek leaves it unread');
  });

  test('a small uncached message: the view fetches it whole and caches it', async () => {
    const m = sampleMessage('small one');
    await dc.deliver('rc', m);
    const e = await synced('rc');
    const row = e.list({ account: 'rc' })[0];
    assert.ok(row);
    const v = await e.view(row.id);
    assert.equal(v.fetched, true);
    assert.match(v.text, /Hello\./);
    assert.equal(e.message(row.id).bodyCached, true);
    assert.ok((await e.read(row.id)).raw.equals(m));
  });
});
