/**
 * Differential IMAP testing, mailroom against Dovecot: both servers run side by side, each case gets its
 * own user on both (so cases never see each other's mailboxes), the same seed messages are appended over
 * IMAP to both, and the same raw bytes are sent to both. What is compared is the outcome of each tagged
 * command (status and response code), whether the server said BYE or closed the connection, and, when
 * the case asks, the mailbox state afterwards as seen through LIST / STATUS from a fresh connection.
 */
import { Socket, connect } from 'node:net';
import { startDovecot, type Dovecot } from '../support/dovecot.js';
import { SIMPLE_MESSAGE, startImap, type ImapFixture } from './imap-helpers.js';
import { hashPassword } from '../src/auth/index.js';

export const DIFF_PASSWORD = 'secret';

/** N: not authenticated, A: authenticated, S: a mailbox "box" with the seed messages selected, E: an empty mailbox "empty" selected. */
export type DiffState = 'N' | 'A' | 'S' | 'E';

export interface Outcome {
  /** Per tagged command sent: "OK", "NO [TRYCREATE]", "BAD", … ("-" when no tagged reply came). */
  tagged: string[];
  /** An untagged BYE was sent. */
  bye: boolean;
  /** The connection was still usable afterwards (a NOOP got its OK). */
  alive: boolean;
  /** The raw response text (latin1), for messages. */
  raw: string;
}

/** A tiny raw client: writes bytes, collects what comes back. */
export class DiffClient {
  readonly socket: Socket;
  buf = Buffer.alloc(0);
  ended = false;
  #waiters: Array<() => void> = [];

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.#wake();
    });
    const end = (): void => {
      this.ended = true;
      this.#wake();
    };
    socket.on('end', end);
    socket.on('close', end);
    socket.on('error', () => undefined);
  }

  static async open(port: number): Promise<DiffClient> {
    const s = connect({ host: '127.0.0.1', port });
    await new Promise<void>((resolve, reject) => {
      s.once('connect', resolve);
      s.once('error', reject);
    });
    const c = new DiffClient(s);
    await c.until((t) => t.includes('\r\n'));
    c.take();
    return c;
  }

  #wake(): void {
    const w = this.#waiters;
    this.#waiters = [];
    for (const f of w) f();
  }

  text(): string {
    return this.buf.toString('latin1');
  }

  take(): string {
    const t = this.text();
    this.buf = Buffer.alloc(0);
    return t;
  }

  /** Waits until pred(text) holds or the connection ends; false when it ended (or timed out) first. */
  async until(pred: (t: string) => boolean, timeoutMs = 20_000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (pred(this.text())) return true;
      if (this.ended) return false;
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  write(b: Buffer | string): void {
    if (!this.ended) this.socket.write(typeof b === 'string' ? Buffer.from(b, 'latin1') : b);
  }

  /** Sends "TAG cmd\r\n" and waits for the tagged reply; returns the whole response. */
  async cmd(tag: string, cmd: string): Promise<string> {
    this.write(`${tag} ${cmd}\r\n`);
    await this.until((t) => tagged(t, tag) !== null);
    return this.take();
  }

  close(): void {
    this.socket.destroy();
  }
}

const esc = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** "OK", "NO [CODE]" … of the tagged reply for tag in text, or null. */
export function tagged(text: string, tag: string): string | null {
  const m = new RegExp(`(?:^|\\r\\n)${esc(tag)} (OK|NO|BAD)(?: \\[([^\\]\\s]+)[^\\]]*\\])?`).exec(text);
  if (!m) return null;
  return m[2] ? `${m[1]} [${m[2].toUpperCase()}]` : m[1]!;
}

/** One step: bytes to write, and the tags whose tagged replies end it (none: the connection must close, or the step only writes). */
export interface Step {
  send: string | Buffer;
  tags?: string[];
  /** Wait for a "+" continuation (instead of tags) before the next step. */
  cont?: boolean;
  /** Write and then half-close the socket (the server sees EOF). */
  endAfter?: boolean;
}

export interface Server {
  name: 'mailroom' | 'dovecot';
  port: number;
  /** The login name of case user i. */
  user(i: number): string;
}

const SEED_DATE = '"07-Feb-1994 21:52:25 -0800"';

