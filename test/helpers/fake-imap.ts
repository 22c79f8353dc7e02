/**
 * A small stateful IMAP4rev1 server on loopback for scripted client tests: folders of messages held in
 * memory, enough of RFC 3501 for the client's sync (LOGIN, LIST/LSUB, SELECT/EXAMINE, UID FETCH of flags,
 * the header overview, bodies and partial bodies, UID SEARCH, UID STORE, EXPUNGE/UID EXPUNGE, UID MOVE,
 * UID COPY) and optionally OBJECTID (RFC 8474: EMAILID). Every command line goes first through `hook`,
 * which may answer it itself (a refusal, a malformed reply, a closed connection) or let the normal answer
 * through, possibly edited. `log` holds the command lines received (passwords masked).
 */
import type { Socket } from 'node:net';
import { startLineServer, type LineServer, type LineWriter } from './line-server.js';

export interface FakeMessage {
  uid: number;
  flags: Set<string>;
  raw: Buffer;
  internalDate: string;
  emailId: string;
}

export interface FakeFolder {
  uidValidity: number;
  uidNext: number;
  messages: FakeMessage[];
}

/** What a hook sees of one command; `normal()` builds (and applies) the regular answer. */
export interface HookCall {
  tag: string;
  /** Upper-case command, with UID joined: "UID FETCH", "SELECT", "LOGIN". */
  cmd: string;
  args: string;
  line: string;
  selected: string | null;
  server: FakeImap;
  normal: () => string | Buffer;
  sock: Socket;
}

/** A reply to write (string or bytes), 'close' to drop the connection at once, undefined for the normal answer. */
export type HookResult = string | Buffer | Array<string | Buffer> | 'close' | undefined;

export interface FakeImapOptions {
  caps?: string[];
  hook?: (c: HookCall) => HookResult;
}

export interface FakeImap extends LineServer {
  folders: Map<string, FakeFolder>;
  log: string[];
  /** Adds a message to a folder (created when missing); returns its UID. */
  add(folder: string, raw: Buffer, opts?: { flags?: string[]; internalDate?: string; emailId?: string }): number;
  /** Moves a message as another client's UID MOVE would (same bytes, date and EMAILID, a new UID). */
  move(from: string, uid: number, to: string): number;
  hook: ((c: HookCall) => HookResult) | undefined;
}

let emailIds = 0;

function header(raw: Buffer, name: string): string | null {
  const head = raw.toString('latin1').split('\r\n\r\n')[0] ?? '';
  const m = new RegExp(`^${name}:[ \\t]*(.*)$`, 'im').exec(head);
  return m ? (m[1] as string).trim() : null;
}

const quote = (s: string | null): string => (s === null ? 'NIL' : `"${s.replace(/[\\"]/g, (c) => `\\${c}`)}"`);

/** UIDs of a UID set ("1:4,7,9:*") among `have`. */
export function parseUidSet(set: string, have: number[]): number[] {
  const max = have.length ? Math.max(...have) : 0;
  const out = new Set<number>();
  for (const part of set.split(',')) {
    const [a, b] = part.split(':');
    const lo = a === '*' ? max : Number(a);
    const hi = b === undefined ? lo : b === '*' ? max : Number(b);
    for (const u of have) if (u >= Math.min(lo, hi) && u <= Math.max(lo, hi)) out.add(u);
  }
  return [...out].sort((x, y) => x - y);
}

