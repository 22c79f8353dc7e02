import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import fc from 'fast-check';
import { createLmtpService, createSmtpService, createSubmissionService, createOutboundQueue } from '../src/delivery/index.js';
import type { NetService } from '../src/lib/service.js';
import { makeEnv, mailboxContents, RawSmtp } from './delivery/helpers.js';

const piece = fc.oneof(
  fc.constantFrom(
    'EHLO fuzz.test',
    'LHLO fuzz.test',
    'HELO x',
    'MAIL FROM:<s@remote.test>',
    'MAIL FROM:<>',
    'MAIL FROM:<s@remote.test> SIZE=12 BODY=8BITMIME SMTPUTF8',
    'RCPT TO:<alice@example.org>',
    'RCPT TO:<alice+x@example.org>',
    'RCPT TO:<ghost@example.org>',
    'RCPT TO:<x@elsewhere.test>',
    'DATA',
    'Subject: fuzz',
    '',
    '.',
    '..dot',
    'RSET',
    'NOOP',
    'VRFY alice',
    'STARTTLS',
    'AUTH PLAIN',
    'AUTH LOGIN',
    'BDAT 10 LAST',
    'XCLIENT ADDR=1.2.3.4',
  ),
  fc.string({ maxLength: 40 }),
  fc.uint8Array({ maxLength: 60 }).map((a) => Buffer.from(a).toString('latin1')),
);

async function session(port: number, lines: string[], lineEnd: string): Promise<void> {
  const sock = connect(port, '127.0.0.1');
  sock.on('error', () => undefined);
  await new Promise<void>((resolve) => {
    sock.once('connect', () => resolve());
    sock.once('error', () => resolve());
  });
  sock.on('data', () => undefined);
  sock.write(Buffer.from(lines.join(lineEnd) + lineEnd, 'latin1'));
  await new Promise((r) => setTimeout(r, 30));
  sock.destroy();
}

test('random command sequences never break the LMTP, SMTP or submission services', { timeout: 60_000 }, async () => {
  const env = await makeEnv([['alice@example.org', 'pw']]);
  const queue = createOutboundQueue({ store: env.store, auth: env.auth, hostname: 'mx' });
  const services: NetService[] = [
    createLmtpService({ store: env.store, auth: env.auth, hostname: 'mx' }),
    createSmtpService({ store: env.store, auth: env.auth, hostname: 'mx' }),
    createSubmissionService({ store: env.store, auth: env.auth, hostname: 'mx', outbound: queue }),
  ];
  const ports: number[] = [];
  for (const s of services) ports.push((await s.listen({ host: '127.0.0.1', port: 0, implicitTls: false })).port);
  try {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...ports), fc.array(piece, { maxLength: 25 }), fc.constantFrom('\r\n', '\n'), async (port, lines, end) => {
        await session(port, lines, end);
      }),
      { numRuns: 60 },
    );
    // every service still answers
    for (const port of ports) {
      const { client, greeting } = await RawSmtp.open(port);
      assert.equal(greeting.code, 220);
      assert.equal((await client.cmd('NOOP')).code, 250);
      client.close();
    }
    // whatever was stored is a whole message with its trace fields
    for (const raw of await mailboxContents(env.store, 'alice@example.org')) {
      assert.match(raw.toString('latin1'), /^Return-Path: <[^>\r\n]*>\r\nDelivered-To: alice(\+x)?@example\.org\r\nReceived: /);
    }
  } finally {
    for (const s of services) await s.close();
    await env.close();
  }
});