export const SEED: Array<{ flags: string; raw: string }> = [
  {
    flags: '(\\Seen)',
    raw: SIMPLE_MESSAGE,
  },
  {
    flags: '()',
    raw: [
      'MIME-Version: 1.0',
      'Message-ID: <mp@example.org>',
      'Subject: =?utf-8?q?Caf=C3=A9?=',
      'From: "Smith, John" <john@example.org>',
      'To: undisclosed-recipients:;',
      'Content-Type: multipart/mixed; boundary="XX"',
      '',
      'This is a multi-part message.',
      '--XX',
      'Content-Type: text/plain; charset=utf-8',
      'Content-Transfer-Encoding: quoted-printable',
      '',
      'Caf=C3=A9 =3D ok',
      '--XX',
      'Content-Type: application/octet-stream',
      'Content-Transfer-Encoding: base64',
      '',
      'AAECAwQF',
      '--XX',
      'Content-Type: text/plain',
      'Content-Transfer-Encoding: base64',
      '',
      'not base64 at all!!',
      '--XX',
      'Content-Type: message/rfc822',
      '',
      'Subject: inner',
      'Content-Type: multipart/alternative; boundary=YY',
      '',
      '--YY',
      'Content-Type: text/plain',
      '',
      'inner text',
      '--YY--',
      '--XX--',
      '',
    ].join('\r\n'),
  },
  { flags: '(\\Flagged $Label)', raw: 'Subject: Third\r\nFrom: c@example.org\r\n\r\nthird body\r\n' },
];

/** Logs in as case user i, and brings the connection into the state. */
export async function prepare(srv: Server, i: number, state: DiffState): Promise<DiffClient> {
  const c = await DiffClient.open(srv.port);
  if (state === 'N') return c;
  const r = await c.cmd('p0', `LOGIN "${srv.user(i)}" "${DIFF_PASSWORD}"`);
  if (!tagged(r, 'p0')?.startsWith('OK')) throw new Error(`${srv.name}: login failed: ${r}`);
  if (state === 'S') {
    assertOk(srv, await c.cmd('p1', 'CREATE box'), 'p1');
    for (const [n, m] of SEED.entries()) {
      c.write(`p2${n} APPEND box ${m.flags} ${SEED_DATE} {${Buffer.byteLength(m.raw)}+}\r\n`);
      c.write(Buffer.from(m.raw + '\r\n', 'utf8'));
      await c.until((t) => tagged(t, `p2${n}`) !== null);
      assertOk(srv, c.take(), `p2${n}`);
    }
    assertOk(srv, await c.cmd('p3', 'SELECT box'), 'p3');
  } else if (state === 'E') {
    assertOk(srv, await c.cmd('p1', 'CREATE empty'), 'p1');
    assertOk(srv, await c.cmd('p3', 'SELECT empty'), 'p3');
  }
  return c;
}

function assertOk(srv: Server, r: string, tag: string): void {
  if (!tagged(r, tag)?.startsWith('OK')) throw new Error(`${srv.name}: setup ${tag} failed: ${r}`);
}

/** Runs the steps on a prepared connection; then probes with NOOP when the connection is still open. */
export async function runSteps(c: DiffClient, steps: Step[]): Promise<Outcome> {
  const out: string[] = [];
  let raw = '';
  for (const s of steps) {
    c.write(s.send);
    if (s.endAfter) c.socket.end();
    if (s.cont) {
      await c.until((t) => /(^|\r\n)\+/.test(t) || /(^|\r\n)\S+ (OK|NO|BAD)/.test(t));
    } else if (s.tags?.length) {
      const want = s.tags;
      await c.until((t) => want.every((tag) => tagged(t, tag) !== null) || /(^|\r\n)\* BYE/.test(t));
      // a BYE may come just before the close: give the close a chance to arrive
      if (/(^|\r\n)\* BYE/.test(c.text()) && !want.every((tag) => tagged(c.text(), tag) !== null)) await c.until(() => false, 3000);
      for (const tag of want) out.push(tagged(c.text(), tag) ?? '-');
    } else {
      await c.until(() => false, 3000);
    }
    raw += c.take();
  }
  const bye = /(^|\r\n)\* BYE/.test(raw);
  let alive = false;
  if (!c.ended) {
    c.write('zz NOOP\r\n');
    alive = await c.until((t) => tagged(t, 'zz')?.startsWith('OK') === true, 5000);
    raw += c.take();
  }
  c.close();
  return { tagged: out, bye, alive, raw };
}

