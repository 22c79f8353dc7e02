/**
 * The MailStore contract, messages (src/store/mail.ts): append, listMessages, readMessages with every
 * combination of wanted parts, readBytes, flags, expunge, copy, move, search, THREADID. Part of
 * runMailContract (mail.ts).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MAX_MESSAGE_SIZE } from '../../src/lib/limits.js';
import { envelopeImapText } from '../../src/imap/wire/envelope-text.js';
import { assertEnvelopesMatch, assertHeadersMatch, bigHeaderMessage, collect, rejectsWith, sampleMessage } from '../helpers/store.js';
import type { Wanted } from '../../src/store/mail.js';
import { ID_RE, storeRunner, type StoreFactory } from './harness.js';

export function runMessageContract(name: string, factory: StoreFactory): void {
  const withStore = storeRunner(factory);

  describe(`MailStore contract: ${name}`, () => {
    // ------------------------------------------------------------------------------------------------
    describe('messages', () => {
      test(
        'append assigns increasing UIDs and MODSEQs, unique EMAILIDs; stores flags, date, bytes',
        withStore(async (s, _user, inbox) => {
          const date = new Date('2021-05-06T07:08:09.000Z');
          const raw = sampleMessage(1);
          const r1 = await s.mail.append(inbox.id, raw, { flags: ['\\Seen', '\\flagged', '$Label1'], internalDate: date });
          const r2 = await s.mail.append(inbox.id, sampleMessage(2));
          assert.equal(r1.uid, 1);
          assert.equal(r2.uid, 2);
          assert.equal(r1.uidValidity, inbox.uidValidity);
          assert.ok(r2.modseq > r1.modseq && r1.modseq > inbox.highestModseq);
          assert.match(r1.emailId, ID_RE);
          assert.notEqual(r1.emailId, r2.emailId);
          const list = await s.mail.listMessages(inbox.id);
          assert.equal(list.length, 2);
          const m1 = list[0]!;
          assert.equal(m1.uid, 1);
          assert.equal(m1.emailId, r1.emailId);
          assert.match(m1.threadId, ID_RE);
          assert.deepEqual([...m1.flags].sort(), ['$Label1', '\\Flagged', '\\Seen'].sort());
          assert.equal(m1.internalDate.getTime(), date.getTime());
          assert.equal(m1.size, raw.length);
          assert.equal(m1.modseq, r1.modseq);
          assert.ok(Math.abs(list[1]!.internalDate.getTime() - Date.now()) < 60_000, 'INTERNALDATE defaults to now');
          assert.deepEqual(await s.mail.readBytes(inbox.id, 1), raw);
          const mb = await s.mail.getMailboxById(inbox.id);
          assert.equal(mb?.uidNext, 3);
          assert.equal(mb?.highestModseq, r2.modseq);
        }),
      );

      test(
        'append normalises bare LF to CRLF and the size is the stored size',
        withStore(async (s, _user, inbox) => {
          const lf = Buffer.from('Subject: lf\nFrom: a@example.org\n\nline one\nline two\n');
          await s.mail.append(inbox.id, lf);
          const stored = await s.mail.readBytes(inbox.id, 1);
          assert.equal(stored.toString('latin1'), 'Subject: lf\r\nFrom: a@example.org\r\n\r\nline one\r\nline two\r\n');
          const [m] = await s.mail.listMessages(inbox.id);
          assert.equal(m!.size, stored.length);
          const [rec] = await collect(s.mail.readMessages(inbox.id, [1], { meta: true, index: true }));
          assert.equal(rec!.index.size, stored.length);
        }),
      );

      test(
        'append keeps 8-bit bytes exactly',
        withStore(async (s, _user, inbox) => {
          const raw = Buffer.concat([Buffer.from('Subject: bytes\r\n\r\n'), Buffer.from([0x80, 0xff, 0x00, 0xc3, 0xa9, 0x0d, 0x0a])]);
          await s.mail.append(inbox.id, raw);
          assert.deepEqual(await s.mail.readBytes(inbox.id, 1), raw);
        }),
      );

      test(
        'append errors: NOT_FOUND mailbox, TOO_BIG, INVALID flags; \\Recent is never stored',
        withStore(async (s, _user, inbox) => {
          await rejectsWith(s.mail.append(inbox.id + 10000, sampleMessage(1)), 'NOT_FOUND');
          await rejectsWith(s.mail.append(inbox.id, Buffer.alloc(MAX_MESSAGE_SIZE + 1, 0x61)), 'TOO_BIG');
          await rejectsWith(s.mail.append(inbox.id, sampleMessage(1), { flags: ['\\Bogus'] }), 'INVALID');
          await rejectsWith(s.mail.append(inbox.id, sampleMessage(1), { flags: ['bad keyword'] }), 'INVALID');
          await rejectsWith(s.mail.append(inbox.id, sampleMessage(1), { flags: ['(paren'] }), 'INVALID');
          await rejectsWith(s.mail.append(inbox.id, sampleMessage(1), { internalDate: new Date(Number.NaN) }), 'INVALID');
          assert.deepEqual(await s.mail.listMessages(inbox.id), [], 'failed appends leave nothing');
          assert.equal((await s.mail.status(inbox.id)).uidNext, 1);
          await s.mail.append(inbox.id, sampleMessage(1), { flags: ['\\Recent', '\\Seen'] });
          assert.deepEqual((await s.mail.listMessages(inbox.id))[0]!.flags, ['\\Seen']);
          // IMAP writes the year with four digits: dates it cannot write are refused, the edges are kept.
          await rejectsWith(s.mail.append(inbox.id, sampleMessage(1), { internalDate: new Date('-000664-01-24T00:00:00Z') }), 'INVALID');
          await rejectsWith(s.mail.append(inbox.id, sampleMessage(1), { internalDate: new Date('+010000-01-01T00:00:00Z') }), 'INVALID');
          for (const iso of ['0001-01-01T00:00:00.000Z', '9999-12-31T23:59:59.000Z', '1969-07-20T20:17:40.000Z']) {
            const r = await s.mail.append(inbox.id, sampleMessage(1), { internalDate: new Date(iso) });
            const [m] = await collect(s.mail.readMessages(inbox.id, [r.uid], { meta: true }));
            assert.equal(m!.meta!.internalDate.toISOString(), iso);
          }
        }),
      );

      test(
        'listMessages: uid order, NOT_FOUND; readMessages with meta and index: sorted, missing skipped, index present, many chunks',
        withStore(async (s, _user, inbox) => {
          const n = 600;
          for (let i = 1; i <= n; i++) await s.mail.append(inbox.id, sampleMessage(i));
          const list = await s.mail.listMessages(inbox.id);
          assert.deepEqual(
            list.map((m) => m.uid),
            Array.from({ length: n }, (_, i) => i + 1),
          );
          await rejectsWith(s.mail.listMessages(inbox.id + 10000), 'NOT_FOUND');
          const want = [600, 3, 1, 3, 9999, 300, 0, -1, 257, 256];
          const recs = await collect(s.mail.readMessages(inbox.id, want, { meta: true, index: true }));
          assert.deepEqual(
            recs.map((r) => r.uid),
            [1, 3, 256, 257, 300, 600],
          );
          for (const r of recs) {
            assert.equal(r.index.version, 1);
            assert.equal(r.index.size, r.meta.size);
            assert.equal(r.index.envelope.subject, `Message ${r.uid}`);
            assert.equal(r.meta.uid, r.uid);
            assert.equal(r.meta.emailId, list[r.uid - 1]!.emailId);
            assert.deepEqual(r.meta, list[r.uid - 1]!, 'meta is what listMessages gives');
          }
          const all = await collect(s.mail.readMessages(inbox.id, list.map((m) => m.uid), { meta: true, index: true }));
          assert.equal(all.length, n);
          assert.deepEqual(await collect(s.mail.readMessages(inbox.id, [], { meta: true, index: true })), []);
          assert.deepEqual(await collect(s.mail.readMessages(inbox.id + 10000, [1], { meta: true, index: true })), []);
        }),
      );

      test(
        'readMessages header: blocks equal readBytes(0..headerEnd), dense and sparse; envelope and envelopeText: the IMAP text kept at delivery, none for 8-bit',
        withStore(async (s, user, inbox) => {
          const eightBit = Buffer.from('Subject: caf\u00e9 cr\u00e8me\r\nFrom: "Ren\u00e9" <rene@example.org>\r\nTo: a@b.example\r\n\r\nbody\r\n', 'utf8');
          const noBody = Buffer.from('Subject: header only\r\nFrom: a@b.example');
          const quoted = Buffer.from('Subject: plain "quoted" \\ text\r\nFrom: A <a@b.example>\r\n\r\nx\r\n');
          const special = [bigHeaderMessage(1), noBody, eightBit, quoted];
          for (const raw of special) await s.mail.append(inbox.id, raw);
          const n = 650;
          for (let i = special.length + 1; i <= n; i += 50) {
            const batch = Array.from({ length: Math.min(50, n - i + 1) }, (_, k) => i + k);
            await Promise.all(batch.map((k) => s.mail.append(inbox.id, k % 97 === 0 ? bigHeaderMessage(k) : sampleMessage(k))));
          }
          const all = Array.from({ length: n }, (_, i) => i + 1);
          assert.equal((await s.mail.listMessages(inbox.id)).length, n);
          assert.deepEqual(await s.mail.readBytes(inbox.id, 2), noBody, 'a message without a body is kept as is');

          const m = s.mail;
          assert.equal(await assertHeadersMatch(m, inbox.id, all, 'dense 1:*'), n);
          const bigHead = (await collect(m.readMessages(inbox.id, [1], { header: true })))[0]!.header;
          assert.ok(bigHead.length > 16 * 1024 && bigHead.subarray(-4).toString() === '\r\n\r\n', 'the whole big header block');
          assert.deepEqual((await collect(m.readMessages(inbox.id, [2], { header: true })))[0]!.header, noBody, 'no body: the header is the message');
          assert.equal(await assertHeadersMatch(m, inbox.id, [...all.filter((u) => u % 7 !== 0), n + 5, 0, -3, 2.5, 4, 4], 'dense with holes'), n - 92);
          assert.equal(await assertHeadersMatch(m, inbox.id, [1, 2, 3, 4, 97, 300, 601, 9999], 'sparse and missing'), 7);
          assert.equal(await assertHeadersMatch(m, inbox.id, [], 'empty'), 0);
          assert.deepEqual(await collect(m.readMessages(inbox.id + 10000, [1], { header: true })), [], 'no such mailbox: nothing');
          const env = await assertEnvelopesMatch(m, inbox.id, all, 'dense 1:*', envelopeImapText);
          assert.equal(env.text + env.none, n);
          assert.ok(env.none >= 1, 'the 8-bit envelope has no text');
          const [e3] = await collect(m.readMessages(inbox.id, [3], { envelope: true, envelopeText: true }));
          assert.equal(e3!.envelope.subject, 'caf\u00e9 cr\u00e8me');
          assert.equal(e3!.envelopeText, null);
          const [e4] = await collect(m.readMessages(inbox.id, [4], { envelopeText: true }));
          assert.equal(
            e4!.envelopeText,
            '(NIL "plain \\"quoted\\" \\\\ text" (("A" NIL "a" "b.example")) (("A" NIL "a" "b.example")) (("A" NIL "a" "b.example")) NIL NIL NIL NIL NIL)',
          );
          const sparse = await assertEnvelopesMatch(m, inbox.id, [1, 2, 3, 4, 300, 9999, 0], 'sparse and missing', envelopeImapText);
          assert.equal(sparse.text + sparse.none, 5);

          // Copies and moves share what the originals have; expunged messages are gone from both paths.
          const arch = (await s.mail.getMailbox(user.id, 'Archive'))!;
          await s.mail.copy(inbox.id, [1, 2, 3, 5], arch.id);
          await s.mail.move(inbox.id, [4, 97, 6], arch.id);
          await s.mail.storeFlags(inbox.id, [1, 7, 8], { op: 'add', flags: ['\\Deleted'] });
          await s.mail.expunge(inbox.id);
          const archUids = (await s.mail.listMessages(arch.id)).map((m) => m.uid);
          assert.equal(await assertHeadersMatch(m, arch.id, archUids, 'copies and moves'), 7);
          assert.equal(await assertHeadersMatch(m, inbox.id, all, 'after expunge'), n - 6);
          const after = await assertEnvelopesMatch(m, arch.id, archUids, 'copies and moves', envelopeImapText);
          assert.equal(after.text + after.none, 7);
        }),
      );

      test(
        'readMessages: every combination of wanted parts gives exactly those parts, each equal to its reference',
        withStore(async (s, user, inbox) => {
          const m = s.mail;
          const eightBit = Buffer.from('Subject: caf\u00e9\r\nFrom: a@b.example\r\n\r\nbody\r\n', 'utf8');
          const noBody = Buffer.from('Subject: header only\r\nFrom: a@b.example');
          for (const raw of [sampleMessage(1), bigHeaderMessage(2), eightBit, noBody, sampleMessage(5)]) await m.append(inbox.id, raw, { flags: ['\\Seen'] });
          await m.storeFlags(inbox.id, [5], { op: 'add', flags: ['\\Deleted'] });
          await m.expunge(inbox.id);
          const other = await m.createMailbox(user.id, 'Other');
          await m.copy(inbox.id, [2], other.id);
          const metas = new Map((await m.listMessages(inbox.id)).map((x) => [x.uid, x]));
          const indexes = new Map((await collect(m.readMessages(inbox.id, [1, 2, 3, 4], { index: true }))).map((x) => [x.uid, x.index]));
          const PARTS = ['meta', 'index', 'envelope', 'envelopeText', 'header'] as const;
          const uidSets = [[1, 2, 3, 4], [4, 2, 2, 9, 0, 5]];
          for (let mask = 0; mask < 1 << PARTS.length; mask++) {
            const wanted: Wanted = {};
            for (let b = 0; b < PARTS.length; b++) if (mask & (1 << b)) wanted[PARTS[b]!] = true;
            const why = JSON.stringify(wanted);
            for (const uids of uidSets) {
              const recs = (await collect(m.readMessages(inbox.id, uids, wanted))) as Array<{ uid: number } & Record<string, unknown>>;
              const expectUids = [...new Set(uids)].filter((u) => metas.has(u)).sort((a, b) => a - b);
              assert.deepEqual(recs.map((r) => r.uid), expectUids, `${why}: the UIDs that exist, once each, in order`);
              for (const r of recs) {
                const index = indexes.get(r.uid)!;
                assert.deepEqual(Object.keys(r).sort(), ['uid', ...PARTS.filter((p) => wanted[p])].sort(), `${why}: uid ${r.uid} has exactly the parts asked for`);
                if (wanted.meta) assert.deepEqual(r['meta'], metas.get(r.uid), `${why}: meta`);
                if (wanted.index) assert.deepEqual(r['index'], index, `${why}: index`);
                if (wanted.envelope) assert.deepEqual(r['envelope'], index.envelope, `${why}: envelope`);
                if (wanted.envelopeText) assert.equal(r['envelopeText'], envelopeImapText(index.envelope), `${why}: envelope text`);
                if (wanted.header) {
                  const want = await m.readBytes(inbox.id, r.uid, { start: 0, end: index.root.headerEnd });
                  assert.ok(Buffer.isBuffer(r['header']) && r['header'].equals(want), `${why}: uid ${r.uid} header`);
                }
              }
            }
            const copies = await collect(m.readMessages(other.id, [1], wanted));
            assert.deepEqual(copies.map((r) => r.uid), [1], `${why}: a copy is read like its original`);
            assert.deepEqual(await collect(m.readMessages(inbox.id + 10000, [1], wanted)), [], `${why}: no such mailbox: nothing`);
          }
        }),
      );

      test('readMessages envelopeText: without StoreOptions.envelopeText no text is kept', async () => {
        const { store, cleanup } = await factory({});
        try {
          const user = await store.directory.createUser('plain@example.org', 'x');
          const inbox = (await store.mail.getMailbox(user.id, 'INBOX'))!;
          await store.mail.append(inbox.id, sampleMessage(1));
          const [r] = await collect(store.mail.readMessages(inbox.id, [1], { envelope: true, envelopeText: true }));
          assert.equal(r!.envelopeText, null);
          assert.equal(r!.envelope.subject, 'Message 1');
          assert.equal(await assertEnvelopesMatch(store.mail, inbox.id, [1], 'no envelopeText option', null).then((c) => c.none), 1);
        } finally {
          await cleanup();
        }
      });

      test(
        'readBytes: whole message, ranges (clamped), NOT_FOUND for unknown or expunged',
        withStore(async (s, _user, inbox) => {
          const raw = sampleMessage(1, { body: 'x'.repeat(10000) + '\r\n' });
          await s.mail.append(inbox.id, raw, { flags: ['\\Deleted'] });
          assert.deepEqual(await s.mail.readBytes(inbox.id, 1), raw);
          assert.deepEqual(await s.mail.readBytes(inbox.id, 1, { start: 0, end: 10 }), raw.subarray(0, 10));
          assert.deepEqual(await s.mail.readBytes(inbox.id, 1, { start: 5000, end: 5100 }), raw.subarray(5000, 5100));
          assert.deepEqual(await s.mail.readBytes(inbox.id, 1, { start: raw.length - 3, end: raw.length + 1000 }), raw.subarray(raw.length - 3));
          assert.equal((await s.mail.readBytes(inbox.id, 1, { start: raw.length + 5, end: raw.length + 10 })).length, 0);
          assert.equal((await s.mail.readBytes(inbox.id, 1, { start: 10, end: 5 })).length, 0);
          await rejectsWith(s.mail.readBytes(inbox.id, 2), 'NOT_FOUND');
          await rejectsWith(s.mail.readBytes(inbox.id + 10000, 1), 'NOT_FOUND');
          await s.mail.expunge(inbox.id);
          await rejectsWith(s.mail.readBytes(inbox.id, 1), 'NOT_FOUND');
        }),
      );

      test(
        'storeFlags add/remove/set: case-insensitive system flags, keywords keep first-seen spelling',
        withStore(async (s, _user, inbox) => {
          await s.mail.append(inbox.id, sampleMessage(1));
          await s.mail.append(inbox.id, sampleMessage(2));
          let r = await s.mail.storeFlags(inbox.id, [1, 2], { op: 'add', flags: ['\\SEEN', 'Work'] });
          assert.equal(r.changed.length, 2);
          assert.deepEqual(r.modified, []);
          assert.deepEqual(r.changed[0]!.flags, ['\\Seen', 'Work']);
          r = await s.mail.storeFlags(inbox.id, [1], { op: 'add', flags: ['WORK', 'Other'] });
          assert.deepEqual(r.changed[0]!.flags, ['\\Seen', 'Work', 'Other']);
          // A new spelling of a keyword already used in the mailbox takes the first-seen spelling.
          r = await s.mail.storeFlags(inbox.id, [2], { op: 'set', flags: ['other'] });
          assert.deepEqual(r.changed[0]!.flags, ['Other']);
          r = await s.mail.storeFlags(inbox.id, [1], { op: 'remove', flags: ['\\seen', 'work'] });
          assert.deepEqual(r.changed[0]!.flags, ['Other']);
          r = await s.mail.storeFlags(inbox.id, [1, 2], { op: 'set', flags: ['\\Answered', '\\Draft', '\\Flagged', '\\Deleted'] });
          assert.equal(r.changed.length, 2);
          assert.deepEqual([...r.changed[0]!.flags].sort(), ['\\Answered', '\\Deleted', '\\Draft', '\\Flagged']);
          const list = await s.mail.listMessages(inbox.id);
          assert.deepEqual(list.map((m) => [...m.flags].sort()), [
            ['\\Answered', '\\Deleted', '\\Draft', '\\Flagged'],
            ['\\Answered', '\\Deleted', '\\Draft', '\\Flagged'],
          ]);
          await rejectsWith(s.mail.storeFlags(inbox.id, [1], { op: 'add', flags: ['\\Unknown'] }), 'INVALID');
          await rejectsWith(s.mail.storeFlags(inbox.id, [1], { op: 'toggle' as 'add', flags: ['\\Seen'] }), 'INVALID');
          await rejectsWith(s.mail.storeFlags(inbox.id + 10000, [1], { op: 'add', flags: ['\\Seen'] }), 'NOT_FOUND');
          // \Recent is ignored.
          r = await s.mail.storeFlags(inbox.id, [1], { op: 'add', flags: ['\\Recent'] });
          assert.deepEqual(r.changed, []);
        }),
      );

      test(
        'storeFlags: one MODSEQ per operation, no bump for a no-op, missing UIDs skipped',
        withStore(async (s, _user, inbox) => {
          for (let i = 1; i <= 3; i++) await s.mail.append(inbox.id, sampleMessage(i));
          const m0 = (await s.mail.status(inbox.id)).highestModseq;
          const r = await s.mail.storeFlags(inbox.id, [1, 2, 3, 77], { op: 'add', flags: ['\\Flagged'] });
          assert.equal(r.changed.length, 3);
          const ms = r.changed[0]!.modseq;
          assert.equal(ms, m0 + 1);
          assert.ok(r.changed.every((c) => c.modseq === ms));
          assert.equal((await s.mail.status(inbox.id)).highestModseq, ms);
          const noop = await s.mail.storeFlags(inbox.id, [1, 2, 3], { op: 'add', flags: ['\\flagged'] });
          assert.deepEqual(noop.changed, []);
          assert.equal((await s.mail.status(inbox.id)).highestModseq, ms, 'no-op does not bump HIGHESTMODSEQ');
          const noop2 = await s.mail.storeFlags(inbox.id, [1], { op: 'remove', flags: ['\\Seen', 'Absent'] });
          assert.deepEqual(noop2.changed, []);
          assert.equal((await s.mail.status(inbox.id)).highestModseq, ms);
          // Only the changed one gets the new modseq.
          const one = await s.mail.storeFlags(inbox.id, [1, 2], { op: 'set', flags: ['\\Flagged', 'K'] });
          assert.equal(one.changed.length, 2);
          const part = await s.mail.storeFlags(inbox.id, [1, 2, 3], { op: 'add', flags: ['K'] });
          assert.deepEqual(part.changed.map((c) => c.uid), [3]);
          const list = await s.mail.listMessages(inbox.id);
          assert.equal(list[0]!.modseq, one.changed[0]!.modseq);
          assert.equal(list[2]!.modseq, part.changed[0]!.modseq);
        }),
      );

      test(
        'storeFlags UNCHANGEDSINCE: newer messages are left alone and reported as modified',
        withStore(async (s, _user, inbox) => {
          await s.mail.append(inbox.id, sampleMessage(1));
          await s.mail.append(inbox.id, sampleMessage(2));
          const base = (await s.mail.status(inbox.id)).highestModseq;
          const bumped = await s.mail.storeFlags(inbox.id, [2], { op: 'add', flags: ['\\Seen'] });
          const r = await s.mail.storeFlags(inbox.id, [1, 2], { op: 'add', flags: ['\\Flagged'], unchangedSince: base });
          assert.deepEqual(r.modified, [2]);
          assert.deepEqual(r.changed.map((c) => c.uid), [1]);
          const list = await s.mail.listMessages(inbox.id);
          assert.deepEqual(list[1]!.flags, ['\\Seen'], 'message 2 untouched');
          assert.equal(list[1]!.modseq, bumped.changed[0]!.modseq);
          // UNCHANGEDSINCE 0 always fails (RFC 7162 3.1.3).
          const zero = await s.mail.storeFlags(inbox.id, [1, 2], { op: 'add', flags: ['X'], unchangedSince: 0 });
          assert.deepEqual(zero.modified, [1, 2]);
          assert.deepEqual(zero.changed, []);
          // Equal modseq passes.
          const eq = await s.mail.storeFlags(inbox.id, [2], { op: 'add', flags: ['Y'], unchangedSince: list[1]!.modseq });
          assert.deepEqual(eq.modified, []);
          assert.deepEqual(eq.changed.map((c) => c.uid), [2]);
        }),
      );

      test(
        'expunge: only \\Deleted messages, optionally within a UID set; tombstones in changesSince',
        withStore(async (s, _user, inbox) => {
          for (let i = 1; i <= 5; i++) await s.mail.append(inbox.id, sampleMessage(i), { flags: i % 2 ? ['\\Deleted'] : [] });
          const m0 = (await s.mail.status(inbox.id)).highestModseq;
          assert.deepEqual(await s.mail.expunge(inbox.id, [5, 1, 2, 99]), [1, 5]);
          const m1 = (await s.mail.status(inbox.id)).highestModseq;
          assert.equal(m1, m0 + 1);
          assert.deepEqual((await s.mail.listMessages(inbox.id)).map((m) => m.uid), [2, 3, 4]);
          assert.deepEqual(await s.mail.expunge(inbox.id), [3]);
          assert.deepEqual(await s.mail.expunge(inbox.id), []);
          assert.equal((await s.mail.status(inbox.id)).highestModseq, m1 + 1, 'an empty expunge does not bump');
          assert.deepEqual((await s.mail.changesSince(inbox.id, m0)).expunged, [1, 3, 5]);
          assert.deepEqual((await s.mail.changesSince(inbox.id, m1)).expunged, [3]);
          await rejectsWith(s.mail.expunge(inbox.id + 10000), 'NOT_FOUND');
          // UIDs are never reused after an expunge.
          const r = await s.mail.append(inbox.id, sampleMessage(6));
          assert.equal(r.uid, 6);
        }),
      );

      test(
        'copy keeps flags and INTERNALDATE, gets new EMAILIDs and the same THREADIDs, pairs in source order',
        withStore(async (s, user, inbox) => {
          const date = new Date('2020-01-02T03:04:05.000Z');
          await s.mail.append(inbox.id, sampleMessage(1), { flags: ['\\Seen', 'Keep'], internalDate: date });
          await s.mail.append(inbox.id, sampleMessage(2), { flags: ['\\Answered'] });
          await s.mail.append(inbox.id, sampleMessage(3));
          const dst = await s.mail.createMailbox(user.id, 'Dest');
          await s.mail.append(dst.id, sampleMessage(9), { flags: ['keep'] });
          const before = await s.mail.status(dst.id);
          const r = await s.mail.copy(inbox.id, [3, 1, 42], dst.id);
          assert.equal(r.uidValidity, dst.uidValidity);
          assert.deepEqual(r.pairs, [
            [1, 2],
            [3, 3],
          ]);
          const src = await s.mail.listMessages(inbox.id);
          const out = await s.mail.listMessages(dst.id);
          assert.equal(src.length, 3, 'source untouched');
          const c1 = out.find((m) => m.uid === 2)!;
          assert.deepEqual([...c1.flags].sort(), ['\\Seen', 'keep'].sort(), 'keyword takes the destination spelling');
          assert.equal(c1.internalDate.getTime(), date.getTime());
          assert.notEqual(c1.emailId, src[0]!.emailId);
          assert.equal(c1.threadId, src[0]!.threadId);
          assert.equal(c1.size, src[0]!.size);
          assert.deepEqual(await s.mail.readBytes(dst.id, 2), await s.mail.readBytes(inbox.id, 1));
          const after = await s.mail.status(dst.id);
          assert.equal(after.uidNext, 4);
          assert.equal(after.highestModseq, before.highestModseq + 1);
          assert.equal(out.find((m) => m.uid === 3)!.modseq, after.highestModseq);
          // The copy survives an expunge of the original (shared bytes are not freed early).
          const original = await s.mail.readBytes(inbox.id, 1);
          await s.mail.storeFlags(inbox.id, [1], { op: 'add', flags: ['\\Deleted'] });
          assert.deepEqual(await s.mail.expunge(inbox.id), [1]);
          assert.deepEqual(await s.mail.readBytes(dst.id, 2), original);
          await rejectsWith(s.mail.copy(inbox.id, [1], dst.id + 10000), 'NOT_FOUND');
          await rejectsWith(s.mail.copy(inbox.id + 10000, [1], dst.id), 'NOT_FOUND');
          const none = await s.mail.copy(inbox.id, [999], dst.id);
          assert.deepEqual(none.pairs, []);
          assert.equal((await s.mail.status(dst.id)).highestModseq, after.highestModseq, 'empty copy does not bump');
          // Copy into the same mailbox gives new UIDs.
          const self = await s.mail.copy(inbox.id, [2], inbox.id);
          assert.deepEqual(self.pairs, [[2, 4]]);
        }),
      );

      test(
        'move keeps EMAILIDs, removes the source rows with tombstones, one transaction',
        withStore(async (s, user, inbox) => {
          const rawA = sampleMessage(1);
          const a = await s.mail.append(inbox.id, rawA, { flags: ['\\Flagged'] });
          const b = await s.mail.append(inbox.id, sampleMessage(2));
          await s.mail.append(inbox.id, sampleMessage(3));
          const dst = await s.mail.createMailbox(user.id, 'Moved');
          const srcBefore = (await s.mail.status(inbox.id)).highestModseq;
          const dstBefore = (await s.mail.status(dst.id)).highestModseq;
          const r = await s.mail.move(inbox.id, [2, 1], dst.id);
          assert.deepEqual(r.pairs, [
            [1, 1],
            [2, 2],
          ]);
          assert.equal(r.uidValidity, dst.uidValidity);
          assert.deepEqual((await s.mail.listMessages(inbox.id)).map((m) => m.uid), [3]);
          const moved = await s.mail.listMessages(dst.id);
          assert.deepEqual(moved.map((m) => m.emailId), [a.emailId, b.emailId]);
          assert.deepEqual(moved[0]!.flags, ['\\Flagged']);
          const srcCh = await s.mail.changesSince(inbox.id, srcBefore);
          assert.deepEqual(srcCh.expunged, [1, 2]);
          assert.equal(srcCh.highestModseq, srcBefore + 1);
          const dstCh = await s.mail.changesSince(dst.id, dstBefore);
          assert.deepEqual(dstCh.changed.map((m) => m.uid), [1, 2]);
          assert.equal(dstCh.highestModseq, dstBefore + 1);
          assert.deepEqual(await s.mail.readBytes(dst.id, 1), rawA);
          await rejectsWith(s.mail.readBytes(inbox.id, 1), 'NOT_FOUND');
          await rejectsWith(s.mail.move(inbox.id, [3], dst.id + 10000), 'NOT_FOUND');
          assert.deepEqual((await s.mail.listMessages(inbox.id)).map((m) => m.uid), [3], 'failed move changes nothing');
        }),
      );

      test(
        'changesSince reports appends, flag changes, expunges and moves with their MODSEQ',
        withStore(async (s, user, inbox) => {
          const m0 = inbox.highestModseq;
          await s.mail.append(inbox.id, sampleMessage(1));
          await s.mail.append(inbox.id, sampleMessage(2));
          await s.mail.append(inbox.id, sampleMessage(3));
          let ch = await s.mail.changesSince(inbox.id, m0);
          assert.deepEqual(ch.changed.map((m) => m.uid), [1, 2, 3]);
          assert.deepEqual(ch.expunged, []);
          const m1 = ch.highestModseq;
          ch = await s.mail.changesSince(inbox.id, m1);
          assert.deepEqual(ch.changed, []);
          assert.equal(ch.highestModseq, m1);
          await s.mail.storeFlags(inbox.id, [2], { op: 'add', flags: ['\\Seen', '\\Deleted'] });
          ch = await s.mail.changesSince(inbox.id, m1);
          assert.deepEqual(ch.changed.map((m) => [m.uid, m.flags]), [[2, ['\\Seen', '\\Deleted']]]);
          assert.equal(ch.changed[0]!.modseq, ch.highestModseq);
          const m2 = ch.highestModseq;
          await s.mail.expunge(inbox.id);
          ch = await s.mail.changesSince(inbox.id, m2);
          assert.deepEqual(ch.changed, []);
          assert.deepEqual(ch.expunged, [2]);
          const other = await s.mail.createMailbox(user.id, 'Other');
          const m3 = ch.highestModseq;
          await s.mail.move(inbox.id, [3], other.id);
          ch = await s.mail.changesSince(inbox.id, m3);
          assert.deepEqual(ch.expunged, [3]);
          ch = await s.mail.changesSince(inbox.id, 0);
          assert.deepEqual(ch.changed.map((m) => m.uid), [1]);
          assert.deepEqual(ch.expunged, [2, 3]);
          await rejectsWith(s.mail.changesSince(inbox.id + 10000, 0), 'NOT_FOUND');
        }),
      );

      test(
        'searchText: decoded headers and bodies, case-insensitive, scoped, restricted to the given UIDs',
        withStore(async (s, _user, inbox) => {
          await s.mail.append(inbox.id, sampleMessage(1, { subject: '=?UTF-8?B?R3LDvMOfZQ==?= aus Köln', body: 'plain body with Banana\r\n' }));
          await s.mail.append(
            inbox.id,
            sampleMessage(2, {
              subject: 'quoted',
              headers: 'MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n',
              body: 'Caf=C3=A9 cr=C3=A8me br=C3=BBl=C3=A9e\r\n',
            }),
          );
          await s.mail.append(
            inbox.id,
            sampleMessage(3, {
              subject: 'b64',
              headers: 'MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n',
              body: Buffer.from('Hidden treasure inside base64').toString('base64') + '\r\n',
            }),
          );
          const all = [1, 2, 3];
          assert.deepEqual(await s.mail.searchText(inbox.id, all, 'grüße', 'header'), [1]);
          assert.deepEqual(await s.mail.searchText(inbox.id, all, 'GRÜßE', 'header'), [1]);
          assert.deepEqual(await s.mail.searchText(inbox.id, all, 'banana', 'body'), [1]);
          assert.deepEqual(await s.mail.searchText(inbox.id, all, 'banana', 'header'), []);
          assert.deepEqual(await s.mail.searchText(inbox.id, all, 'CRÈME', 'body'), [2]);
          assert.deepEqual(await s.mail.searchText(inbox.id, all, 'treasure', 'text'), [3]);
          assert.deepEqual(await s.mail.searchText(inbox.id, all, 'b64', 'text'), [3]);
          assert.deepEqual(await s.mail.searchText(inbox.id, all, 'sender@example.org', 'header'), [1, 2, 3]);
          assert.deepEqual(await s.mail.searchText(inbox.id, [2, 3], 'sender@example.org', 'header'), [2, 3]);
          assert.deepEqual(await s.mail.searchText(inbox.id, [], 'sender', 'header'), []);
          assert.deepEqual(await s.mail.searchText(inbox.id, all, 'no such text anywhere', 'text'), []);
          assert.deepEqual(await s.mail.searchText(inbox.id, [3, 1, 99], 'example', 'text'), [1, 3]);
          await rejectsWith(s.mail.searchText(inbox.id + 10000, all, 'x', 'text'), 'NOT_FOUND');
          await rejectsWith(s.mail.searchText(inbox.id, all, 'x', 'subject' as 'text'), 'INVALID');
        }),
      );

      test(
        'searchText over many messages (chunked and whole-mailbox paths agree)',
        withStore(async (s, _user, inbox) => {
          const n = 1200;
          for (let i = 1; i <= n; i++) await s.mail.append(inbox.id, sampleMessage(i, { body: i % 7 === 0 ? 'needle here\r\n' : 'hay\r\n' }));
          const all = Array.from({ length: n }, (_, i) => i + 1);
          const expect = all.filter((u) => u % 7 === 0);
          assert.deepEqual(await s.mail.searchText(inbox.id, all, 'NEEDLE', 'body'), expect);
          const some = all.filter((u) => u % 2 === 0);
          assert.deepEqual(await s.mail.searchText(inbox.id, some, 'needle', 'body'), expect.filter((u) => u % 2 === 0));
          // A sparse set larger than one batch.
          const sparse = all.filter((u) => u % 4 === 1 && (u < 600 || u > 700));
          assert.deepEqual(await s.mail.searchText(inbox.id, sparse, 'needle', 'body'), expect.filter((u) => sparse.includes(u)));
          assert.deepEqual(await s.mail.searchText(inbox.id, [...all, 5000, 6000], 'needle', 'text'), expect);
        }),
      );

      test(
        'THREADID: a reply joins the thread of the message it answers',
        withStore(async (s, _user, inbox) => {
          const parent = Buffer.from('Message-ID: <root@example.org>\r\nSubject: topic\r\n\r\nhi\r\n');
          const reply = Buffer.from('Message-ID: <r1@example.org>\r\nIn-Reply-To: <root@example.org>\r\nSubject: Re: topic\r\n\r\nho\r\n');
          const reply2 = Buffer.from(
            'Message-ID: <r2@example.org>\r\nReferences: <root@example.org>\r\n <r1@example.org>\r\nSubject: Re: topic\r\n\r\nhey\r\n',
          );
          const other = Buffer.from('Message-ID: <x@example.org>\r\nSubject: other\r\n\r\nyo\r\n');
          for (const m of [parent, reply, reply2, other]) await s.mail.append(inbox.id, m);
          const list = await s.mail.listMessages(inbox.id);
          assert.equal(list[1]!.threadId, list[0]!.threadId);
          assert.equal(list[2]!.threadId, list[0]!.threadId);
          assert.notEqual(list[3]!.threadId, list[0]!.threadId);
        }),
      );
    });
  });
}
