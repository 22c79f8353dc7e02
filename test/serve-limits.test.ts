/**
 * Operator limits: serve's config keys and flags reach the IMAP, POP3, SMTP, LMTP and submission services
 * (through createMailroom), values below the RFC minimums are refused, and loopback connections are not
 * counted against the per-address limit while other addresses still are.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { buildServeConfig, mailroomOptions, registerServeCommand } from '../src/cli/serve.js';
import { CliError } from '../src/cli/common.js';
import { AddressCounter } from '../src/lib/connection-limit.js';
import { silentLogger } from '../src/lib/logger.js';
import { createMailroom, limitOptions, type Mailroom } from '../src/server/mailroom.js';
import { runCli } from './helpers/cli.js';
import { writeFile } from 'node:fs/promises';

/** A raw client on 127.0.0.1: collects everything received; `until` waits for a pattern. */
class Raw {
  buf = '';
  readonly sock: Socket;
  constructor(port: number) {
    this.sock = connect({ host: '127.0.0.1', port });
    this.sock.on('data', (d: Buffer) => (this.buf += d.toString('latin1')));
    this.sock.on('error', () => undefined);
  }
  async until(re: RegExp, ms = 5000): Promise<string> {
    for (let t = 0; t < ms && !re.test(this.buf); t += 10) await new Promise((r) => setTimeout(r, 10));
    assert.match(this.buf, re);
    return this.buf;
  }
  send(line: string): void {
    this.sock.write(line + '\r\n');
  }
  close(): void {
    this.sock.destroy();
  }
}

describe('AddressCounter', () => {
  test('a non-loopback address is limited; a slot freed by release can be used again', () => {
    const c = new AddressCounter(2);
    assert.equal(c.admit('203.0.113.5'), true);
    assert.equal(c.admit('203.0.113.5'), true);
    assert.equal(c.admit('203.0.113.5'), false);
    assert.equal(c.count('203.0.113.5'), 2);
    assert.equal(c.admit('2001:db8::7'), true, 'other addresses have their own count');
    assert.equal(c.admit('::ffff:198.51.100.1'), true);
    c.release('203.0.113.5');
    assert.equal(c.admit('203.0.113.5'), true);
    assert.equal(c.admit('203.0.113.5'), false);
  });

  test('loopback addresses are never counted', () => {
    const c = new AddressCounter(1);
    for (const a of ['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1']) {
      for (let i = 0; i < 5; i++) assert.equal(c.admit(a), true, a);
      assert.equal(c.count(a), 0);
      c.release(a);
      assert.equal(c.count(a), 0);
    }
  });

  test('countLoopback counts loopback like any address', () => {
    const c = new AddressCounter(1, true);
    assert.equal(c.admit('127.0.0.1'), true);
    assert.equal(c.admit('127.0.0.1'), false);
  });
});

