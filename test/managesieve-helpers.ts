/**
 * A raw ManageSieve test client (RFC 5804) over a loopback socket: sends command lines (and literals) as
 * given and reads one complete response (data lines, literals included, up to the OK/NO/BYE line).
 */
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import type { Socket } from 'node:net';
import { connectLoopback, SocketReader } from './helpers/server-fixture.js';

export interface MsResponse {
  /** Data lines before the status line, literals inlined (their bytes as UTF-8). */
  lines: string[];
  /** The status line: OK/NO/BYE with code and text, literal text inlined. */
  status: string;
}

export class SieveClient extends SocketReader {
  /** Reads one line, with any literal {n} at its end inlined (repeatedly). */
  async fullLine(): Promise<string> {
    let line = await this.line();
    for (;;) {
      const m = /\{(\d+)\}$/.exec(line);
      if (!m) return line;
      const n = Number(m[1]);
      while (this.buf.length < n) await this.needMore();
      const data = this.buf.subarray(0, n).toString('utf8');
      this.buf = this.buf.subarray(n);
      line = line.slice(0, m.index) + data + (await this.line());
    }
  }

  async response(): Promise<MsResponse> {
    const lines: string[] = [];
    for (;;) {
      const l = await this.fullLine();
      if (/^(OK|NO|BYE)\b/.test(l)) return { lines, status: l };
      lines.push(l);
    }
  }

  async cmd(text: string | Buffer): Promise<MsResponse> {
    this.socket.write(typeof text === 'string' ? `${text}\r\n` : text);
    return this.response();
  }

  /** Resolves once the server has closed the connection. */
  async closed(): Promise<void> {
    await this.untilEnded();
  }

  /** Upgrades with STARTTLS (after its OK was read); returns the client on the TLS socket. */
  async startTls(): Promise<SieveClient> {
    const tls: TLSSocket = tlsConnect({ socket: this.socket as Socket, rejectUnauthorized: false });
    await new Promise<void>((resolve, reject) => {
      tls.once('secureConnect', resolve);
      tls.once('error', reject);
    });
    return new SieveClient(tls);
  }
}

export async function sieveConnect(port: number): Promise<{ c: SieveClient; greeting: MsResponse }> {
  const c = new SieveClient(await connectLoopback(port));
  return { c, greeting: await c.response() };
}

export function plain(user: string, password: string): string {
  return Buffer.from(`\0${user}\0${password}`, 'utf8').toString('base64');
}

/** A literal argument: {n+} CRLF bytes. */
export function literal(s: string, sync = false): string {
  return `{${Buffer.byteLength(s, 'utf8')}${sync ? '' : '+'}}\r\n${s}`;
}
