/**
 * An unexpected store error during local delivery (not a StoreError code deliver() maps) is answered 451
 * with a short id in the reply text, and the same id is logged at error level with the error's stack.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLmtpService } from '../src/delivery/index.js';
import { memoryLogger } from '../src/lib/logger.js';
import { makeEnv, mailboxContents, RawSmtp } from './delivery/helpers.js';

/** The store with every append() (wherever the store keeps it) rejecting with `error`; the rest untouched. */
function appendRejects<T extends object>(store: T, error: Error): T {
  const hasAppend = (v: unknown): v is object => v !== null && typeof v === 'object' && typeof Reflect.get(v, 'append') === 'function';
  return new Proxy(store, {
    get(target, prop) {
      if (prop === 'append') return () => Promise.reject(error);
      const v: unknown = Reflect.get(target, prop, target);
      if (typeof v === 'function') return (v as (...a: unknown[]) => unknown).bind(target);
      return hasAppend(v) ? appendRejects(v, error) : v;
    },
  });
}

test('LMTP: an unexpected store error is answered 451 with an id that the error log line carries with the stack', async () => {
  const env = await makeEnv([['bob@example.org', 'pw']]);
  const log = memoryLogger();
  const boom = new Error('disk on fire');
  const svc = createLmtpService({ store: appendRejects(env.store, boom), auth: env.auth, hostname: 'mx', logger: log });
  const port = (await svc.listen({ host: '127.0.0.1', port: 0, implicitTls: false })).port;
  try {
    const { client } = await RawSmtp.open(port);
    await client.cmd('LHLO t');
    await client.cmd('MAIL FROM:<s@remote.test>');
    assert.equal((await client.cmd('RCPT TO:<bob@example.org>')).code, 250);
    const r = await client.data('Subject: x\r\n\r\ny\r\n');
    assert.equal(r.code, 451);
    const id = /\[([0-9a-f]{10})\]/.exec(r.text)?.[1];
    assert.ok(id, `the 451 text carries an id: ${r.text}`);
    assert.doesNotMatch(r.text, /disk on fire/, 'the error itself stays in the log');
    await client.cmd('QUIT');
    client.close();
    const line = log.lines.find((l) => l.level === 'error' && l.fields['rid'] === id);
    assert.ok(line, `an error line with rid ${id}: ${JSON.stringify(log.lines)}`);
    assert.equal(line.fields['rcpt'], 'bob@example.org');
    assert.equal(line.fields['stack'], boom.stack);
    assert.match(String(line.fields['stack']), /disk on fire\n\s+at /);
    assert.equal((await mailboxContents(env.store, 'bob@example.org')).length, 0);
  } finally {
    await svc.close();
    await env.close();
  }
});