export async function startFakeImap(opts: FakeImapOptions = {}): Promise<FakeImap> {
  const folders = new Map<string, FakeFolder>();
  const log: string[] = [];
  const caps = ['IMAP4rev1', ...(opts.caps ?? ['UIDPLUS', 'MOVE'])].join(' ');
  const folder = (name: string): FakeFolder => {
    let f = folders.get(name);
    if (!f) folders.set(name, (f = { uidValidity: 100 + folders.size, uidNext: 1, messages: [] }));
    return f;
  };
  folder('INBOX');
  const api: Omit<FakeImap, 'port' | 'close'> = {
    folders,
    log,
    hook: opts.hook,
    add(name, raw, o = {}) {
      const f = folder(name);
      const uid = f.uidNext++;
      f.messages.push({ uid, raw, flags: new Set(o.flags ?? []), internalDate: o.internalDate ?? '07-Dec-2026 10:00:00 +0000', emailId: o.emailId ?? `M${++emailIds}` });
      return uid;
    },
    move(from, uid, to) {
      const src = folder(from);
      const m = src.messages.find((x) => x.uid === uid);
      if (!m) throw new Error(`no UID ${uid} in ${from}`);
      src.messages = src.messages.filter((x) => x !== m);
      const dst = folder(to);
      const nu = dst.uidNext++;
      dst.messages.push({ ...m, uid: nu, flags: new Set(m.flags) });
      return nu;
    },
  };

  const srv = await startLineServer((w: LineWriter, sock) => {
    let selected: string | null = null;
    w(`* OK [CAPABILITY ${caps}] fake server ready\r\n`);

    const overview = (m: FakeMessage, seq: number, items: string[]): string | Buffer[] => {
      const parts: Array<string | Buffer> = [];
      let text = `* ${seq} FETCH (UID ${m.uid}`;
      for (const it of items) {
        if (it === 'FLAGS') text += ` FLAGS (${[...m.flags].join(' ')})`;
        else if (it === 'RFC822.SIZE') text += ` RFC822.SIZE ${m.raw.length}`;
        else if (it === 'INTERNALDATE') text += ` INTERNALDATE "${m.internalDate}"`;
        else if (it === 'EMAILID') text += ` EMAILID (${m.emailId})`;
        else if (it === 'ENVELOPE') {
          const e = [header(m.raw, 'Date'), header(m.raw, 'Subject')].map(quote).join(' ');
          text += ` ENVELOPE (${e} NIL NIL NIL NIL NIL NIL NIL ${quote(header(m.raw, 'Message-ID'))})`;
        } else if (it === 'BODYSTRUCTURE') text += ` BODYSTRUCTURE ("TEXT" "PLAIN" NIL NIL NIL "7BIT" ${m.raw.length} 1)`;
        else if (/^BODY\.PEEK\[\]/.test(it) || it === 'BODY[]' || it === 'RFC822') {
          const part = /<(\d+)\.(\d+)>/.exec(it);
          const start = part ? Number(part[1]) : 0;
          const bytes = part ? m.raw.subarray(start, start + Number(part[2])) : m.raw;
          parts.push(`${text} BODY[]${part ? `<${start}>` : ''} {${bytes.length}}\r\n`, bytes);
          text = '';
        }
      }
      parts.push(`${text})\r\n`);
      return parts.length === 1 ? (parts[0] as string) : (parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : p)) as Buffer[]);
    };

    const normal = (tag: string, cmd: string, args: string): string | Buffer => {
      const ok = (s = ''): string => `${s}${tag} OK done\r\n`;
      const cur = selected ? folder(selected) : null;
      const uidsOf = (f: FakeFolder): number[] => f.messages.map((m) => m.uid);
      switch (cmd) {
        case 'LOGIN':
          return `${tag} OK [CAPABILITY ${caps}] logged in\r\n`;
        case 'CAPABILITY':
          return ok(`* CAPABILITY ${caps}\r\n`);
        case 'LIST':
        case 'LSUB':
          if (/ ""$/.test(args)) return ok(`* ${cmd} (\\Noselect) "/" ""\r\n`);
          return ok([...folders.keys()].map((n) => `* ${cmd} (\\HasNoChildren) "/" "${n}"\r\n`).join(''));
        case 'SELECT':
        case 'EXAMINE': {
          const name = args.replace(/^"|"$/g, '');
          if (!folders.has(name)) return `${tag} NO [NONEXISTENT] no such folder\r\n`;
          selected = name;
          const f = folder(name);
          return `* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n* ${f.messages.length} EXISTS\r\n* 0 RECENT\r\n* OK [UIDVALIDITY ${f.uidValidity}] ok\r\n* OK [UIDNEXT ${f.uidNext}] ok\r\n${tag} OK [READ-WRITE] selected\r\n`;
        }
        case 'UID FETCH': {
          if (!cur) return `${tag} BAD not selected\r\n`;
          const [set = '', ...rest] = args.split(' ');
          const items = rest.join(' ').replace(/^\(|\)$/g, '').toUpperCase().split(/ (?![^[]*\])/);
          const bufs: Buffer[] = [];
          for (const uid of parseUidSet(set, uidsOf(cur))) {
            const seq = cur.messages.findIndex((m) => m.uid === uid) + 1;
            const r = overview(cur.messages[seq - 1] as FakeMessage, seq, items);
            for (const p of typeof r === 'string' ? [r] : r) bufs.push(typeof p === 'string' ? Buffer.from(p, 'latin1') : p);
          }
          bufs.push(Buffer.from(ok(), 'latin1'));
          return Buffer.concat(bufs);
        }
        case 'UID SEARCH':
        case 'SEARCH': {
          if (!cur) return `${tag} BAD not selected\r\n`;
          const m = /UID (\S+)/i.exec(args);
          const deleted = /DELETED/i.test(args);
          const hits = (m ? parseUidSet(m[1] as string, uidsOf(cur)) : uidsOf(cur)).filter((u) => !deleted || cur.messages.find((x) => x.uid === u)?.flags.has('\\Deleted'));
          return ok(`* SEARCH${hits.map((u) => ` ${u}`).join('')}\r\n`);
        }
        case 'UID STORE': {
          if (!cur) return `${tag} BAD not selected\r\n`;
          const m = /^(\S+) ([+-]?)FLAGS(\.SILENT)? \(([^)]*)\)/i.exec(args);
          if (!m) return `${tag} BAD syntax\r\n`;
          const flags = (m[4] as string).split(' ').filter(Boolean);
          let out = '';
          for (const uid of parseUidSet(m[1] as string, uidsOf(cur))) {
            const msg = cur.messages.find((x) => x.uid === uid) as FakeMessage;
            if (m[2] === '+') for (const f of flags) msg.flags.add(f);
            else if (m[2] === '-') for (const f of flags) msg.flags.delete(f);
            else msg.flags = new Set(flags);
            if (!m[3]) out += `* ${cur.messages.indexOf(msg) + 1} FETCH (UID ${uid} FLAGS (${[...msg.flags].join(' ')}))\r\n`;
          }
          return ok(out);
        }
        case 'EXPUNGE':
        case 'UID EXPUNGE': {
          if (!cur) return `${tag} BAD not selected\r\n`;
          const only = cmd === 'UID EXPUNGE' ? new Set(parseUidSet(args, uidsOf(cur))) : null;
          let out = '';
          for (let i = cur.messages.length - 1; i >= 0; i--) {
            const msg = cur.messages[i] as FakeMessage;
            if (msg.flags.has('\\Deleted') && (!only || only.has(msg.uid))) {
              cur.messages.splice(i, 1);
              out += `* ${i + 1} EXPUNGE\r\n`;
            }
          }
          return ok(out);
        }
        case 'UID MOVE':
        case 'UID COPY': {
          if (!cur || !selected) return `${tag} BAD not selected\r\n`;
          const [set = '', ...rest] = args.split(' ');
          const to = rest.join(' ').replace(/^"|"$/g, '');
          if (!folders.has(to)) return `${tag} NO [TRYCREATE] no such folder\r\n`;
          const uids = parseUidSet(set, uidsOf(cur));
          const seqs = uids.map((u) => cur.messages.findIndex((x) => x.uid === u) + 1).sort((a, b) => b - a);
          const dst = folder(to);
          const from = selected;
          const newUids = uids.map((u) => (cmd === 'UID MOVE' ? api.move(from, u, to) : (() => {
            const m = cur.messages.find((x) => x.uid === u) as FakeMessage;
            return api.add(to, m.raw, { flags: [...m.flags], internalDate: m.internalDate, emailId: m.emailId });
          })()));
          const copyuid = uids.length ? `[COPYUID ${dst.uidValidity} ${uids.join(',')} ${newUids.join(',')}] ` : '';
          if (cmd === 'UID COPY') return `${tag} OK ${copyuid}copied\r\n`;
          return `* OK ${copyuid}moved\r\n${seqs.map((q) => `* ${q} EXPUNGE\r\n`).join('')}${tag} OK moved\r\n`;
        }
        case 'LOGOUT':
          return `* BYE bye\r\n${tag} OK done\r\n`;
        case 'NOOP':
        case 'CHECK':
        case 'CLOSE':
        case 'UNSELECT':
          return ok();
        default:
          return `${tag} BAD unknown command\r\n`;
      }
    };

    return (line) => {
      log.push(line.replace(/^(\S+ LOGIN \S+) .*/i, '$1 ***'));
      const m = /^(\S+) (UID \S+|\S+) ?(.*)$/i.exec(line);
      if (!m) return;
      const tag = m[1] as string;
      const cmd = (m[2] as string).toUpperCase();
      const args = m[3] as string;
      const res = api.hook?.({ tag, cmd, args, line, selected, server: fake, sock, normal: () => normal(tag, cmd, args) });
      if (res === 'close') {
        sock.destroy();
        return;
      }
      const out = res ?? normal(tag, cmd, args);
      for (const part of Array.isArray(out) ? out : [out]) w(part);
      if (cmd === 'LOGOUT' && res === undefined) sock.end();
    };
  });
  const fake: FakeImap = Object.assign(api, { port: srv.port, close: srv.close });
  return fake;
}