describe('serve limit keys', () => {
  test('every limit is a serve flag', () => {
    const program = new Command();
    registerServeCommand(program);
    const serve = program.commands.find((c) => c.name() === 'serve')!;
    const known = new Set(serve.options.map((o) => o.long));
    for (const k of ['max-connections-per-ip', 'max-connections-per-user', 'imap-max-line', 'max-message-size', 'smtp-max-recipients', 'imap-idle-timeout', 'pop3-idle-timeout']) {
      assert.ok(known.has(`--${k}`), k);
    }
  });

  test('config keys (either spelling) become limits; idle timeouts are seconds; flags win', () => {
    const cfg = buildServeConfig(
      { maxMessageSize: '4096' },
      { 'max-connections-per-ip': 3, maxConnectionsPerUser: 4, 'imap-max-line': 9000, 'max-message-size': 5000, 'smtp-max-recipients': 150, 'imap-idle-timeout': 3600, 'pop3-idle-timeout': '900' },
    );
    assert.deepEqual(cfg.limits, {
      maxConnectionsPerIp: 3,
      maxConnectionsPerUser: 4,
      imapMaxLine: 9000,
      maxMessageSize: 4096,
      smtpMaxRecipients: 150,
      imapIdleTimeoutMs: 3_600_000,
      pop3IdleTimeoutMs: 900_000,
    });
    assert.deepEqual(buildServeConfig({}, {}).limits, {});
  });

  test('values below the RFC minimums and non-numbers are refused with a clear error', () => {
    const refused = (file: Record<string, unknown>, re: RegExp): void => {
      assert.throws(() => buildServeConfig({}, file), (e: unknown) => e instanceof CliError && re.test(e.message));
    };
    refused({ 'imap-idle-timeout': 1799 }, /--imap-idle-timeout: 1799 is below the minimum 1800 \(RFC 9051 section 5\.4 requires at least 30 minutes\)/);
    refused({ 'pop3-idle-timeout': 599 }, /--pop3-idle-timeout: 599 is below the minimum 600 \(RFC 1939/);
    refused({ 'smtp-max-recipients': 99 }, /--smtp-max-recipients: 99 is below the minimum 100/);
    refused({ 'imap-max-line': 8000 }, /--imap-max-line: 8000 is below the minimum 8192/);
    refused({ 'max-connections-per-ip': 0 }, /--max-connections-per-ip: 0 is below the minimum 1/);
    refused({ 'max-message-size': '10M' }, /--max-message-size: 10M \(expected a whole number\)/);
  });
});

test('mailroom serve --config refuses an imap-idle-timeout below 1800 before listening', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'mailroom-limits-'));
  try {
    const file = join(dir, 'mailroom.json');
    await writeFile(file, JSON.stringify({ 'imap-idle-timeout': 60, 'imap-port': 0 }));
    const r = await runCli(['serve', '--data', dir, '--config', file]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /invalid --imap-idle-timeout: 60 is below the minimum 1800 \(RFC 9051 section 5\.4 requires at least 30 minutes\)/);
    assert.doesNotMatch(r.stdout + r.stderr, /ready/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('limitOptions hands each limit to the services that use it', () => {
  const o = limitOptions({ maxConnectionsPerIp: 7, maxConnectionsPerUser: 3, imapMaxLine: 9000, maxMessageSize: 5000, smtpMaxRecipients: 200, imapIdleTimeoutMs: 3_600_000, pop3IdleTimeoutMs: 900_000 });
  assert.deepEqual(o.imap, { maxConnectionsPerIp: 7, maxConnectionsPerUser: 3, maxLineLength: 9000, appendLimit: 5000, idleTimeoutMs: 3_600_000 });
  assert.deepEqual(o.pop3, { maxConnectionsPerIp: 7, idleTimeoutMs: 900_000 });
  assert.deepEqual(o.delivery, { maxConnectionsPerIp: 7, maxMessageSize: 5000, maxRecipients: 200 });
  assert.deepEqual(limitOptions({}), { imap: {}, pop3: {}, delivery: {} });
});

describe('limits from a serve config reach every listener', () => {
  let m: Mailroom;
  let dir: string;
  const PER_IP = 2;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mailroom-limits-'));
    const ports = { 'imap-port': 0, 'imaps-port': 'off', 'pop3-port': 0, 'pop3s-port': 'off', 'lmtp-port': 0, 'smtp-port': 0, 'submission-port': 0, 'submissions-port': 'off', 'http-port': 'off', 'https-port': 'off', 'managesieve-port': 'off' };
    const cfg = buildServeConfig(
      {},
      { ...ports, hostname: 'mx.test', 'max-connections-per-ip': PER_IP, 'max-connections-per-user': 1, 'imap-max-line': 8192, 'max-message-size': 12345, 'smtp-max-recipients': 100 },
    );
    m = createMailroom(mailroomOptions(cfg, dir, silentLogger));
    await m.start();
    await m.addUser('alice@example.org', 'pw');
  });
  after(async () => {
    await m.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('loopback is exempt: more than the per-address limit from 127.0.0.1 are all served on each listener', async () => {
    const greetings: Record<string, RegExp> = { imap: /^\* OK /, pop3: /^\+OK /, lmtp: /^220 /, smtp: /^220 /, submission: /^220 / };
    for (const [name, re] of Object.entries(greetings)) {
      const port = m.ports[name as keyof typeof m.ports]!;
      const conns = Array.from({ length: PER_IP + 3 }, () => new Raw(port));
      try {
        for (const c of conns) await c.until(re);
      } finally {
        for (const c of conns) c.close();
      }
    }
  });

  test('max-message-size is APPENDLIMIT in CAPABILITY and SIZE in EHLO/LHLO', async () => {
    const imap = new Raw(m.ports.imap!);
    try {
      imap.send('a CAPABILITY');
      assert.match(await imap.until(/a OK/), /^\* CAPABILITY .*\bAPPENDLIMIT=12345\b/m);
    } finally {
      imap.close();
    }
    for (const [name, hello] of [['smtp', 'EHLO'], ['submission', 'EHLO'], ['lmtp', 'LHLO']] as const) {
      const c = new Raw(m.ports[name]!);
      try {
        await c.until(/^220 /);
        c.send(`${hello} client.test`);
        assert.match(await c.until(/^250 /m), /^250[- ]SIZE 12345\r$/m, name);
      } finally {
        c.close();
      }
    }
  });

  test('imap-max-line bounds the IMAP command line', async () => {
    const c = new Raw(m.ports.imap!);
    try {
      await c.until(/^\* OK /);
      c.send(`a NOOP ${'x'.repeat(8200)}`);
      await c.until(/BAD Command line too long/);
    } finally {
      c.close();
    }
  });

  test('max-connections-per-user caps IMAP sessions of one user', async () => {
    const a = new Raw(m.ports.imap!);
    const b = new Raw(m.ports.imap!);
    try {
      a.send('a LOGIN alice@example.org pw');
      await a.until(/^a OK/m);
      b.send('b LOGIN alice@example.org pw');
      await b.until(/^b NO \[LIMIT\]/m);
    } finally {
      a.close();
      b.close();
    }
  });

  test('smtp-max-recipients bounds the recipients of an LMTP transaction', async () => {
    const c = new Raw(m.ports.lmtp!);
    try {
      await c.until(/^220 /);
      c.send('LHLO client.test');
      await c.until(/^250 /m);
      const before = c.buf.length;
      c.send('MAIL FROM:<a@remote.test>');
      for (let i = 0; i < 101; i++) c.send(`RCPT TO:<alice+${i}@example.org>`);
      for (let t = 0; t < 5000 && (c.buf.slice(before).match(/\r\n/g) ?? []).length < 102; t += 10) await new Promise((r) => setTimeout(r, 10));
      const replies = c.buf.slice(before).split('\r\n').filter(Boolean).slice(1);
      assert.equal(replies.length, 101);
      assert.ok(replies.slice(0, 100).every((r) => r.startsWith('250')), replies.slice(0, 3).join('|'));
      assert.match(replies[100]!, /^452 /);
    } finally {
      c.close();
    }
  });
});