/** Both servers with `count` case users each. */
export async function startBoth(count: number): Promise<{ mailroom: Server; dovecot: Server; dc: Dovecot; mr: ImapFixture; stop(): Promise<void> }> {
  const name = (i: number): string => `c${i}@example.org`;
  const users = Array.from({ length: count }, (_, i) => ({ user: name(i), password: DIFF_PASSWORD }));
  const dc = await startDovecot({ users });
  const mr = await startImap();
  const hash = await hashPassword(DIFF_PASSWORD);
  for (let i = 0; i < count; i++) await mr.store.directory.createUser(name(i), hash);
  return {
    mailroom: { name: 'mailroom', port: mr.port, user: name },
    dovecot: { name: 'dovecot', port: dc.imapPort, user: name },
    dc,
    mr,
    async stop() {
      await mr.close();
      await dc.stop();
    },
  };
}

/** LIST "" "*" from a fresh connection, without Dovecot's auto-created special-use folders: sorted "name attrs". */
export async function listState(srv: Server, i: number): Promise<string[]> {
  const c = await prepare(srv, i, 'A');
  const r = await c.cmd('l1', 'LIST "" "*"');
  c.close();
  const out: string[] = [];
  for (const m of r.matchAll(/^\* LIST \(([^)]*)\) (?:"."|NIL) ("(?:[^"\\]|\\.)*"|\S+|\{\d+\}\r\n[^\r\n]*)\r\n/gm)) {
    let n = m[2]!;
    if (n.startsWith('"')) n = n.slice(1, -1).replace(/\\(.)/g, '$1');
    else if (n.startsWith('{')) n = n.slice(n.indexOf('\n') + 1);
    if (['Sent', 'Trash', 'Drafts', 'Junk', 'Archive'].includes(n)) continue;
    const attrs = m[1]!
      .split(' ')
      .filter((a) => /^\\(HasChildren|HasNoChildren|Noselect|NonExistent)$/i.test(a))
      .map((a) => a.toLowerCase())
      .sort()
      .join(' ');
    out.push(`${n} ${attrs}`.trim());
  }
  return out.sort();
}

/** MESSAGES of a mailbox by STATUS from a fresh connection ("NO" when it does not exist). */
export async function messageCount(srv: Server, i: number, mailbox: string): Promise<string> {
  const c = await prepare(srv, i, 'A');
  const r = await c.cmd('s1', `STATUS ${mailbox} (MESSAGES)`);
  c.close();
  const m = /MESSAGES (\d+)/.exec(r);
  return m ? m[1]! : (tagged(r, 's1') ?? '-');
}

/** One differential case: the state to start in, the commands (one per line, the tag first) or raw steps. */
export interface DiffCase {
  s: DiffState;
  l: Array<string | Step>;
  /** Also compare the mailbox list afterwards (listState). */
  list?: boolean;
  /** Also compare the SEARCH / ESEARCH / SORT / FETCH lines (TAG, UID, \Recent and MODSEQ left out). */
  out?: boolean;
  /** A known difference: what each server answers, and why mailroom keeps its answer. */
  differs?: { mailroom: string; dovecot: string; why: string };
}

const toSteps = (l: Array<string | Step>): Step[] =>
  l.map((x) => (typeof x === 'string' ? { send: Buffer.from(x + '\r\n', 'latin1'), tags: [x.split(' ')[0]!] } : x));

/**
 * Runs a case as user i of srv and sums it up in one line: the tagged statuses (response codes of OK left
 * out: Dovecot 2.3 sends no MAILBOXID), " BYE" and " closed" when so, then " | " and the compared state.
 */
export async function runCase(srv: Server, i: number, k: DiffCase): Promise<{ text: string; raw: string }> {
  const c = await prepare(srv, i, k.s);
  const o = await runSteps(c, toSteps(k.l));
  let text = `${o.tagged.map((x) => (x.startsWith('OK') ? 'OK' : x)).join(',')}${o.bye ? ' BYE' : ''}${o.alive ? '' : ' closed'}`;
  if (k.out) {
    const lines = o.raw
      .split('\r\n')
      .filter((x) => /^\* (SEARCH|ESEARCH|SORT|\d+ FETCH)/.test(x))
      .map((x) => x.replace(/\(TAG "[^"]*"\) ?/, '').replace(/ (UID \d+|\\Recent|MODSEQ \(\d+\))/g, '').trim());
    if (lines.length) text += ' | ' + lines.join(' / ');
  }
  if (k.list) text += ' | ' + (await listState(srv, i)).join('; ');
  return { text, raw: o.raw };
}
