/**
 * A short random soak of LMTP, SMTP (MX) and submission: sessions of 30 commands drawn from the real ones,
 * with junk octets appended or in their place, odd line ends and DATA bodies that end or do not. Every line
 * the server sends is a well-formed reply, every session ends, and a normal delivery works afterwards.
 * The sequence is fixed by a seed (SMTP_SOAK_SEED to vary it).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { createMailroom, type Mailroom } from '../src/server/mailroom.js';
import { RawSmtp } from './delivery/helpers.js';

let m: Mailroom;
before(async () => {
  m = createMailroom({ ports: { lmtp: 0, smtp: 0, submission: 0 }, auth: { failureDelayMs: 0 }, hostname: 'mx.example.org', mailAuth: { checks: false } });
  await m.start();
  await m.addUser('alice@example.org', 'pw');
});
after(async () => {
  await m.stop();
});

const COMMANDS = [
  'LHLO x', 'EHLO x', 'HELO x', 'MAIL FROM:<bob@example.net>', 'MAIL FROM:<>', 'MAIL FROM:<alice@example.org>', 'RCPT TO:<alice@example.org>',
  'RCPT TO:<Postmaster>', 'RCPT TO:<x@remote.test>', 'DATA', 'RSET', 'NOOP', 'QUIT', 'VRFY alice', 'STARTTLS',
  `AUTH PLAIN ${Buffer.from('\0alice@example.org\0pw').toString('base64')}`, 'AUTH LOGIN', 'BDAT 10 LAST', 'BURL imap://x LAST',
  'MAIL FROM:<a@b> SIZE=99999999999999999999', 'MAIL FROM:<a@b> BODY=BINARYMIME', 'RCPT TO:<a@b> NOTIFY=NEVER', 'RCPT TO:<@a,@b:c@d>', '*', '.', '',
];

function random(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    return s / 0x7fffffff;
  };
}

/** One session of random commands; resolves with everything the server sent once the connection is closed. */
function session(port: number, rnd: () => number): Promise<string> {
  const pick = <T>(a: readonly T[]): T => a[Math.floor(rnd() * a.length)]!;
  const junk = (): string => Array.from({ length: Math.floor(rnd() * 40) }, () => String.fromCharCode(Math.floor(rnd() * 256))).join('');
  const script: Buffer[] = [];
  for (let i = 0; i < 30; i++) {
    let c = pick(COMMANDS);
    const r = rnd();
    if (r < 0.2) c += ' ' + junk();
    else if (r < 0.3) c = junk();
    else if (r < 0.35) c = c.toLowerCase();
    const end = rnd() < 0.9 ? '\r\n' : pick(['\n', '\r', '\r\n.\r\n', '']);
    let bytes = c + end;
    if (c === 'DATA' && rnd() < 0.7) bytes += `Subject: soak\r\n\r\n${junk()}\r\n..x\r\n${rnd() < 0.8 ? '.\r\n' : ''}`;
    script.push(Buffer.from(bytes, 'latin1'));
  }
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    let text = '';
    socket.on('error', () => undefined);
    socket.on('close', () => resolve(text));
    socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
    socket.once('data', () => {
      void (async () => {
        for (const b of script) {
          if (socket.destroyed) return;
          socket.write(b);
          if (rnd() < 0.5) await new Promise((r) => setTimeout(r, 2));
        }
        setTimeout(() => socket.destroy(), 100);
      })();
    });
    setTimeout(() => socket.destroy(), 5000);
  });
}

test('random sessions on LMTP, SMTP and submission: only well-formed replies, and delivery still works', { timeout: 60_000 }, async () => {
  const rnd = random(Number(process.env['SMTP_SOAK_SEED'] ?? 7));
  const ports = [m.ports.lmtp!, m.ports.smtp!, m.ports.submission!];
  let lines = 0;
  for (let round = 0; round < 40; round++) {
    const texts = await Promise.all(ports.map((p) => session(p, rnd)));
    for (const t of texts) {
      const got = t.split('\r\n').slice(0, -1);
      assert.ok(got.length > 0 && got[0]!.startsWith('220 '), `greeting: ${JSON.stringify(t.slice(0, 80))}`);
      for (const l of got) assert.match(l, /^[2-5]\d\d[ -]/, `reply line ${JSON.stringify(l)}`);
      lines += got.length;
    }
  }
  assert.ok(lines > 1000, String(lines));
  const { client: c } = await RawSmtp.open(m.ports.lmtp!);
  await c.cmd('LHLO client.test');
  assert.equal((await c.cmd('MAIL FROM:<bob@example.net>')).code, 250);
  assert.equal((await c.cmd('RCPT TO:<alice@example.org>')).code, 250);
  assert.equal((await c.data('Subject: after the soak\r\n\r\nhello\r\n')).code, 250);
  c.close();
});
