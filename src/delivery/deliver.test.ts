import { test } from 'node:test';
import assert from 'node:assert/strict';
import { alreadyDeliveredTo, enhancedStatusFor, isPermanent, mapLimit, replyCodeFor, type DeliverFailureCode } from './deliver.js';

test('mapLimit keeps order and never runs more than the limit at once', async () => {
  let running = 0;
  let peak = 0;
  const out = await mapLimit([5, 1, 4, 2, 3, 0, 6], 3, async (n) => {
    running++;
    peak = Math.max(peak, running);
    await new Promise((r) => setTimeout(r, n));
    running--;
    return n * 10;
  });
  assert.deepEqual(out, [50, 10, 40, 20, 30, 0, 60]);
  assert.ok(peak <= 3 && peak >= 2, `peak ${peak}`);
  assert.deepEqual(await mapLimit([], 3, async () => 1), []);
});

test('failure codes map to consistent SMTP replies and RFC 3463 statuses', () => {
  const codes: DeliverFailureCode[] = ['UNKNOWN', 'REMOTE', 'INVALID', 'LOOP', 'TOO_BIG', 'OVER_QUOTA', 'TEMPORARY'];
  for (const c of codes) {
    const reply = replyCodeFor(c);
    const status = enhancedStatusFor(c);
    assert.equal(String(reply)[0], status[0], `${c}: ${reply} vs ${status}`);
    assert.equal(isPermanent(c), reply >= 500);
  }
});

test('alreadyDeliveredTo looks only at the header, with or without brackets', () => {
  assert.ok(alreadyDeliveredTo(Buffer.from('Delivered-To: <A@x.org>\r\n\r\n'), 'a@x.org'));
  assert.ok(!alreadyDeliveredTo(Buffer.from('Subject: s\r\n\r\nDelivered-To: a@x.org\r\n'), 'a@x.org'));
  assert.ok(!alreadyDeliveredTo(Buffer.from('X-Delivered-To: a@x.org\r\n\r\n'), 'a@x.org'));
  assert.ok(alreadyDeliveredTo(Buffer.from('Subject: s\r\nDELIVERED-TO:b@y.org\r\ndelivered-to:  A@X.org  \r\n\r\n'), 'a@x.org'));
  assert.ok(alreadyDeliveredTo(Buffer.from('Subject: \u00e9\r\nDelivered-To: j\u00fcrgen@x.org\r\n\r\n'), 'J\u00dcRGEN@x.org'));
  assert.ok(!alreadyDeliveredTo(Buffer.from('Subject: s\r\n\r\n'), 'a@x.org'));
  assert.ok(!alreadyDeliveredTo(Buffer.from('Delivered-To: b@x.org\r\n\r\n'), 'a@x.org'));
});

test('deliver looks up a user\'s INBOX once, and again when the remembered one is gone', async () => {
  const { StoreError } = await import('../store/types.js');
  const { deliver } = await import('./deliver.js');
  let inboxId = 7;
  const lookups: string[] = [];
  const appended: number[] = [];
  const mail = {
    async getMailbox(_userId: number, name: string) {
      lookups.push(name);
      return { id: inboxId } as never;
    },
    async append(mailboxId: number) {
      if (mailboxId !== inboxId) throw new StoreError('NOT_FOUND', 'no such mailbox');
      appended.push(mailboxId);
      return { uid: appended.length, uidValidity: 1, emailId: `M${appended.length}`, modseq: 1 } as never;
    },
  };
  const store = { directory: {} as never, mail: mail as never };
  const user = { id: 42, address: 'u@x.org' } as never;
  const resolution = { kind: 'local' as const, user, recipient: 'u@x.org', tag: null, via: 'user' as const };
  const opts = { envelopeFrom: 's@y.org', resolution };
  for (let i = 0; i < 3; i++) {
    const r = await deliver(store, 'u@x.org', Buffer.from('Subject: s\r\n\r\nb\r\n'), opts);
    assert.equal(r.ok && r.mailboxId, 7);
  }
  assert.deepEqual(lookups, ['INBOX']);
  inboxId = 9; // the remembered mailbox is gone (as when its user was removed and the id left behind)
  const r = await deliver(store, 'u@x.org', Buffer.from('Subject: s\r\n\r\nb\r\n'), opts);
  assert.equal(r.ok && r.mailboxId, 9);
  assert.deepEqual(lookups, ['INBOX', 'INBOX']);
  assert.deepEqual(appended, [7, 7, 7, 9]);
  // A lookup that finds nothing is a temporary failure, as before.
  inboxId = 11;
  mail.getMailbox = async () => null as never;
  const gone = await deliver(store, 'u@x.org', Buffer.from('Subject: s\r\n\r\nb\r\n'), opts);
  assert.deepEqual(gone, { ok: false, code: 'TEMPORARY', message: 'Mailbox unavailable' });
});

test('deliverEach parses a message for several users once: every copy reaches the store with its index', async () => {
  const { deliverEach } = await import('./deliver.js');
  const { indexMessage } = await import('../mime/index.js');
  const { rememberedIndex } = await import('../mime/shared.js');
  const copies: Buffer[] = [];
  const mail = {
    async getMailbox(userId: number) {
      return { id: 100 + userId } as never;
    },
    async append(_mailboxId: number, raw: Buffer) {
      copies.push(raw);
      return { uid: copies.length, uidValidity: 1, emailId: `M${copies.length}`, modseq: 1 } as never;
    },
  };
  const store = { directory: {} as never, mail: mail as never };
  const local = (id: number, recipient: string) => ({ kind: 'local' as const, user: { id, address: recipient } as never, recipient, tag: null, via: 'user' as const });
  const raw = Buffer.from('From: a@y.org\r\nSubject: s\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhello\r\n--b--\r\n');
  const entries = [1, 2, 3].map((id) => ({ address: `u${id}@x.org`, resolution: local(900 + id, `u${id}@x.org`) }));
  const results = await deliverEach(store, entries, raw, { envelopeFrom: 's@y.org', received: 'Received: from y by x; Tue, 8 Dec 2026 04:00:00 +0000\r\n' });
  assert.deepEqual(results.map((r) => r.ok), [true, true, true]);
  assert.equal(copies.length, 3);
  for (const [i, copy] of copies.entries()) {
    assert.ok(copy.toString('latin1').includes(`Delivered-To: u${i + 1}@x.org\r\n`));
    // The index the store takes is exactly the one it would have computed by parsing the copy.
    assert.deepEqual(rememberedIndex(copy), indexMessage(copy));
  }
  // One recipient: nothing is parsed ahead (the store parses its one copy).
  const one = Buffer.from('Subject: t\r\n\r\nbody\r\n');
  await deliverEach(store, [{ address: 'u1@x.org', resolution: local(901, 'u1@x.org') }], one, { envelopeFrom: '' });
  assert.equal(rememberedIndex(one), null);
  assert.equal(rememberedIndex(copies[3]!), null);
});
