/**
 * Sample messages and small assertions shared by the store contract suites (test/store-contract/), the
 * backends' own tests and the server tests: RFC 5322 messages with CRLF line endings, a message whose
 * header block is bigger than a store keeps beside the blob, the StoreError check, and a poll for
 * asynchronous wake-ups.
 */
import assert from 'node:assert/strict';
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
