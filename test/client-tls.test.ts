/**
 * TLS with a self-signed certificate against a private Dovecot: refused by default with a clear error that
 * names the way out, trusted once the account is given the certificate (`account set NAME --ca-file`), and
 * changing that setting keeps the account's state (a leave-on-server POP3 account downloads nothing twice).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import selfsigned from 'selfsigned';
import { startDovecot, dovecotAvailable } from '../support/dovecot.js';
import { tempProfile, engine, sampleMessage, PASSWORD_ENV } from './helpers/client.js';
import { ClientError } from '../src/client/errors.js';
import type { Pop3Report } from '../src/client/pop3/fetch.js';
import type { ImapReport } from '../src/client/imap/syncer.js';

const skip = dovecotAvailable();
const PW = 'secret';

test('self-signed certificate: refused, then trusted with account set --ca-file, state kept across the change', { skip: skip ?? false }, async () => {
  const pems = await selfsigned.generate([{ name: 'commonName', value: 'localhost' }], {
    keySize: 2048,
    extensions: [{ name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }, { type: 2, value: 'localhost' }] }],
  });
  const dc = await startDovecot({ users: [{ user: 't', password: PW }], tls: { key: pems.private, cert: pems.cert } });
  const p = tempProfile();
  const ca = join(p.dir, 'server.pem');
  writeFileSync(ca, pems.cert);
  const e = engine(p.dir, PW);
  try {
    await dc.deliver('t', sampleMessage('one'));
    const base = { host: '127.0.0.1', user: 't', password: { kind: 'env' as const, name: PASSWORD_ENV } };
    e.addAccount({ ...base, name: 'pop', protocol: 'pop3', port: dc.pop3sPort as number, tls: true, leaveOnServer: true });
    e.addAccount({ ...base, name: 'imap', protocol: 'imap', port: dc.imapsPort as number, tls: true });
    for (const name of ['pop', 'imap']) {
      await assert.rejects(e.syncAccount(name), (err: ClientError) => err.code === 'TLS' && /account set NAME --ca-file FILE/.test(err.message));
    }
    assert.throws(() => e.setCaFile('pop', join(p.dir, 'missing.pem')), (err: ClientError) => err.code === 'CONFIG');
    assert.equal(e.setCaFile('pop', ca).caFile, ca);
    e.setCaFile('imap', ca);
    assert.equal(((await e.syncAccount('pop')) as Pop3Report).downloaded, 1);
    assert.equal(((await e.syncAccount('imap')) as ImapReport).newHeaders, 1);
    assert.equal(e.setCaFile('pop', null).caFile, undefined);
    await assert.rejects(e.syncAccount('pop'), (err: ClientError) => err.code === 'TLS');
    e.setCaFile('pop', ca);
    await dc.deliver('t', sampleMessage('two'));
    const r = (await e.syncAccount('pop')) as Pop3Report;
    assert.equal(r.downloaded, 1, 'only the new message: the UIDLs of the first run were kept');
    assert.deepEqual(e.list({ account: 'pop' }).map((x) => x.summary.subject).sort(), ['one', 'two']);
  } finally {
    e.close();
    p.cleanup();
    await dc.stop();
  }
});
