/**
 * A tiny scriptable POP3 server for client tests (RFC 1939 + CAPA/UIDL/TOP/AUTH PLAIN/APOP), with
 * failure injection: drop the connection in the middle of a RETR, or hide UIDL.
 */
import { createServer, type Server, type Socket, type AddressInfo } from 'node:net';
import { createHash } from 'node:crypto';
import { dotStuffAll } from '../../src/lib/dotstuff.js';

export interface FakePop3Options {
  user: string;
  password: string;
  messages: Array<{ uidl: string; raw: Buffer }>;
  uidl?: boolean;
  apop?: boolean;
  saslPlain?: boolean;
  /** Announce PIPELINING (RFC 2449), so the client pipelines RETR/DELE. */
  pipelining?: boolean;
  /** Drop the connection after sending half of this message number's RETR response (once per entry). */
  dropInRetr?: number[];
  /** false: no TOP (not in CAPA, and the command is refused), as RFC 1939 allows. */
  top?: boolean;
  /** Number the maildrop in reverse order of arrival (message numbers change between sessions, UIDLs do not). */
  reverse?: boolean;
  /** Send RETR responses in writes of this many bytes, one per event-loop turn (odd chunk boundaries). */
  splitWrites?: number;
}

export interface FakePop3 {
  port: number;
  /** Messages still in the maildrop (deletions are committed at QUIT only). */
  messages: Array<{ uidl: string; raw: Buffer }>;
  /** Every command received, passwords masked. */
  log: string[];
  retrCount: Map<string, number>;
  close(): Promise<void>;
}

