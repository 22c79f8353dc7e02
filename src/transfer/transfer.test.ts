/**
 * transferStore, importMaildir and importMbox against SQLite stores (the PostgreSQL pairing is tested in
 * store/postgres/transfer.test.ts), plus the small parsers they use.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { decodeMailboxUtf7Lenient } from '../imap/wire/utf7.js';
import { openServerStore } from '../server/store.js';
import type { Store } from '../store/handle.js';
import { isStoreError } from '../store/types.js';
import { fromLineDate, importMaildir, importMbox, maildirFlags, mboxFlags, transferStore } from './index.js';

const dirs: string[] = [];
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'mailroom-transfer-'));
  dirs.push(d);
  return d;
}
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function sqlite(): Promise<Store> {
  return openServerStore({ dataDir: tmp(), fsync: false });
}

function msg(subject: string, body = 'hello\r\n'): Buffer {
  return Buffer.from(`From: a@example.org\r\nTo: b@example.org\r\nSubject: ${subject}\r\nMessage-ID: <${subject.replace(/\W/g, '')}@x>\r\n\r\n${body}`);
}

async function bodies(s: Store, mailboxId: number): Promise<string[]> {
  const out: string[] = [];
  for (const m of await s.mail.listMessages(mailboxId)) out.push((await s.mail.readBytes(mailboxId, m.uid)).toString('utf8'));
  return out;
}

describe('parsers', () => {
  test('modified UTF-7 folder names', () => {
    assert.equal(decodeMailboxUtf7Lenient('Entw&APw-rfe'), 'Entwürfe');
    assert.equal(decodeMailboxUtf7Lenient('&ZeVnLIqe-'), '日本語');
    assert.equal(decodeMailboxUtf7Lenient('A&-B'), 'A&B');
    assert.equal(decodeMailboxUtf7Lenient('plain'), 'plain');
    assert.equal(decodeMailboxUtf7Lenient('bad&AP-'), 'bad&AP-', 'odd byte count kept as is');
  });

  test('Maildir info flags and keywords', () => {
    const kw = new Map([
      ['a', '$Label1'],
      ['b', 'Work'],
    ]);
    assert.deepEqual(maildirFlags('1700000000.M1P2.host:2,FRS', kw), ['\\Flagged', '\\Answered', '\\Seen']);
    assert.deepEqual(maildirFlags('1700000000.M1P2.host:2,DTPab', kw), ['\\Draft', '\\Deleted', '$Forwarded', '$Label1', 'Work']);
    assert.deepEqual(maildirFlags('1700000000.M1P2.host;2,S', kw), ['\\Seen']);
    assert.deepEqual(maildirFlags('1700000000.M1P2.host', kw), []);
    assert.deepEqual(maildirFlags('x:2,z', kw), [], 'unknown keyword letters are ignored');
  });

  test('From_ line dates and Status flags', () => {
    assert.equal(fromLineDate('From alice@example.org Mon Jan  2 10:00:00 2023')?.toISOString(), '2023-01-02T10:00:00.000Z');
    assert.equal(fromLineDate('From MAILER-DAEMON Fri Jul  8 12:08:34 2011 +0200')?.toISOString(), '2011-07-08T10:08:34.000Z');
    assert.equal(fromLineDate('From x Sat, Dec 31 23:59 1999')?.toISOString(), '1999-12-31T23:59:00.000Z');
    assert.equal(fromLineDate('From nobody'), null);
    assert.equal(fromLineDate('From x Foo Jan 2 10:00:00 2023')?.getUTCFullYear(), 2023);
    assert.equal(fromLineDate('From x Mon Foo 2 10:00:00 2023'), null);
    assert.deepEqual(mboxFlags('Subject: x\nStatus: RO\nX-Status: AF'), ['\\Seen', '\\Answered', '\\Flagged']);
    assert.deepEqual(mboxFlags('Subject: x\nStatus: O'), []);
    assert.deepEqual(mboxFlags('X-Status: DT'), ['\\Draft', '\\Deleted']);
  });
});

describe('transferStore', () => {
  test('copies users, mailboxes, flags, dates, subscriptions, domains, aliases and the outbound queue', async () => {
    const from = await sqlite();
    const to = await sqlite();
    try {
      const alice = await from.directory.createUser('alice@example.org', '$argon2id$fake');
      await from.directory.createUser('bob@example.org', '{SSHA512}fake');
      await from.directory.addDomain('example.org');
      await from.directory.addAlias('postmaster@example.org', 'alice@example.org');
      const inbox = (await from.mail.getMailbox(alice.id, 'INBOX'))!;
      const work = await from.mail.createMailbox(alice.id, 'Work/Projects');
      await from.mail.deleteMailbox(alice.id, 'Junk');
      await from.mail.setSubscribed(alice.id, 'Trash', false);
      await from.mail.setSubscribed(alice.id, 'Work/Projects', true);
      const d1 = new Date('2021-05-06T07:08:09.000Z');
      await from.mail.append(inbox.id, msg('one'), { flags: ['\\Seen', 'Important'], internalDate: d1 });
      await from.mail.append(inbox.id, msg('two'), { flags: ['\\Flagged'] });
      await from.mail.append(inbox.id, msg('gone'), { flags: ['\\Deleted'] });
      await from.mail.expunge(inbox.id);
      await from.mail.append(work.id, msg('three', 'x'.repeat(5000) + '\r\n'));
      const qid = await from.queue.enqueue('alice@example.org', ['z@example.net'], msg('queued'));
      const retry = new Date(Date.now() + 600_000);
      await from.queue.update(qid, { recipients: ['z@example.net'], attempts: 2, nextAttemptAt: retry, lastError: '451 later' });

      const progress: string[] = [];
      const report = await transferStore(from, to, { onProgress: (p) => progress.push(`${p.user}/${p.mailbox} ${p.done}/${p.total}`) });
      assert.equal(report.users, 2);
      assert.equal(report.messages, 3);
      assert.equal(report.domains, 1);
      assert.equal(report.aliases, 1);
      assert.equal(report.outbound, 1);
      assert.deepEqual(report.skipped, []);
      assert.ok(progress.includes('alice@example.org/INBOX 2/2'));

      const a2 = (await to.directory.getUser('alice@example.org'))!;
      assert.equal(a2.passwordHash, '$argon2id$fake');
      assert.equal((await to.directory.getUser('bob@example.org'))!.passwordHash, '{SSHA512}fake');
      assert.deepEqual(await to.directory.listDomains(), ['example.org']);
      assert.deepEqual(await to.directory.listAliases(), [{ from: 'postmaster@example.org', to: 'alice@example.org' }]);
      const names = (await to.mail.listMailboxes(a2.id)).map((b) => [b.name, b.specialUse]);
      assert.deepEqual(names, (await from.mail.listMailboxes(alice.id)).map((b) => [b.name, b.specialUse]));
      assert.equal(await to.mail.getMailbox(a2.id, 'Junk'), null, 'mailboxes the source user deleted are not recreated');
      assert.deepEqual(await to.mail.listSubscriptions(a2.id), await from.mail.listSubscriptions(alice.id));

      const inbox2 = (await to.mail.getMailbox(a2.id, 'INBOX'))!;
      const list = await to.mail.listMessages(inbox2.id);
      assert.deepEqual(
        list.map((m) => m.flags.slice().sort()),
        [['Important', '\\Seen'], ['\\Flagged']],
      );
      assert.equal(list[0]!.internalDate.getTime(), d1.getTime());
      assert.deepEqual(
        list.map((m) => m.emailId),
        (await from.mail.listMessages(inbox.id)).map((m) => m.emailId),
        'EMAILIDs (POP3 UIDLs) kept',
      );
      assert.deepEqual(await bodies(to, inbox2.id), await bodies(from, inbox.id));
      const work2 = (await to.mail.getMailbox(a2.id, 'Work/Projects'))!;
      assert.deepEqual(await bodies(to, work2.id), await bodies(from, work.id));

      const [q] = await to.queue.list();
      assert.ok(q);
      assert.equal(q.attempts, 2);
      assert.equal(q.lastError, '451 later');
      assert.equal(q.nextAttemptAt.getTime(), retry.getTime());
      assert.deepEqual(await to.queue.read(q.id), msg('queued'));

      // A second run refuses to overwrite existing users; an unknown user filter is NOT_FOUND.
      await assert.rejects(transferStore(from, to), (e: unknown) => isStoreError(e, 'EXISTS'));
      await assert.rejects(transferStore(from, to, { users: ['nobody@example.org'] }), (e: unknown) => isStoreError(e, 'NOT_FOUND'));
    } finally {
      await Promise.all([from.close(), to.close()]);
    }
  });

  test('users filter and merge into an existing user', async () => {
    const from = await sqlite();
    const to = await sqlite();
    try {
      const a = await from.directory.createUser('a@example.org', 'h1');
      await from.directory.createUser('b@example.org', 'h2');
      await from.mail.append((await from.mail.getMailbox(a.id, 'INBOX'))!.id, msg('src'));
      const existing = await to.directory.createUser('a@example.org', 'other');
      await to.mail.append((await to.mail.getMailbox(existing.id, 'INBOX'))!.id, msg('already'));
      const r = await transferStore(from, to, { users: ['A@example.org'], existing: 'merge', includeGlobal: false });
      assert.equal(r.users, 1);
      assert.equal(await to.directory.getUser('b@example.org'), null);
      assert.equal((await to.directory.getUser('a@example.org'))!.passwordHash, 'other', 'merge keeps the target user');
      const inbox = (await to.mail.getMailbox(existing.id, 'INBOX'))!;
      assert.deepEqual(
        (await bodies(to, inbox.id)).map((b) => /Subject: (\w+)/.exec(b)![1]),
        ['already', 'src'],
      );
    } finally {
      await Promise.all([from.close(), to.close()]);
    }
  });
});

describe('importMaildir', () => {
  test('Maildir++ folders, flags, keywords, mtimes; tmp/ ignored; new/ unflagged', async () => {
    const store = await sqlite();
    try {
      const u = await store.directory.createUser('m@example.org', 'x');
      const root = tmp();
      const mk = (dir: string): void => {
        for (const s of ['cur', 'new', 'tmp']) mkdirSync(join(dir, s), { recursive: true });
      };
      mk(root);
      mk(join(root, '.Sent'));
      mk(join(root, '.Archive.2023'));
      mk(join(root, '.Entw&APw-rfe'));
      mkdirSync(join(root, '.notamaildir'));
      writeFileSync(join(root, 'dovecot-keywords'), '0 $Label1\n1 Work\n');
      const t1 = new Date('2020-01-01T00:00:00Z');
      const put = (path: string, body: Buffer, mtime: Date): void => {
        writeFileSync(path, body);
        utimesSync(path, mtime, mtime);
      };
      put(join(root, 'cur', '1600000002.M2P1.host:2,SFb'), Buffer.from('Subject: second\n\nbody 2\n'), t1);
      put(join(root, 'cur', '1600000001.M1P1.host:2,RSa'), Buffer.from('Subject: first\n\nbody 1\n'), t1);
      put(join(root, 'new', '1600000003.M3P1.host'), Buffer.from('Subject: unread\n\nbody 3\n'), t1);
      put(join(root, 'tmp', '1600000004.M4P1.host'), Buffer.from('Subject: partial\n\n'), t1);
      put(join(root, '.Sent', 'cur', '1600000005.M5P1.host:2,S'), Buffer.from('Subject: sent\n\n'), t1);
      put(join(root, '.Archive.2023', 'cur', '1600000006.M6P1.host:2,'), Buffer.from('Subject: old\n\n'), t1);
      put(join(root, '.Entw&APw-rfe', 'cur', '1600000007.M7P1.host:2,D'), Buffer.from('Subject: draft\n\n'), t1);

      const r = await importMaildir(store, 'M@example.org', root);
      assert.equal(r.messages, 6);
      assert.equal(r.mailboxes, 4);
      const inbox = (await store.mail.getMailbox(u.id, 'INBOX'))!;
      const list = await store.mail.listMessages(inbox.id);
      assert.deepEqual(
        (await bodies(store, inbox.id)).map((b) => /Subject: (\w+)/.exec(b)![1]),
        ['first', 'second', 'unread'],
        'delivery order from the file names; tmp/ ignored',
      );
      assert.deepEqual(list[0]!.flags.slice().sort(), ['$Label1', '\\Answered', '\\Seen'].sort());
      assert.deepEqual(list[1]!.flags.slice().sort(), ['Work', '\\Flagged', '\\Seen'].sort());
      assert.deepEqual(list[2]!.flags, []);
      assert.equal(list[0]!.internalDate.getTime(), t1.getTime());
      assert.equal((await store.mail.readBytes(inbox.id, list[0]!.uid)).toString(), 'Subject: first\r\n\r\nbody 1\r\n');
      const sent = (await store.mail.getMailbox(u.id, 'Sent'))!;
      assert.deepEqual((await store.mail.listMessages(sent.id)).map((m) => m.flags), [['\\Seen']]);
      assert.ok(await store.mail.getMailbox(u.id, 'Archive/2023'));
      const drafts = (await store.mail.getMailbox(u.id, 'Entwürfe'))!;
      assert.deepEqual((await store.mail.listMessages(drafts.id)).map((m) => m.flags), [['\\Draft']]);

      // Into another mailbox, without folders; errors for a bad user and a non-Maildir.
      const r2 = await importMaildir(store, 'm@example.org', root, { mailbox: 'Restored', folders: false });
      assert.equal(r2.messages, 3);
      assert.equal((await store.mail.listMessages((await store.mail.getMailbox(u.id, 'Restored'))!.id)).length, 3);
      await assert.rejects(importMaildir(store, 'nobody@example.org', root), (e: unknown) => isStoreError(e, 'NOT_FOUND'));
      await assert.rejects(importMaildir(store, 'm@example.org', join(root, '.notamaildir')), (e: unknown) => isStoreError(e, 'INVALID'));
    } finally {
      await store.close();
    }
  });

  test('plain nested folder layout', async () => {
    const store = await sqlite();
    try {
      const u = await store.directory.createUser('n@example.org', 'x');
      const root = tmp();
      for (const d of ['', 'Lists', 'Lists/node']) for (const s of ['cur', 'new', 'tmp']) mkdirSync(join(root, d, s), { recursive: true });
      writeFileSync(join(root, 'Lists', 'node', 'cur', '1.a:2,S'), 'Subject: n\n\nx\n');
      writeFileSync(join(root, 'Lists', 'cur', '1.b:2,'), 'Subject: l\n\nx\n');
      const r = await importMaildir(store, 'n@example.org', root);
      assert.equal(r.messages, 2);
      assert.equal((await store.mail.listMessages((await store.mail.getMailbox(u.id, 'Lists/node'))!.id)).length, 1);
      assert.equal((await store.mail.listMessages((await store.mail.getMailbox(u.id, 'Lists'))!.id)).length, 1);
    } finally {
      await store.close();
    }
  });
});

describe('imports never follow symbolic links', () => {
  test('Maildir: linked message files, cur/ and new/ directories, folders and dovecot-keywords are skipped and reported', async () => {
    const store = await sqlite();
    try {
      const u = await store.directory.createUser('l@example.org', 'x');
      // Outside the Maildir: a secret file and a whole Maildir-shaped directory.
      const outside = tmp();
      const secret = join(outside, 'secret.key');
      writeFileSync(secret, 'Subject: -----BEGIN PRIVATE KEY-----\n\nsecret\n');
      writeFileSync(join(outside, 'keywords'), '0 Leaked\n');
      for (const s of ['cur', 'new', 'tmp']) mkdirSync(join(outside, 'box', s), { recursive: true });
      writeFileSync(join(outside, 'box', 'cur', '1.x:2,S'), 'Subject: outside\n\nx\n');
      const root = tmp();
      for (const d of ['', '.Real']) for (const s of ['cur', 'tmp']) mkdirSync(join(root, d, s), { recursive: true });
      writeFileSync(join(root, 'cur', '1.a:2,Sa'), 'Subject: real\n\nx\n');
      symlinkSync(secret, join(root, 'cur', '2.b:2,S'));
      symlinkSync(join(outside, 'keywords'), join(root, 'dovecot-keywords'));
      symlinkSync(join(outside, 'box', 'cur'), join(root, 'new'));
      symlinkSync(join(outside, 'box', 'cur'), join(root, '.Real', 'new'));
      symlinkSync(join(outside, 'box'), join(root, '.Linked'));

      const r = await importMaildir(store, 'l@example.org', root);
      const inbox = (await store.mail.getMailbox(u.id, 'INBOX'))!;
      assert.deepEqual((await bodies(store, inbox.id)).map((b) => /Subject: (.*)\r/.exec(b)![1]), ['real']);
      assert.deepEqual((await store.mail.listMessages(inbox.id))[0]!.flags, ['\\Seen'], 'no keyword from the linked dovecot-keywords');
      assert.equal(await store.mail.getMailbox(u.id, 'Linked'), null);
      assert.equal((await store.mail.listMessages((await store.mail.getMailbox(u.id, 'Real'))!.id)).length, 0);
      assert.equal(r.messages, 1);
      const skipped = r.skipped.map((x) => x.item).sort();
      for (const item of [join(root, 'cur', '2.b:2,S'), join(root, 'dovecot-keywords'), join(root, 'new'), join(root, '.Real', 'new'), join(root, '.Linked')]) {
        assert.ok(skipped.includes(item), `${item} reported in ${skipped.join(', ')}`);
      }
      for (const x of r.skipped) assert.match(x.reason, /symbolic link/);

      // A Maildir root that is itself a link is refused the same way: nothing read through it.
      const linkedRoot = join(tmp(), 'Maildir');
      symlinkSync(join(outside, 'box'), linkedRoot);
      const r2 = await importMaildir(store, 'l@example.org', linkedRoot, { mailbox: 'Via' });
      assert.equal(r2.messages, 0);
      assert.deepEqual(r2.skipped.map((x) => x.item), [linkedRoot]);
      assert.equal(await store.mail.getMailbox(u.id, 'Via'), null);

      // Plain nested layout: a linked sub-folder is skipped and reported too.
      const plain = tmp();
      for (const s of ['cur', 'new', 'tmp']) mkdirSync(join(plain, s), { recursive: true });
      symlinkSync(join(outside, 'box'), join(plain, 'Nested'));
      const r3 = await importMaildir(store, 'l@example.org', plain, { mailbox: 'Plain' });
      assert.equal(r3.messages, 0);
      assert.deepEqual(r3.skipped.map((x) => x.item), [join(plain, 'Nested')]);
    } finally {
      await store.close();
    }
  });

  test('mbox: a linked mbox file is not read', async () => {
    const store = await sqlite();
    try {
      const u = await store.directory.createUser('k@example.org', 'x');
      const secret = join(tmp(), 'shadow');
      writeFileSync(secret, 'From root Mon Jan  2 10:00:00 2023\nSubject: root:$6$hash\n\nx\n');
      const link = join(tmp(), 'mail.mbox');
      symlinkSync(secret, link);
      const r = await importMbox(store, 'k@example.org', link, { mailbox: 'Old' });
      assert.equal(r.messages, 0);
      assert.deepEqual(r.skipped.map((x) => x.item), [link]);
      assert.match(r.skipped[0]!.reason, /symbolic link/);
      assert.equal(await store.mail.getMailbox(u.id, 'Old'), null);
    } finally {
      await store.close();
    }
  });
});

describe('importMbox', () => {
  test('splits on From_ lines, unescapes >From, keeps 8-bit bytes, reads dates and Status flags', async () => {
    const store = await sqlite();
    try {
      const u = await store.directory.createUser('x@example.org', 'h');
      const file = join(tmp(), 'mail.mbox');
      const eight = Buffer.from('Subject: caf\xe9\n\nbyte \xff here\n', 'latin1');
      writeFileSync(
        file,
        Buffer.concat([
          Buffer.from(
            'From alice@example.org Mon Jan  2 10:00:00 2023\n' +
              'Subject: one\nStatus: RO\nX-Status: F\n\n' +
              'line\n>From the start\n>>From deeper\nFrom inside a paragraph is not a separator\n\n' +
              'From bob@example.org Tue Feb  3 11:30:00 2023\n',
          ),
          eight,
          Buffer.from('\nFrom carol@example.org Wed Mar  4 12:00:00 2023\r\nSubject: crlf\r\nDate: Thu, 05 Mar 2020 00:00:00 +0000\r\n\r\nbody\r\n\r\n'),
        ]),
      );
      const r = await importMbox(store, 'x@example.org', file, { mailbox: 'Old' });
      assert.equal(r.messages, 3);
      const box = (await store.mail.getMailbox(u.id, 'Old'))!;
      const list = await store.mail.listMessages(box.id);
      assert.equal(list[0]!.internalDate.toISOString(), '2023-01-02T10:00:00.000Z');
      assert.deepEqual(list[0]!.flags.slice().sort(), ['\\Flagged', '\\Seen']);
      assert.equal(
        (await store.mail.readBytes(box.id, list[0]!.uid)).toString(),
        'Subject: one\r\nStatus: RO\r\nX-Status: F\r\n\r\nline\r\nFrom the start\r\n>From deeper\r\nFrom inside a paragraph is not a separator\r\n',
      );
      assert.deepEqual(await store.mail.readBytes(box.id, list[1]!.uid), Buffer.from('Subject: caf\xe9\r\n\r\nbyte \xff here\r\n', 'latin1'));
      assert.equal(list[2]!.internalDate.toISOString(), '2023-03-04T12:00:00.000Z');
      assert.equal((await store.mail.readBytes(box.id, list[2]!.uid)).toString(), 'Subject: crlf\r\nDate: Thu, 05 Mar 2020 00:00:00 +0000\r\n\r\nbody\r\n');

      const empty = join(tmp(), 'empty.mbox');
      writeFileSync(empty, '');
      assert.equal((await importMbox(store, 'x@example.org', empty)).messages, 0);
      await assert.rejects(importMbox(store, 'x@example.org', join(tmp(), 'missing')), (e: unknown) => isStoreError(e, 'NOT_FOUND'));
      await assert.rejects(importMbox(store, 'nobody@example.org', file), (e: unknown) => isStoreError(e, 'NOT_FOUND'));
    } finally {
      await store.close();
    }
  });
});
