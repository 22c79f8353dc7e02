/**
 * The MailStore contract, change log and wake-ups (src/store/mail.ts, types.ts): subscribers are woken
 * after commit, MODSEQ never goes backwards under concurrency, random operation sequences agree with a
 * reference model, and close() waits for in-flight commits. Part of runMailContract (mail.ts).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import type { ChangeEvent, MessageMeta } from '../../src/store/types.js';
import { eventually, sampleMessage } from '../helpers/store.js';
import { storeRunner, SERVER_OPTIONS, type StoreFactory } from './harness.js';

export function runChangeContract(name: string, factory: StoreFactory): void {
  const withStore = storeRunner(factory);

  describe(`MailStore contract: ${name}`, () => {
    // ------------------------------------------------------------------------------------------------
    describe('change bus', () => {
      test(
        'append results carry the stored metadata and expungeReport the HIGHESTMODSEQ it left',
        withStore(async (s, _user, inbox) => {
          const plain = (m: MessageMeta) => ({ ...m, flags: [...m.flags], internalDate: m.internalDate.getTime(), savedDate: m.savedDate?.getTime() });
          const one = await s.mail.append(inbox.id, sampleMessage(1), { flags: ['\\seen', '$Label'], internalDate: new Date('2021-05-06T07:08:09.000Z') });
          const many = await s.mail.appendMany(inbox.id, [{ raw: sampleMessage(2), opts: { flags: ['$label'] } }, { raw: sampleMessage(3) }]);
          const results = [one, ...many];
          const list = await s.mail.listMessages(inbox.id);
          assert.deepEqual(results.map((r) => plain(r.meta)), list.map(plain));
          const ch = await s.mail.changesSince(inbox.id, 0);
          assert.deepEqual(results.map((r) => plain(r.meta)), ch.changed.map(plain));
          assert.deepEqual(many[0]!.meta.flags, ['$Label'], 'keywords in the spelling first stored');
          assert.ok(results.every((r) => r.meta.uid === r.uid && r.meta.modseq === r.modseq && r.meta.emailId === r.emailId));
          const before = (await s.mail.status(inbox.id)).highestModseq;
          assert.deepEqual(await s.mail.expungeReport(inbox.id), { uids: [], highestModseq: before }, 'nothing \\Deleted: the value read');
          await s.mail.storeFlags(inbox.id, [1, 3], { op: 'add', flags: ['\\Deleted'] });
          const gone = await s.mail.expungeReport(inbox.id, [3]);
          assert.deepEqual(gone, { uids: [3], highestModseq: before + 2 }, 'the flag change, then the expunge');
          assert.equal((await s.mail.status(inbox.id)).highestModseq, gone.highestModseq);
          assert.deepEqual(await s.mail.expunge(inbox.id), [1]);
        }),
      );

      test(
        'subscribers are woken after commit (changesSince already shows the change), per mailbox',
        withStore(async (s, user, inbox) => {
          const other = await s.mail.createMailbox(user.id, 'Other');
          const seen: Array<{ ev: ChangeEvent; uids: number[] }> = [];
          const otherEvents: ChangeEvent[] = [];
          const off = s.mail.subscribe(inbox.id, (ev) => {
            // The change must be visible to a reader at wake-up time.
            void s.mail.changesSince(inbox.id, ev.highestModseq - 1).then((ch) => seen.push({ ev, uids: ch.changed.map((m) => m.uid) }));
          });
          const offOther = s.mail.subscribe(other.id, (ev) => otherEvents.push(ev));
          const r = await s.mail.append(inbox.id, sampleMessage(1));
          await eventually(() => seen.length === 1, 'append wake-up');
          assert.deepEqual(seen[0]!.ev, { userId: user.id, mailboxId: inbox.id, highestModseq: r.modseq });
          assert.deepEqual(seen[0]!.uids, [1]);
          await s.mail.storeFlags(inbox.id, [1], { op: 'add', flags: ['\\Seen'] });
          await eventually(() => seen.length === 2, 'flag wake-up');
          assert.ok(seen[1]!.ev.highestModseq > r.modseq);
          // A no-op wakes nobody.
          await s.mail.storeFlags(inbox.id, [1], { op: 'add', flags: ['\\Seen'] });
          await s.mail.storeFlags(inbox.id, [1], { op: 'add', flags: ['\\Deleted'] });
          await eventually(() => seen.length === 3, 'second flag wake-up');
          await s.mail.expunge(inbox.id);
          await eventually(() => seen.length === 4, 'expunge wake-up');
          assert.equal(otherEvents.length, 0, 'other mailbox not woken');
          off();
          await s.mail.append(inbox.id, sampleMessage(2));
          await s.mail.append(other.id, sampleMessage(3));
          await eventually(() => otherEvents.length === 1, 'other mailbox wake-up');
          await new Promise((r2) => setTimeout(r2, 50));
          assert.equal(seen.length, 4, 'unsubscribed listener not called');
          offOther();
        }),
      );

      test(
        'copy and move wake both mailboxes; a throwing listener does not break the store',
        withStore(async (s, user, inbox) => {
          const dst = await s.mail.createMailbox(user.id, 'D');
          await s.mail.append(inbox.id, sampleMessage(1));
          await s.mail.append(inbox.id, sampleMessage(2));
          const src: ChangeEvent[] = [];
          const dstEv: ChangeEvent[] = [];
          const off0 = s.mail.subscribe(inbox.id, () => {
            throw new Error('listener failure');
          });
          const off1 = s.mail.subscribe(inbox.id, (ev) => src.push(ev));
          const off2 = s.mail.subscribe(dst.id, (ev) => dstEv.push(ev));
          await s.mail.copy(inbox.id, [1], dst.id);
          await eventually(() => dstEv.length === 1, 'copy wake-up');
          await s.mail.move(inbox.id, [2], dst.id);
          await eventually(() => dstEv.length === 2 && src.length === 1, 'move wake-ups');
          assert.equal(src[0]!.mailboxId, inbox.id);
          assert.equal(dstEv[1]!.highestModseq, (await s.mail.status(dst.id)).highestModseq);
          off0();
          off1();
          off2();
        }),
      );
    });

    // ------------------------------------------------------------------------------------------------
    describe('concurrency', () => {
      test(
        '20 concurrent appenders and flag changers: no duplicate UIDs, no lost flags, MODSEQ never goes backwards',
        withStore(async (s, user, inbox) => {
          const events: number[] = [];
          const off = s.mail.subscribe(inbox.id, (ev) => events.push(ev.highestModseq));
          const perWorker = 8;
          const results = await Promise.all(
            Array.from({ length: 20 }, async (_, w) => {
              const mine: number[] = [];
              for (let i = 0; i < perWorker; i++) {
                const r = await s.mail.append(inbox.id, sampleMessage(w * 100 + i));
                mine.push(r.uid);
                // Each worker sets its own keyword on its own message, and \Seen on the previous one.
                await s.mail.storeFlags(inbox.id, [r.uid], { op: 'add', flags: [`w${w}`] });
                if (i > 0) await s.mail.storeFlags(inbox.id, [mine[i - 1]!], { op: 'add', flags: ['\\Seen'] });
              }
              return mine;
            }),
          );
          const uids = results.flat();
          assert.equal(new Set(uids).size, uids.length, 'no duplicate UIDs');
          assert.equal(uids.length, 20 * perWorker);
          const list = await s.mail.listMessages(inbox.id);
          assert.equal(list.length, uids.length);
          const byUid = new Map(list.map((m) => [m.uid, m]));
          results.forEach((mine, w) => {
            mine.forEach((uid, i) => {
              const m = byUid.get(uid)!;
              assert.ok(m.flags.includes(`w${w}`), `uid ${uid} lost keyword w${w}`);
              if (i < mine.length - 1) assert.ok(m.flags.includes('\\Seen'), `uid ${uid} lost \\Seen`);
            });
          });
          const st = await s.mail.status(inbox.id);
          assert.equal(st.uidNext, Math.max(...uids) + 1);
          await eventually(() => events.length >= 1 && events[events.length - 1] === st.highestModseq, 'last wake-up');
          for (let i = 1; i < events.length; i++) assert.ok(events[i]! > events[i - 1]!, 'MODSEQ strictly increasing in wake-ups');
          assert.ok(list.every((m) => m.modseq <= st.highestModseq));
          off();
          void user;
        }),
      );

      test(
        'a concurrent reader never sees a row without its bytes',
        withStore(async (s, _user, inbox) => {
          let stop = false;
          let reads = 0;
          const reader = (async () => {
            while (!stop) {
              const list = await s.mail.listMessages(inbox.id);
              for (const m of list) {
                const raw = await s.mail.readBytes(inbox.id, m.uid);
                assert.equal(raw.length, m.size);
                reads++;
              }
              await new Promise((r) => setImmediate(r));
            }
          })();
          await Promise.all(
            Array.from({ length: 10 }, async (_, w) => {
              for (let i = 0; i < 5; i++) await s.mail.append(inbox.id, sampleMessage(w * 10 + i, { body: `w${w} i${i}\r\n`.repeat(50) }));
            }),
          );
          stop = true;
          await reader;
          assert.ok(reads > 0);
          assert.equal((await s.mail.listMessages(inbox.id)).length, 50);
        }),
      );

      test(
        'concurrent expunge, copy and flag changes keep MODSEQ strictly increasing per mailbox',
        withStore(async (s, user, inbox) => {
          const dst = await s.mail.createMailbox(user.id, 'Copies');
          for (let i = 1; i <= 30; i++) await s.mail.append(inbox.id, sampleMessage(i));
          const seenSrc: number[] = [];
          const seenDst: number[] = [];
          const off1 = s.mail.subscribe(inbox.id, (ev) => seenSrc.push(ev.highestModseq));
          const off2 = s.mail.subscribe(dst.id, (ev) => seenDst.push(ev.highestModseq));
          await Promise.all([
            ...Array.from({ length: 10 }, (_, i) => s.mail.copy(inbox.id, [i + 1, i + 11], dst.id)),
            ...Array.from({ length: 10 }, (_, i) => s.mail.storeFlags(inbox.id, [i + 21], { op: 'add', flags: ['\\Deleted'] })),
            ...Array.from({ length: 5 }, () => s.mail.expunge(inbox.id)),
            ...Array.from({ length: 5 }, (_, i) => s.mail.append(dst.id, sampleMessage(100 + i))),
          ]);
          await s.mail.expunge(inbox.id);
          const dstList = await s.mail.listMessages(dst.id);
          assert.equal(dstList.length, 25);
          assert.equal(new Set(dstList.map((m) => m.uid)).size, 25);
          assert.equal(new Set(dstList.map((m) => m.emailId)).size, 25);
          assert.equal((await s.mail.listMessages(inbox.id)).length, 20);
          await eventually(async () => seenSrc[seenSrc.length - 1] === (await s.mail.status(inbox.id)).highestModseq, 'source wake-ups');
          await eventually(async () => seenDst[seenDst.length - 1] === (await s.mail.status(dst.id)).highestModseq, 'dest wake-ups');
          for (const seq of [seenSrc, seenDst]) for (let i = 1; i < seq.length; i++) assert.ok(seq[i]! > seq[i - 1]!);
          off1();
          off2();
        }),
      );
    });

    // ------------------------------------------------------------------------------------------------
    test('model check: random operation sequences agree with a reference model', async () => {
      const FLAGS = ['\\Seen', '\\seen', '\\Deleted', '\\Flagged', '\\ANSWERED', 'Work', 'work', 'Later', '$Junk'];
      const flagsArb = fc.subarray(FLAGS, { maxLength: 4 });
      const uidsArb = fc.array(fc.integer({ min: 1, max: 14 }), { maxLength: 6 });
      const box = fc.constantFrom(0, 1);
      type Op =
        | { k: 'append'; box: number; flags: string[] }
        | { k: 'flags'; box: number; uids: number[]; op: 'add' | 'remove' | 'set'; flags: string[] }
        | { k: 'expunge'; box: number; uids: number[] | null }
        | { k: 'copy' | 'move'; box: number; uids: number[] };
      const opArb: fc.Arbitrary<Op> = fc.oneof(
        { weight: 4, arbitrary: fc.record({ k: fc.constant('append' as const), box, flags: flagsArb }) },
        { weight: 4, arbitrary: fc.record({ k: fc.constant('flags' as const), box, uids: uidsArb, op: fc.constantFrom('add' as const, 'remove' as const, 'set' as const), flags: flagsArb }) },
        { weight: 2, arbitrary: fc.record({ k: fc.constant('expunge' as const), box, uids: fc.option(uidsArb, { nil: null }) }) },
        { weight: 1, arbitrary: fc.record({ k: fc.constant('copy' as const), box, uids: uidsArb }) },
        { weight: 1, arbitrary: fc.record({ k: fc.constant('move' as const), box, uids: uidsArb }) },
      );
      interface M {
        uid: number;
        emailId: string;
        flags: Set<string>;
      }
      interface B {
        id: number;
        uidNext: number;
        modseq: number;
        msgs: Map<number, M>;
      }
      const norm = (f: string[]) => new Set(f.filter((x) => x.toLowerCase() !== '\\recent').map((x) => x.toLowerCase()));
      await fc.assert(
        fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 25 }), async (ops) => {
          const { store: s, cleanup } = await factory(SERVER_OPTIONS);
          try {
            const user = await s.directory.createUser('model@example.org', 'x');
            const mbs = [(await s.mail.getMailbox(user.id, 'INBOX'))!, await s.mail.createMailbox(user.id, 'Other')];
            const model: B[] = mbs.map((m) => ({ id: m.id, uidNext: m.uidNext, modseq: m.highestModseq, msgs: new Map() }));
            let n = 0;
            for (const op of ops) {
              const src = model[op.box]!;
              const dst = model[1 - op.box]!;
              const before = model.map((b) => b.modseq);
              const touched: Array<Set<number>> = [new Set(), new Set()];
              const removed: Array<Set<number>> = [new Set(), new Set()];
              if (op.k === 'append') {
                const r = await s.mail.append(src.id, sampleMessage(++n), { flags: op.flags });
                assert.equal(r.uid, src.uidNext);
                src.msgs.set(r.uid, { uid: r.uid, emailId: r.emailId, flags: norm(op.flags) });
                src.uidNext++;
                touched[op.box]!.add(r.uid);
              } else if (op.k === 'flags') {
                await s.mail.storeFlags(src.id, op.uids, { op: op.op, flags: op.flags });
                const f = norm(op.flags);
                for (const uid of new Set(op.uids)) {
                  const m = src.msgs.get(uid);
                  if (!m) continue;
                  const next = op.op === 'set' ? new Set(f) : op.op === 'add' ? new Set([...m.flags, ...f]) : new Set([...m.flags].filter((x) => !f.has(x)));
                  if (next.size !== m.flags.size || [...next].some((x) => !m.flags.has(x))) {
                    m.flags = next;
                    touched[op.box]!.add(uid);
                  }
                }
              } else if (op.k === 'expunge') {
                const got = await s.mail.expunge(src.id, op.uids ?? undefined);
                const want = [...src.msgs.values()]
                  .filter((m) => m.flags.has('\\deleted') && (op.uids === null || op.uids.includes(m.uid)))
                  .map((m) => m.uid)
                  .sort((a, b) => a - b);
                assert.deepEqual(got, want);
                for (const u of want) {
                  src.msgs.delete(u);
                  removed[op.box]!.add(u);
                }
              } else {
                const r = await (op.k === 'copy' ? s.mail.copy(src.id, op.uids, dst.id) : s.mail.move(src.id, op.uids, dst.id));
                const srcUids = [...new Set(op.uids)].filter((u) => src.msgs.has(u)).sort((a, b) => a - b);
                assert.deepEqual(r.pairs.map((p) => p[0]), srcUids);
                for (const [from, to] of r.pairs) {
                  assert.equal(to, dst.uidNext);
                  dst.uidNext++;
                  const m = src.msgs.get(from)!;
                  dst.msgs.set(to, { uid: to, emailId: op.k === 'move' ? m.emailId : '', flags: new Set(m.flags) });
                  touched[1 - op.box]!.add(to);
                  if (op.k === 'move') {
                    src.msgs.delete(from);
                    removed[op.box]!.add(from);
                  }
                }
              }
              for (let i = 0; i < 2; i++) {
                const b = model[i]!;
                const changed = touched[i]!.size > 0 || removed[i]!.size > 0;
                const st = await s.mail.status(b.id);
                assert.equal(st.highestModseq, changed ? before[i]! + 1 : before[i]!, `modseq of box ${i} after ${op.k}`);
                b.modseq = st.highestModseq;
                assert.equal(st.uidNext, b.uidNext);
                assert.equal(st.messages, b.msgs.size);
                const list = await s.mail.listMessages(b.id);
                assert.deepEqual(list.map((m) => m.uid), [...b.msgs.keys()].sort((x, y) => x - y));
                for (const m of list) {
                  const want = b.msgs.get(m.uid)!;
                  assert.deepEqual(norm(m.flags), want.flags, `flags of uid ${m.uid}`);
                  if (want.emailId === '') want.emailId = m.emailId;
                  assert.equal(m.emailId, want.emailId);
                }
                assert.equal(new Set(list.map((m) => m.emailId)).size, list.length);
                const ch = await s.mail.changesSince(b.id, before[i]!);
                assert.deepEqual(ch.changed.map((m) => m.uid), [...touched[i]!].filter((u) => b.msgs.has(u)).sort((x, y) => x - y));
                assert.deepEqual(ch.expunged, [...removed[i]!].sort((x, y) => x - y));
              }
              const all = [...model[0]!.msgs.values(), ...model[1]!.msgs.values()].map((m) => m.emailId);
              assert.equal(new Set(all).size, all.length, 'EMAILIDs unique across mailboxes');
            }
          } finally {
            await cleanup();
          }
        }),
        { numRuns: 12 },
      );
    });

    test('close waits for in-flight appends, is idempotent, and later calls fail', async () => {
      const { store, cleanup } = await factory(SERVER_OPTIONS);
      try {
        const user = await store.directory.createUser('carol@example.org', 'x');
        const inbox = (await store.mail.getMailbox(user.id, 'INBOX'))!;
        const pending = Array.from({ length: 10 }, (_, i) => store.mail.append(inbox.id, sampleMessage(i)));
        await store.close();
        const results = await Promise.allSettled(pending);
        assert.ok(
          results.every((r) => r.status === 'fulfilled'),
          'appends started before close complete',
        );
        await store.close();
        await assert.rejects(store.mail.listMessages(inbox.id));
      } finally {
        await cleanup();
      }
    });
  });
}
