/**
 * The client engine against a private Dovecot: POP3 download workflows, IMAP synchronisation, the
 * unified inbox, and the Maildir output checked by name and by neomutt.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, renameSync, unlinkSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { ImapFlow } from 'imapflow';
import { SMTPServer } from 'smtp-server';
import type { AddressInfo } from 'node:net';
import selfsigned from 'selfsigned';
import { startDovecot, dovecotAvailable, type Dovecot } from '../support/dovecot.js';
import { tempProfile, engine, sampleMessage, assertMaildir, neomuttAvailable, neomuttIndex, PASSWORD_ENV, dovecotSession, dovecotCount } from './helpers/client.js';
import { ClientError } from '../src/client/errors.js';
import type { Pop3Report } from '../src/client/pop3/fetch.js';
import type { ImapReport } from '../src/client/imap/syncer.js';

const skip = dovecotAvailable();
const PW = 'secret';
const USERS = ['pa', 'pb', 'pc', 'pd', 'pe', 'pf', 'ia', 'ib', 'ic', 'id', 'ie', 'if', 'ig', 'u1', 'u2', 'u3', 'sa', 'sp', 'wa', 'ih', 'ph'].map((user) => ({ user, password: PW }));

const other = (dc: Dovecot, user: string): Promise<ImapFlow> => dovecotSession(dc, user, PW);
const serverCount = dovecotCount;

describe('client against Dovecot', { skip: skip ?? false }, () => {
  let dc: Dovecot;
  const cleanups: Array<() => void> = [];
  before(async () => {
    dc = await startDovecot({ users: USERS });
  });
  after(async () => {
    for (const c of cleanups) c();
    await dc?.stop();
  });
  const profile = (): string => {
    const p = tempProfile();
    cleanups.push(p.cleanup);
    return p.dir;
  };
  const pop3 = (user: string, extra: Record<string, unknown> = {}) => ({
    name: user,
    protocol: 'pop3' as const,
    host: '127.0.0.1',
    port: dc.pop3Port,
    user,
    password: { kind: 'env' as const, name: PASSWORD_ENV },
    ...extra,
  });
  const imap = (user: string, extra: Record<string, unknown> = {}) => ({
    name: user,
    protocol: 'imap' as const,
    host: '127.0.0.1',
    port: dc.imapPort,
    user,
    password: { kind: 'env' as const, name: PASSWORD_ENV },
    ...extra,
  });

  test('POP3 download-and-delete: byte-exact Maildir copies, server emptied, neomutt reads them', async () => {
    const msgs = [sampleMessage('first'), sampleMessage('second'), sampleMessage('third')];
    for (const m of msgs) await dc.deliver('pa', m);
    const e = engine(profile(), PW);
    try {
      e.addAccount(pop3('pa'));
      const r = (await e.syncAccount('pa')) as Pop3Report;
      assert.equal(r.downloaded, 3);
      assert.equal(r.deletedOnServer, 3);
      assert.equal(await serverCount(dc, 'pa'), 0);
      assert.equal(assertMaildir(e.inbox.root), 3);
      const rows = e.list({ account: 'pa' });
      assert.deepEqual(rows.map((x) => x.summary.subject).sort(), ['first', 'second', 'third']);
      for (const row of rows) {
        const { raw } = await e.read(row.id, { peek: true });
        assert.ok(msgs.some((m) => m.equals(raw)), `message ${row.summary.subject} is byte-identical`);
      }
      const again = (await e.syncAccount('pa')) as Pop3Report;
      assert.equal(again.downloaded, 0);
      const why = neomuttAvailable();
      if (why === null) {
        const idx = neomuttIndex(e.inbox.root);
        assert.equal(idx.length, 3, `neomutt index: ${idx.join(' | ')}`);
        assert.ok(idx.every((l) => /^IDX N/.test(l)), 'new mail shows as N in neomutt');
        assert.ok(idx.some((l) => l.includes('second')));
      }
    } finally {
      e.close();
    }
  });

  test('POP3 leave a copy: nothing fetched twice across runs; new mail still picked up', async () => {
    await dc.deliver('pb', sampleMessage('keep 1'));
    await dc.deliver('pb', sampleMessage('keep 2'));
    const dir = profile();
    let e = engine(dir, PW);
    e.addAccount(pop3('pb', { leaveOnServer: true }));
    assert.equal(((await e.syncAccount('pb')) as Pop3Report).downloaded, 2);
    e.close();
    e = engine(dir, PW); // a later run of the program
    try {
      assert.equal(((await e.syncAccount('pb')) as Pop3Report).downloaded, 0);
      assert.equal(await serverCount(dc, 'pb'), 2);
      await dc.deliver('pb', sampleMessage('keep 3'));
      const r = (await e.syncAccount('pb')) as Pop3Report;
      assert.equal(r.downloaded, 1);
      assert.equal(r.deletedOnServer, 0);
      assert.equal(e.list({ account: 'pb' }).length, 3);
      assert.equal(await serverCount(dc, 'pb'), 3);
    } finally {
      e.close();
    }
  });

  test('POP3 leave N days, then delete; and delete-when-deleted-locally', async () => {
    await dc.deliver('pc', sampleMessage('aging'));
    const dir = profile();
    const t0 = Date.now();
    let e = engine(dir, PW, { now: () => t0 });
    e.addAccount(pop3('pc', { leaveOnServer: true, keepDays: 7 }));
    await e.syncAccount('pc');
    e.close();
    e = engine(dir, PW, { now: () => t0 + 6 * 86_400_000 });
    assert.equal(((await e.syncAccount('pc')) as Pop3Report).deletedOnServer, 0);
    assert.equal(await serverCount(dc, 'pc'), 1);
    e.close();
    e = engine(dir, PW, { now: () => t0 + 8 * 86_400_000 });
    assert.equal(((await e.syncAccount('pc')) as Pop3Report).deletedOnServer, 1);
    assert.equal(await serverCount(dc, 'pc'), 0);
    assert.equal(e.list({ account: 'pc' }).length, 1, 'the local copy stays');
    e.close();

    await dc.deliver('pd', sampleMessage('until deleted 1'));
    await dc.deliver('pd', sampleMessage('until deleted 2'));
    e = engine(profile(), PW);
    try {
      e.addAccount(pop3('pd', { leaveOnServer: true, untilDeletedLocally: true }));
      await e.syncAccount('pd');
      const [first] = e.list({ account: 'pd' });
      assert.ok(first);
      e.delete(first.id);
      const r = (await e.syncAccount('pd')) as Pop3Report;
      assert.equal(r.deletedOnServer, 1);
      assert.equal(r.downloaded, 0);
      assert.equal(await serverCount(dc, 'pd'), 1);
    } finally {
      e.close();
    }
  });

  test('POP3 oversized messages: skipped with a warning, or header only', async () => {
    await dc.deliver('pe', sampleMessage('small'));
    await dc.deliver('pe', sampleMessage('big', { body: Buffer.alloc(20_000, 0x61) }));
    const e = engine(profile(), PW);
    try {
      e.addAccount(pop3('pe', { leaveOnServer: true, maxSize: 5000, oversize: 'headers' }));
      const r = (await e.syncAccount('pe')) as Pop3Report;
      assert.equal(r.downloaded, 1);
      assert.equal(r.headersOnly, 1);
      assert.match(r.warnings.join('\n'), /larger than 5000 bytes/);
      const big = e.list({ account: 'pe' }).find((x) => x.summary.subject === 'big');
      assert.ok(big && !big.bodyCached);
      await assert.rejects(e.read(big.id), /too big/);
      assert.equal(((await e.syncAccount('pe')) as Pop3Report).headersOnly, 0, 'not fetched again');
    } finally {
      e.close();
    }
  });

  test('IMAP headers-only sync, then read fetches and caches the body (offline afterwards)', async () => {
    const m1 = sampleMessage('imap one');
    await dc.deliver('ia', m1);
    await dc.deliver('ia', sampleMessage('imap two'));
    const e = engine(profile(), PW);
    try {
      e.addAccount(imap('ia'));
      const r = (await e.syncAccount('ia')) as ImapReport;
      assert.equal(r.newHeaders, 2);
      assert.equal(r.bodiesFetched, 0);
      assert.deepEqual(Object.keys(r.modes).sort(), ['Drafts', 'INBOX', 'Sent', 'Trash']);
      const dir = e.imapFolder('ia', 'INBOX').root;
      assert.equal(assertMaildir(dir), 0, 'no bodies yet');
      const row = e.list({ account: 'ia' }).find((x) => x.summary.subject === 'imap one');
      assert.ok(row && !row.bodyCached);
      assert.equal(row.summary.from, 'Sender <sender@example.org>');
      const got = await e.read(row.id);
      assert.equal(got.fetched, true);
      assert.ok(got.raw.equals(m1));
      assert.equal(assertMaildir(dir), 1);
      assert.ok(got.row.flags.includes('\\Seen'));
      // offline: point the account at a dead port; cached read still works
      const a = e.account('ia');
      e.state.updateAccount({ ...a, port: 1 });
      const again = await e.read(row.id);
      assert.equal(again.fetched, false);
      assert.ok(again.raw.equals(m1));
      const other2 = e.list({ account: 'ia' }).find((x) => x.summary.subject === 'imap two');
      assert.ok(other2);
      await assert.rejects(e.read(other2.id), (err: ClientError) => err.code === 'UNREACHABLE');
      e.state.updateAccount(a);
      const r2 = (await e.syncAccount('ia')) as ImapReport;
      assert.equal(r2.pushed, 1, 'the \\Seen from reading is pushed');
      const c = await other(dc, 'ia');
      await c.mailboxOpen('INBOX');
      const flags = (await c.fetchAll('1:*', { uid: true, flags: true, envelope: true })).map((m) => [m.envelope?.subject, m.flags?.has('\\Seen')]);
      await c.logout();
      assert.deepEqual(flags.sort(), [
        ['imap one', true],
        ['imap two', false],
      ]);
      // prune evicts the temporary cache
      assert.equal(e.prune(0).evicted, 1);
      assert.equal(assertMaildir(dir), 0);
      assert.equal(e.message(row.id).bodyCached, false);
    } finally {
      e.close();
    }
  });

  test('IMAP offline flag, delete and move are queued and replayed; conflicts resolved for the server', async () => {
    for (const s of ['q1', 'q2', 'q3', 'q4']) await dc.deliver('ib', sampleMessage(s));
    const e = engine(profile(), PW);
    try {
      e.addAccount(imap('ib'));
      await e.syncAccount('ib');
      const bySubj = (s: string) => {
        const r = e.list({ account: 'ib' }).find((x) => x.summary.subject === s);
        assert.ok(r, s);
        return r;
      };
      const a = e.account('ib');
      e.state.updateAccount({ ...a, port: 1 }); // offline
      e.flag(bySubj('q1').id, 'flagged');
      e.flag(bySubj('q1').id, 'seen');
      e.delete(bySubj('q2').id);
      e.move(bySubj('q3').id, 'Trash');
      e.flag(bySubj('q4').id, 'flagged');
      assert.equal(e.list({ account: 'ib' }).length, 2, 'local view reflects the changes at once');
      assert.equal(e.list({ account: 'ib', folder: 'Trash' }).length, 1);
      assert.equal(e.state.queueSize(), 5);
      const failed = await e.sync(['ib']);
      assert.equal(failed[0]?.ok, false);
      assert.equal(e.state.queueSize(), 5, 'queue survives a failed sync');
      // meanwhile another client expunges q4 on the server
      const c = await other(dc, 'ib');
      await c.mailboxOpen('INBOX');
      const q4 = (await c.fetchAll('1:*', { uid: true, envelope: true })).find((m) => m.envelope?.subject === 'q4');
      assert.ok(q4);
      await c.messageDelete(String(q4.uid), { uid: true });
      e.state.updateAccount(a); // online again
      const r = (await e.syncAccount('ib')) as ImapReport;
      assert.equal(r.pushed, 4);
      assert.equal(r.conflicts.length, 1);
      assert.match(r.conflicts[0] ?? '', /gone on the server/);
      assert.equal(e.state.queueSize(), 0);
      assert.deepEqual(e.list({ account: 'ib' }).map((x) => x.summary.subject), ['q1']);
      await c.mailboxOpen('INBOX');
      const inbox = await c.fetchAll('1:*', { uid: true, flags: true, envelope: true });
      assert.deepEqual(inbox.map((m) => m.envelope?.subject), ['q1']);
      assert.ok(inbox[0]?.flags?.has('\\Flagged') && inbox[0]?.flags?.has('\\Seen'));
      await c.mailboxOpen('Trash');
      const trash = await c.fetchAll('1:*', { uid: true, envelope: true });
      assert.deepEqual(trash.map((m) => m.envelope?.subject), ['q3']);
      await c.logout();
      const moved = e.list({ account: 'ib', folder: 'Trash' });
      assert.equal(moved.length, 1);
      assert.equal(moved[0]?.uid, trash[0]?.uid, 'COPYUID gave the moved message its new UID');
      const again = (await e.syncAccount('ib')) as ImapReport;
      assert.equal(again.newHeaders + again.removed + again.flagUpdates, 0, 'nothing left to do');
      assert.deepEqual(again.modes, { INBOX: 'unchanged', Drafts: 'unchanged', Sent: 'unchanged', Trash: 'unchanged' }, 'STATUS showed nothing changed: no SELECT');
    } finally {
      e.close();
    }
  });

  for (const variant of [
    { name: 'QRESYNC', disable: undefined, mode: 'qresync', user: 'ic' },
    { name: 'CONDSTORE only', disable: { qresync: true }, mode: 'condstore', user: 'id' },
    { name: 'no CONDSTORE/QRESYNC', disable: { qresync: true, condstore: true }, mode: 'full', user: 'ie' },
  ] as const) {
    test(`IMAP picks up another client's changes incrementally (${variant.name})`, async () => {
      for (const s of ['c1', 'c2', 'c3']) await dc.deliver(variant.user, sampleMessage(s));
      const e = engine(profile(), PW, variant.disable ? { imapDisable: variant.disable } : {});
      try {
        e.addAccount(imap(variant.user));
        await e.syncAccount(variant.user);
        const c = await other(dc, variant.user);
        await c.mailboxOpen('INBOX');
        const all = await c.fetchAll('1:*', { uid: true, envelope: true });
        const uidOf = (s: string) => all.find((m) => m.envelope?.subject === s)?.uid as number;
        await c.messageFlagsAdd(String(uidOf('c1')), ['\\Flagged'], { uid: true });
        await c.messageDelete(String(uidOf('c2')), { uid: true });
        await c.append('INBOX', sampleMessage('c4'), ['\\Seen']);
        await c.logout();
        const r = (await e.syncAccount(variant.user)) as ImapReport;
        assert.equal(r.modes.INBOX, variant.mode);
        assert.equal(r.flagUpdates, 1);
        assert.equal(r.removed, 1);
        assert.equal(r.newHeaders, 1);
        const rows = e.list({ account: variant.user });
        assert.deepEqual(rows.map((x) => x.summary.subject).sort(), ['c1', 'c3', 'c4']);
        assert.ok(rows.find((x) => x.summary.subject === 'c1')?.flags.includes('\\Flagged'));
        assert.ok(rows.find((x) => x.summary.subject === 'c4')?.flags.includes('\\Seen'));
      } finally {
        e.close();
      }
    });
  }

  test('IMAP UIDVALIDITY change drops and refetches the folder cache', async () => {
    for (const s of ['v1', 'v2']) await dc.deliver('if', sampleMessage(s));
    const e = engine(profile(), PW, {});
    try {
      e.addAccount(imap('if', { cache: 'all' }));
      const first = (await e.syncAccount('if')) as ImapReport;
      assert.equal(first.bodiesFetched, 2);
      const before = e.list({ account: 'if' });
      const st = e.state.getFolder('if', 'INBOX');
      assert.ok(st?.uidValidity);
      await dc.doveadm(['mailbox', 'update', '-u', 'if', '--uid-validity', String(Number(st.uidValidity) + 1000), 'INBOX']);
      const r = (await e.syncAccount('if')) as ImapReport;
      assert.deepEqual(r.resets, ['INBOX']);
      assert.equal(r.newHeaders, 2);
      assert.deepEqual([r.bodiesFetched, r.relocated], [0, 2], 'the same messages (Message-ID, size, date): bodies kept, not downloaded');
      const after = e.list({ account: 'if' });
      assert.deepEqual(after.map((x) => x.summary.subject).sort(), ['v1', 'v2']);
      assert.ok(after.every((x) => !before.some((b) => b.id === x.id)), 'rows were rebuilt');
      assert.equal(assertMaildir(e.imapFolder('if', 'INBOX').root), 2, 'old cached files removed, new ones written');
      if (neomuttAvailable() === null) {
        const idx = neomuttIndex(e.imapFolder('if', 'INBOX').root);
        assert.deepEqual(idx.map((l) => l.replace(/^IDX\s+\S*\s+/, '')).sort(), ['v1', 'v2'], `neomutt reads the IMAP cache: ${idx.join(' | ')}`);
      }
      assert.equal(e.state.getFolder('if', 'INBOX')?.uidValidity, String(Number(st.uidValidity) + 1000));
      assert.equal(e.prune(0).evicted, 0, 'a permanent copy (--cache all) is never evicted');
    } finally {
      e.close();
    }
  });

  test('changes a mail reader makes in the Maildir (flags in file names, deleted files) are picked up', async () => {
    await dc.deliver('ih', sampleMessage('m-flag'));
    await dc.deliver('ih', sampleMessage('m-evict'));
    await dc.deliver('ph', sampleMessage('p-read'));
    await dc.deliver('ph', sampleMessage('p-gone'));
    const e = engine(profile(), PW);
    try {
      e.addAccount(imap('ih', { cache: 'all' }));
      e.addAccount(pop3('ph', { leaveOnServer: true, untilDeletedLocally: true }));
      await e.sync();
      const row = (acc: string, s: string) => {
        const r = e.list({ account: acc }).find((x) => x.summary.subject === s);
        assert.ok(r && r.filePath, s);
        return r as typeof r & { filePath: string };
      };
      // what mutt does: read + flag = rename into cur/ with ":2,FS"; delete = unlink
      const mf = row('ih', 'm-flag');
      renameSync(mf.filePath, join(dirname(dirname(mf.filePath)), 'cur', `${mf.fileKey}:2,FS`));
      const evict = row('ih', 'm-evict');
      unlinkSync(evict.filePath);
      const pr = row('ph', 'p-read');
      renameSync(pr.filePath, join(dirname(dirname(pr.filePath)), 'cur', `${pr.fileKey}:2,S`));
      unlinkSync(row('ph', 'p-gone').filePath);
      const unread = e.list({ unread: true }).map((x) => x.summary.subject);
      assert.deepEqual(unread, ['m-evict'], 'flags read back from file names; the deleted POP3 message is gone');
      assert.equal(e.message(evict.id).bodyCached, false, 'an IMAP file removed locally is an evicted cache entry');
      const res = await e.sync();
      assert.ok(res.every((x) => x.ok));
      const ir = res.find((x) => x.account === 'ih');
      assert.ok(ir?.ok && ir.report.protocol === 'imap' && ir.report.pushed === 1);
      const pr2 = res.find((x) => x.account === 'ph');
      assert.ok(pr2?.ok && pr2.report.protocol === 'pop3' && pr2.report.deletedOnServer === 1);
      const c = await other(dc, 'ih');
      await c.mailboxOpen('INBOX');
      const flags = (await c.fetchAll('1:*', { uid: true, flags: true, envelope: true })).map((m) => [m.envelope?.subject, [...(m.flags ?? [])].sort().join(' ')]);
      await c.logout();
      assert.deepEqual(flags.sort(), [
        ['m-evict', ''],
        ['m-flag', '\\Flagged \\Seen'],
      ]);
      assert.equal(e.message(evict.id).bodyCached, true, 'cache --all refetches the evicted body');
    } finally {
      e.close();
    }
  });

  test('IMAP cache recent:N prefetches only recent bodies', async () => {
    const c = await other(dc, 'ig');
    await c.append('INBOX', sampleMessage('old'), [], new Date(Date.now() - 40 * 86_400_000));
    await c.append('INBOX', sampleMessage('new'), [], new Date());
    await c.logout();
    const e = engine(profile(), PW);
    try {
      e.addAccount(imap('ig', { cache: 'recent:30' }));
      const r = (await e.syncAccount('ig')) as ImapReport;
      assert.equal(r.bodiesFetched, 1);
      const rows = e.list({ account: 'ig' });
      assert.equal(rows.find((x) => x.summary.subject === 'new')?.bodyCached, true);
      assert.equal(rows.find((x) => x.summary.subject === 'old')?.bodyCached, false);
    } finally {
      e.close();
    }
  });

  test('unified inbox: two POP3 accounts and one IMAP account', async () => {
    await dc.deliver('u1', sampleMessage('from pop one'));
    await dc.deliver('u2', sampleMessage('from pop two'));
    await dc.deliver('u3', sampleMessage('from imap'));
    const e = engine(profile(), PW);
    try {
      e.addAccount(pop3('u1'));
      e.addAccount(pop3('u2'));
      e.addAccount(imap('u3', { cache: 'all' }));
      const results = await e.sync();
      assert.ok(results.every((x) => x.ok), JSON.stringify(results));
      const unified = e.list({ unified: true });
      assert.deepEqual(unified.map((x) => [x.account, x.summary.subject]).sort(), [
        ['u1', 'from pop one'],
        ['u2', 'from pop two'],
        ['u3', 'from imap'],
      ]);
      assert.equal(assertMaildir(e.inbox.root), 2, 'both POP3 accounts deliver into one Maildir');
      assert.ok(new Set(e.list({ unified: true, unread: true }).map((x) => x.account)).size === 3);
    } finally {
      e.close();
    }
  });

  test('TLS: untrusted certificate is a clear error; --ca-file trusts it (IMAPS, POP3 STLS)', async () => {
    const pems = await selfsigned.generate([{ name: 'commonName', value: 'localhost' }], {
      keySize: 2048,
      extensions: [{ name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }, { type: 2, value: 'localhost' }] }],
    });
    const tdc = await startDovecot({ users: [{ user: 'tls', password: PW }], tls: { key: pems.private, cert: pems.cert } });
    const dir = profile();
    const ca = join(dir, 'ca.pem');
    writeFileSync(ca, pems.cert);
    const e = engine(dir, PW);
    try {
      await tdc.deliver('tls', sampleMessage('secure'));
      e.addAccount({ ...imap('tls'), name: 'untrusted', port: tdc.imapsPort, tls: true });
      await assert.rejects(e.syncAccount('untrusted'), (err: ClientError) => err.code === 'TLS' && /--ca-file/.test(err.message));
      e.addAccount({ ...imap('tls'), name: 'trusted', port: tdc.imapsPort, tls: true, caFile: ca });
      assert.equal(((await e.syncAccount('trusted')) as ImapReport).newHeaders, 1);
      e.addAccount({ ...pop3('tls'), name: 'pop-untrusted', port: tdc.pop3Port, starttls: true });
      await assert.rejects(e.syncAccount('pop-untrusted'), (err: ClientError) => err.code === 'TLS');
      e.addAccount({ ...pop3('tls'), name: 'pop-trusted', port: tdc.pop3Port, starttls: true, caFile: ca, leaveOnServer: true });
      assert.equal(((await e.syncAccount('pop-trusted')) as Pop3Report).downloaded, 1);
      assert.equal(readFileSync(ca, 'utf8'), pems.cert);
    } finally {
      e.close();
      await tdc.stop();
    }
  });
  test('send: SMTP submission with AUTH, Bcc stripped, copy saved to the IMAP \\Sent folder / local Sent', async () => {
    const received: Array<{ from: string; to: string[]; data: Buffer; user: string }> = [];
    const smtp = new SMTPServer({
      authOptional: false,
      disabledCommands: ['STARTTLS'],
      allowInsecureAuth: true,
      logger: false,
      onAuth(auth, _session, cb) {
        if (auth.password === PW) cb(null, { user: auth.username });
        else cb(new Error('Invalid username or password'));
      },
      onData(stream, session, cb) {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          received.push({
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
            to: session.envelope.rcptTo.map((r) => r.address),
            data: Buffer.concat(chunks),
            user: String(session.user),
          });
          cb();
        });
      },
    });
    await new Promise<void>((r) => smtp.listen(0, '127.0.0.1', r));
    const smtpPort = (smtp.server.address() as AddressInfo).port;
    const e = engine(profile(), PW);
    try {
      e.addAccount(imap('sa', { smtpHost: '127.0.0.1', smtpPort }));
      e.addAccount(pop3('sp', { smtpHost: '127.0.0.1', smtpPort }));
      await e.syncAccount('sa');
      const msg = Buffer.from(
        'From: Me <sa@example.org>\r\nTo: a@example.org, B <b@example.org>\r\nCc: c@example.org\r\nBcc: hidden@example.org\r\nSubject: outgoing\r\nMessage-ID: <out.1@example.org>\r\n\r\nhello\r\n',
      );
      const r = await e.send('sa', msg);
      assert.deepEqual(r.accepted.sort(), ['a@example.org', 'b@example.org', 'c@example.org', 'hidden@example.org']);
      assert.equal(r.savedTo, 'Sent');
      assert.equal(received.length, 1);
      assert.equal(received[0]?.from, 'sa@example.org');
      assert.equal(received[0]?.user, 'sa');
      assert.ok(!received[0]?.data.toString().includes('hidden@example.org'), 'Bcc is not transmitted');
      assert.equal(await serverCount(dc, 'sa', 'Sent'), 1);
      await e.syncAccount('sa');
      const sent = e.list({ account: 'sa', folder: 'Sent' });
      assert.equal(sent[0]?.summary.subject, 'outgoing');
      assert.ok(sent[0]?.flags.includes('\\Seen'));
      const r2 = await e.send('sp', msg);
      assert.equal(r2.savedTo, 'Sent (local)');
      assert.equal(e.list({ account: 'sp', folder: 'Sent' }).length, 1);
      e.addAccount(imap('sa', { name: 'nosmtp' }));
      await assert.rejects(e.send('nosmtp', msg), /no SMTP settings/);
      e.addAccount(imap('sa', { name: 'badsmtp', smtpHost: '127.0.0.1', smtpPort }));
      await assert.rejects(e.send('badsmtp', Buffer.from('Subject: x\r\n\r\n')), /no From/);
    } finally {
      e.close();
      await new Promise<void>((r) => smtp.close(() => r()));
    }
  });

  test('watch: IDLE on INBOX picks up a new message as it arrives', async () => {
    const e = engine(profile(), PW);
    const ac = new AbortController();
    try {
      e.addAccount(imap('wa'));
      let syncs = 0;
      const watching = e.watch({ signal: ac.signal, pollSeconds: 3600, onSync: () => syncs++ });
      const deadline = Date.now() + 10_000;
      while (syncs < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      assert.equal(e.list({ account: 'wa' }).length, 0);
      // let IDLE start, then deliver through another IMAP session
      await new Promise((r) => setTimeout(r, 300));
      const c = await other(dc, 'wa');
      await c.append('INBOX', sampleMessage('pushed'));
      await c.logout();
      while ((e.list({ account: 'wa' }).length === 0 || syncs < 2) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual(e.list({ account: 'wa' }).map((x) => x.summary.subject), ['pushed']);
      assert.ok(syncs >= 2);
      ac.abort();
      await watching;
    } finally {
      ac.abort();
      e.close();
    }
  });
  // Last: failed logins make Dovecot delay further logins from this address (auth penalty).
  test('clear errors: wrong password, unreachable host, missing STLS', async () => {
    const e = engine(profile(), 'wrong');
    try {
      e.addAccount(pop3('pf'));
      e.addAccount(imap('ia', { name: 'imapbad' }));
      e.addAccount(pop3('pf', { name: 'nowhere', port: 1 }));
      e.addAccount(pop3('pf', { name: 'nostls', starttls: true }));
      await assert.rejects(e.syncAccount('pf'), (err: ClientError) => err.code === 'AUTH' && /wrong user name or password/.test(err.message));
      await assert.rejects(e.syncAccount('imapbad'), (err: ClientError) => err.code === 'AUTH');
      await assert.rejects(e.syncAccount('nowhere'), (err: ClientError) => err.code === 'UNREACHABLE' && /cannot reach 127\.0\.0\.1:1/.test(err.message));
      await assert.rejects(e.syncAccount('nostls'), (err: ClientError) => err.code === 'CAPABILITY' && /STLS/.test(err.message));
      const some = await e.sync(['nowhere', 'nostls']);
      assert.deepEqual(some.map((x) => [x.account, x.ok]), [['nowhere', false], ['nostls', false]]);
    } finally {
      e.close();
    }
  });
});