export async function startFakePop3(opts: FakePop3Options): Promise<FakePop3> {
  const state: FakePop3 = { port: 0, messages: [...opts.messages], log: [], retrCount: new Map(), close: async () => undefined };
  const drops = [...(opts.dropInRetr ?? [])];
  const sockets = new Set<Socket>();
  const server: Server = createServer((sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => undefined);
    const stamp = `<${process.pid}.${Date.now()}@fake.test>`;
    let authed = false;
    let dead = false;
    let pendingUser: string | null = null;
    const snapshot = opts.reverse ? [...state.messages].reverse() : [...state.messages];
    const deleted = new Set<number>();
    const send = (s: string | Buffer): void => {
      sock.write(s);
    };
    send(`+OK fake POP3 ready${opts.apop ? ' ' + stamp : ''}\r\n`);
    let buf = '';
    sock.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      let i: number;
      while (!dead && (i = buf.indexOf('\r\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 2);
        handle(line);
      }
    });
    const live = (): Array<{ n: number; m: { uidl: string; raw: Buffer } }> => snapshot.map((m, k) => ({ n: k + 1, m })).filter((x) => !deleted.has(x.n));
    const get = (arg: string | undefined): { uidl: string; raw: Buffer } | null => {
      const n = Number(arg);
      if (!Number.isInteger(n) || n < 1 || n > snapshot.length || deleted.has(n)) return null;
      return snapshot[n - 1] ?? null;
    };
    const handle = (line: string): void => {
      const [cmdRaw, ...args] = line.split(' ');
      const cmd = (cmdRaw ?? '').toUpperCase();
      state.log.push(cmd === 'PASS' || cmd === 'AUTH' || cmd === 'APOP' ? `${cmd} ***` : line);
      if (cmd === 'CAPA') {
        const caps = [...(opts.top === false ? [] : ['TOP']), 'USER', ...(opts.uidl === false ? [] : ['UIDL']), ...(opts.saslPlain ? ['SASL PLAIN'] : []), ...(opts.pipelining ? ['PIPELINING'] : [])];
        send(`+OK\r\n${caps.join('\r\n')}\r\n.\r\n`);
        return;
      }
      if (cmd === 'QUIT') {
        if (authed) state.messages = state.messages.filter((m) => !snapshot.some((s, k) => deleted.has(k + 1) && s === m));
        send('+OK bye\r\n');
        sock.end();
        return;
      }
      if (!authed) {
        if (cmd === 'USER') {
          pendingUser = args[0] ?? '';
          send('+OK\r\n');
        } else if (cmd === 'PASS') {
          if (pendingUser === opts.user && args.join(' ') === opts.password) {
            authed = true;
            send('+OK logged in\r\n');
          } else send('-ERR [AUTH] invalid\r\n');
        } else if (cmd === 'APOP' && opts.apop) {
          const want = createHash('md5').update(stamp + opts.password).digest('hex');
          if (args[0] === opts.user && args[1] === want) {
            authed = true;
            send('+OK\r\n');
          } else send('-ERR [AUTH] invalid\r\n');
        } else if (cmd === 'AUTH' && opts.saslPlain && (args[0] ?? '').toUpperCase() === 'PLAIN') {
          const parts = Buffer.from(args[1] ?? '', 'base64').toString('utf8').split('\u0000');
          if (parts[1] === opts.user && parts[2] === opts.password) {
            authed = true;
            send('+OK\r\n');
          } else send('-ERR [AUTH] invalid\r\n');
        } else send('-ERR not authenticated\r\n');
        return;
      }
      switch (cmd) {
        case 'STAT':
          send(`+OK ${live().length} ${live().reduce((n, x) => n + x.m.raw.length, 0)}\r\n`);
          return;
        case 'LIST':
          send(`+OK\r\n${live().map((x) => `${x.n} ${x.m.raw.length}\r\n`).join('')}.\r\n`);
          return;
        case 'UIDL':
          if (opts.uidl === false) send('-ERR no UIDL here\r\n');
          else send(`+OK\r\n${live().map((x) => `${x.n} ${x.m.uidl}\r\n`).join('')}.\r\n`);
          return;
        case 'RETR':
        case 'TOP': {
          if (cmd === 'TOP' && opts.top === false) return send('-ERR unknown command\r\n');
          const m = get(args[0]);
          if (!m) return send('-ERR no such message\r\n');
          let body = m.raw;
          if (cmd === 'TOP') body = body.subarray(0, body.indexOf('\r\n\r\n') + 4);
          // RFC 1939: the multi-line response ends with CRLF "." CRLF, so the body must end with CRLF.
          if (body.length && !body.subarray(-2).equals(Buffer.from('\r\n'))) body = Buffer.concat([body, Buffer.from('\r\n')]);
          else state.retrCount.set(m.uidl, (state.retrCount.get(m.uidl) ?? 0) + 1);
          const payload = Buffer.concat([Buffer.from('+OK\r\n'), dotStuffAll([body])]);
          const di = cmd === 'RETR' ? drops.indexOf(Number(args[0])) : -1;
          if (di >= 0) {
            drops.splice(di, 1);
            dead = true; // a dropped connection sends nothing more, even for commands already pipelined
            sock.write(payload.subarray(0, Math.floor(payload.length / 2)), () => sock.destroy());
            return;
          }
          if (opts.splitWrites) {
            sock.setNoDelay(true);
            const step = opts.splitWrites;
            const next = (at: number): void => {
              if (at >= payload.length || sock.destroyed) return;
              sock.write(payload.subarray(at, at + step));
              setImmediate(() => next(at + step));
            };
            next(0);
            return;
          }
          send(payload);
          return;
        }
        case 'DELE': {
          const n = Number(args[0]);
          if (!get(args[0])) return send('-ERR no such message\r\n');
          deleted.add(n);
          send('+OK deleted\r\n');
          return;
        }
        case 'NOOP':
          send('+OK\r\n');
          return;
        case 'RSET':
          deleted.clear();
          send('+OK\r\n');
          return;
        default:
          send('-ERR unknown command\r\n');
      }
    };
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  state.port = (server.address() as AddressInfo).port;
  state.close = () =>
    new Promise<void>((r) => {
      for (const s of sockets) s.destroy();
      server.close(() => r());
    });
  return state;
}
