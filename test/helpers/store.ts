/**
 * Sample messages and small assertions shared by the store contract suites (test/store-contract/), the
 * backends' own tests and the server tests: RFC 5322 messages with CRLF line endings, a message whose
 * header block is bigger than a store keeps beside the blob, the StoreError check, a poll for
 * asynchronous wake-ups, the checks that readMessages' header and envelope parts agree with the index, and
 * wrappers that replace a store's mail store (fault injection, a store that keeps only the index).
 */
import assert from 'node:assert/strict';
import type { Envelope, MessageIndex } from '../../src/mime/types.js';
import type { Store } from '../../src/store/handle.js';
import type { MailStore, MessageParts, Wanted } from '../../src/store/mail.js';
import { isStoreError, type StoreErrorCode } from '../../src/store/types.js';

/** A small RFC 5322 message with CRLF line endings. */
export function sampleMessage(n: number, opts: { subject?: string; body?: string; headers?: string } = {}): Buffer {
  const subject = opts.subject ?? `Message ${n}`;
  const body = opts.body ?? `Hello number ${n}.\r\nSecond line.\r\n`;
  return Buffer.from(
    `From: Sender <sender@example.org>\r\nTo: rcpt@example.org\r\nSubject: ${subject}\r\n` +
      `Message-ID: <m${n}.${Math.random().toString(36).slice(2)}@example.org>\r\n` +
      `Date: Mon, 02 Jan 2023 10:00:00 +0000\r\n${opts.headers ?? ''}\r\n${body}`,
    'utf8',
  );
}

/** A message whose header block (about 21 KiB) is larger than a store may keep beside the blob. */
export function bigHeaderMessage(n: number): Buffer {
  const filler = Array.from({ length: 250 }, (_, i) => `X-Filler-${i}: ${'y'.repeat(70)}\r\n`).join('');
  return sampleMessage(n, { subject: `Big header ${n}`, headers: filler });
}

/** Asserts that `p` rejects with StoreError `code`. */
export async function rejectsWith(p: Promise<unknown>, code: StoreErrorCode): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(isStoreError(e), `expected StoreError ${code}, got ${String(e)}`);
    assert.equal(e.code, code);
    return true;
  });
}

/** Polls `fn` until it returns true (for wake-ups that may arrive asynchronously, e.g. through NOTIFY). */
export async function eventually(fn: () => boolean | Promise<boolean>, what: string, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await fn()) return;
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

export async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

/**
 * Reads `uids` twice, once with `wanted` and once with the index, asserts both find the same messages in
 * the same order, and returns them paired: [index, parts] per message.
 */
async function alongIndex<W extends Wanted>(s: MailStore, mailboxId: number, uids: number[], wanted: W, why: string): Promise<Array<[MessageIndex, MessageParts<W>]>> {
  const recs = await collect(s.readMessages(mailboxId, uids, { index: true }));
  const parts = await collect(s.readMessages(mailboxId, uids, wanted));
  assert.deepEqual(
    parts.map((p) => p.uid),
    recs.map((r) => r.uid),
    `${why}: the messages readMessages finds with the index`,
  );
  return recs.map((r, i) => [r.index, parts[i]!]);
}

/**
 * readMessages with `header` must give, for the messages it finds with `index` (same UIDs, same order), as
 * header exactly readBytes(0 .. index.root.headerEnd). Returns how many records there were.
 */
export async function assertHeadersMatch(s: MailStore, mailboxId: number, uids: number[], why: string): Promise<number> {
  const pairs = await alongIndex(s, mailboxId, uids, { header: true }, why);
  for (const [index, { uid, header }] of pairs) {
    assert.ok(Buffer.isBuffer(header), `${why}: uid ${uid} header is a Buffer`);
    const want = await s.readBytes(mailboxId, uid, { start: 0, end: index.root.headerEnd });
    assert.ok(header.equals(want), `${why}: uid ${uid} header is bytes 0..${index.root.headerEnd} (got ${header.length} bytes)`);
  }
  return pairs.length;
}

/**
 * readMessages with `envelope` and `envelopeText` must give the messages it finds with `index`, each with the
 * index's envelope and, as text, what `textOf` (the StoreOptions.envelopeText the store was opened with, or
 * null when none) makes of it. Returns how many had a text and how many had none.
 */
export async function assertEnvelopesMatch(
  s: MailStore,
  mailboxId: number,
  uids: number[],
  why: string,
  textOf: ((e: Envelope) => string | null) | null,
): Promise<{ text: number; none: number }> {
  const counts = { text: 0, none: 0 };
  for (const [index, got] of await alongIndex(s, mailboxId, uids, { envelope: true, envelopeText: true }, why)) {
    assert.deepEqual(got.envelope, index.envelope, `${why}: uid ${got.uid} envelope`);
    assert.equal(got.envelopeText, textOf ? textOf(index.envelope) : null, `${why}: uid ${got.uid} envelope text`);
    if (got.envelopeText === null) counts.none++;
    else counts.text++;
  }
  return counts;
}

/** The store with some parts replaced; the others (and close) are the original's. */
export function withParts(store: Store, parts: Partial<Pick<Store, 'directory' | 'mail' | 'maildrop' | 'queue'>>): Store {
  return {
    kind: store.kind,
    directory: parts.directory ?? store.directory,
    mail: parts.mail ?? store.mail,
    maildrop: parts.maildrop ?? store.maildrop,
    queue: parts.queue ?? store.queue,
    quota: store.quota,
    acl: store.acl,
    tokens: store.tokens,
    sieve: store.sieve,
    spam: store.spam,
    dkim: store.dkim,
    jmap: store.jmap,
    close: () => store.close(),
  };
}

/** `real` (a store part) with some methods replaced (fault injection); everything else goes to the real one. */
export function overrideMethods<T extends object>(real: T, overrides: Partial<T>): T {
  return new Proxy(real, {
    get(target, prop) {
      const o = typeof prop === 'string' ? (overrides as Record<string, unknown>)[prop] : undefined;
      if (o !== undefined) return o;
      const v: unknown = Reflect.get(target, prop, target);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

/**
 * `mail` as a store that keeps nothing beside the MIME index: readMessages derives the envelope from the
 * index, reads the header block through readBytes and has no envelope text. For checking that the protocol
 * layer answers the same from the stored shortcuts as from the index and the bytes.
 */
export function indexOnlyMail(mail: MailStore): MailStore {
  async function* readMessages(mailboxId: number, uids: readonly number[], wanted: Wanted): AsyncIterable<{ uid: number } & Record<string, unknown>> {
    for await (const r of mail.readMessages(mailboxId, uids, { meta: true, index: true })) {
      const out: { uid: number } & Record<string, unknown> = { uid: r.uid };
      if (wanted.meta) out['meta'] = r.meta;
      if (wanted.index) out['index'] = r.index;
      if (wanted.envelope) out['envelope'] = r.index.envelope;
      if (wanted.envelopeText) out['envelopeText'] = null;
      if (wanted.header) out['header'] = await mail.readBytes(mailboxId, r.uid, { start: 0, end: r.index.root.headerEnd });
      yield out;
    }
  }
  return overrideMethods(mail, { readMessages: readMessages as MailStore['readMessages'] });
}
