/**
 * A server that is busy is not a wrong password: POP3 -ERR [IN-USE] (Dovecot with pop3_lock_session while
 * another session holds the maildrop), [LOGIN-DELAY] and [SYS/TEMP] (RFC 2449, RFC 3206) and IMAP NO
 * [UNAVAILABLE] / [INUSE] (RFC 5530) are TEMPORARY errors (retry later); [SYS/PERM] is the server's
 * failure, not AUTH either. A plain refusal stays AUTH.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { startDovecot, dovecotAvailable, type Dovecot } from '../support/dovecot.js';
import { tempProfile, engine, sampleMessage, PASSWORD_ENV } from './helpers/client.js';
import { startLineServer, type LineServer } from './helpers/line-server.js';
import { ClientError } from '../src/client/errors.js';
import type { Pop3Report } from '../src/client/pop3/fetch.js';

const skip = dovecotAvailable();

/** A raw POP3 session logged in as `user` that holds the maildrop until closed. */
async function holdMaildrop(port: number, user: string, pass: string): Promise<Socket> {
  const s = connect(port, '127.0.0.1');
  let buf = '';
  const lines: string[] = [];
  let wake: (() => void) | null = null;
  s.on('data', (d: Buffer) => {
    buf += d.toString('latin1');
    let i: number;
    while ((i = buf.indexOf('\r\n')) >= 0) {
      lines.push(buf.slice(0, i));
      buf = buf.slice(i + 2);
    }
    wake?.();
  });
  const next = async (): Promise<string> => {
    while (!lines.length) await new Promise<void>((r) => (wake = r));
    return lines.shift() as string;
  };
  assert.match(await next(), /^\+OK/);
  s.write(`USER ${user}\r\n`);
  assert.match(await next(), /^\+OK/);
  s.write(`PASS ${pass}\r\n`);
  assert.match(await next(), /^\+OK/, 'the first session logs in');
  return s;
}

describe('a busy POP3 server (Dovecot, pop3_lock_session)', { skip: skip ?? false }, () => {
  let dc: Dovecot;
  before(async () => {
    dc = await startDovecot({ users: [{ user: 'busy', password: 'pw' }], extraConfig: 'protocol pop3 {\n  pop3_lock_session = yes\n}\n' });
  });
  after(async () => {
    await dc?.stop();
  });

  test('-ERR [IN-USE] while another session holds the maildrop: TEMPORARY, not AUTH; the next run fetches', async () => {
    await dc.deliver('busy', sampleMessage('waiting'));
    const p = tempProfile();
    const e = engine(p.dir, 'pw');
    const holder = await holdMaildrop(dc.pop3Port, 'busy', 'pw');
    try {
      e.addAccount({ name: 'busy', protocol: 'pop3', host: '127.0.0.1', port: dc.pop3Port, user: 'busy', password: { kind: 'env', name: PASSWORD_ENV } });
      await assert.rejects(e.syncAccount('busy'), (err: ClientError) => {
        assert.equal(err.code, 'TEMPORARY', err.message);
        assert.match(err.message, /try again later/);
        assert.match(err.message, /IN-USE/);
        assert.doesNotMatch(err.message, /password/);
        return true;
      });
      holder.end('QUIT\r\n');
      await new Promise((r) => holder.on('close', r));
      const r = (await e.syncAccount('busy')) as Pop3Report;
      assert.equal(r.downloaded, 1);
    } finally {
      holder.destroy();
      e.close();
      p.cleanup();
    }
  });
});

/** A scripted server: the greeting, then `answer(line)` for each command line (undefined: no reply). */
function scripted(greeting: string, answer: (line: string) => string | undefined): Promise<LineServer> {
  return startLineServer((write) => {
    write(greeting);
    return (line) => {
      const a = answer(line);
      if (a !== undefined) write(a);
    };
  });
}

async function syncError(protocol: 'pop3' | 'imap', port: number): Promise<ClientError> {
  const p = tempProfile();
  const e = engine(p.dir, 'pw');
  try {
    e.addAccount({ name: 's', protocol, host: '127.0.0.1', port, user: 'u', password: { kind: 'env', name: PASSWORD_ENV } });
    let got: ClientError | undefined;
    await assert.rejects(e.syncAccount('s'), (err: ClientError) => {
      got = err;
      return err instanceof ClientError;
    });
    return got as ClientError;
  } finally {
    e.close();
    p.cleanup();
  }
}

const POP3_REFUSALS: Array<[string, ClientError['code']]> = [
  ['-ERR [SYS/TEMP] the authentication backend is down', 'TEMPORARY'],
  ['-ERR [LOGIN-DELAY] wait 5 minutes between logins', 'TEMPORARY'],
  ['-ERR [IN-USE] do you have another POP session running?', 'TEMPORARY'],
  ['-ERR [SYS/PERM] the mail store is broken', 'PROTOCOL'],
  ['-ERR [AUTH] bad password', 'AUTH'],
  ['-ERR no', 'AUTH'],
];

for (const [reply, code] of POP3_REFUSALS) {
  test(`POP3 PASS answered "${reply}": ${code}`, async () => {
    const srv = await scripted('+OK ready\r\n', (line) => {
      if (/^CAPA/i.test(line)) return '+OK\r\nUSER\r\nUIDL\r\n.\r\n';
      if (/^USER/i.test(line)) return '+OK\r\n';
      if (/^PASS/i.test(line)) return `${reply}\r\n`;
      if (/^QUIT/i.test(line)) return '+OK\r\n';
      return '-ERR\r\n';
    });
    try {
      const err = await syncError('pop3', srv.port);
      assert.equal(err.code, code, err.message);
    } finally {
      await srv.close();
    }
  });
}

for (const [reply, code] of [
  ['NO [UNAVAILABLE] the user database is unreachable', 'TEMPORARY'],
  ['NO [INUSE] mailbox in use by another session', 'TEMPORARY'],
  ['NO [AUTHENTICATIONFAILED] invalid credentials', 'AUTH'],
] as const) {
  test(`IMAP LOGIN answered "${reply}": ${code}`, async () => {
    const srv = await scripted('* OK [CAPABILITY IMAP4rev1] ready\r\n', (line) => {
      const [tag, cmd] = line.split(' ');
      if (/^CAPABILITY$/i.test(cmd ?? '')) return `* CAPABILITY IMAP4rev1\r\n${tag} OK done\r\n`;
      if (/^LOGIN$/i.test(cmd ?? '')) return `${tag} ${reply}\r\n`;
      if (/^LOGOUT$/i.test(cmd ?? '')) return `* BYE\r\n${tag} OK done\r\n`;
      return `${tag} BAD unknown\r\n`;
    });
    try {
      const err = await syncError('imap', srv.port);
      assert.equal(err.code, code, err.message);
      if (code === 'TEMPORARY') assert.doesNotMatch(err.message, /password/);
    } finally {
      await srv.close();
    }
  });
}
