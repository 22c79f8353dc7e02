/**
 * Getting one IMAP message's bytes on demand (`client read`), and the streamed download that the sync's
 * body prefetch shares.
 *
 * Contract: nothing here holds a message over STREAM_THRESHOLD bytes in memory. `cacheBody` puts the whole
 * message into the folder's Maildir (small ones with one FETCH BODY.PEEK[], big ones streamed into their
 * file in partial FETCHes, RFC 3501 section 6.4.5); `textView` fetches only what the reader shows of a big
 * message: the header (BODY.PEEK[HEADER]) and the first text part (BODY.PEEK[<part>.MIME] and
 * BODY.PEEK[<part>]<0.TEXT_VIEW_LIMIT>), chosen from BODYSTRUCTURE; nothing is cached then. Both select
 * the folder read-only (EXAMINE) and throw ClientError NOT_FOUND when the folder was recreated (another
 * UIDVALIDITY) or the message is gone, or a classified ClientError for network and server failures.
 */
import type { ImapFlow, MessageStructureObject } from 'imapflow';
import { ClientError, classifyError } from '../errors.js';
import type { Maildir, StagedFile } from '../store/maildir.js';
import type { MessageRow } from '../store/state.js';
import type { ImapContext } from './syncer.js';
import { openImap } from './connect.js';
import { recorderOf } from './refusal.js';

/** Bodies larger than this are streamed into their file in partial FETCHes of STREAM_CHUNK bytes. */
export const STREAM_THRESHOLD = 1024 * 1024;
const STREAM_CHUNK = 1024 * 1024;
/**
 * The most a body may run to: twice its RFC822.SIZE plus one window (imapflow stops a download there), or,
 * for a message the server gave no size, this many bytes. A body that reaches it is a server sending
 * without end (or ignoring the partial FETCH range), never cached.
 */
const UNSIZED_MAX_BYTES = 128 * 1024 * 1024;
const bodyCap = (size: number): number => (size > 0 ? 2 * size + STREAM_CHUNK : UNSIZED_MAX_BYTES);

/** Whether `bytes` received can be the whole message of RFC822.SIZE `size` (0: unknown): not short, not endless. */
export function plausibleBody(bytes: number, size: number): boolean {
  return bytes >= size && bytes < bodyCap(size);
}

/** The most of a big message's text part the reader fetches and shows (encoded bytes). */
export const TEXT_VIEW_LIMIT = 1024 * 1024;

/**
 * One message's body streamed into a staged file with partial FETCHes (BODY.PEEK[]<offset.length>); null
 * when the server no longer has the message, or stopped sending it before RFC822.SIZE bytes (expunged
 * midway): a shortened body is never cached as the message. The folder must be selected.
 */
export async function downloadToFile(ctx: Pick<ImapContext, 'account' | 'logger'>, client: ImapFlow, dir: Maildir, row: MessageRow): Promise<StagedFile | null> {
  let found = true;
  let bytes = 0;
  const file = await dir
    .stageStream(
      async (write) => {
        const { content } = await client.download(String(row.uid), undefined, { uid: true, chunkSize: STREAM_CHUNK, maxBytes: bodyCap(row.size) });
        if (!content) {
          found = false;
          return;
        }
        for await (const chunk of content as AsyncIterable<Buffer>) {
          bytes += chunk.length;
          await write(chunk);
        }
        if (!client.usable) throw new ClientError('NETWORK', `connection to ${ctx.account.host}:${ctx.account.port} was lost while fetching a message`);
      },
      { flags: row.flags, asNew: false },
    )
    .catch((e: unknown) => {
      // imapflow's word for a message expunged while its windows were being fetched: the partial file
      // is gone already; the message is skipped like one expunged before the FETCH.
      if (!client.usable || !(e && typeof e === 'object' && (e as { code?: unknown }).code === 'DownloadIncomplete')) throw e;
      found = false;
      return null;
    });
  if (!file) return null;
  if (found && !plausibleBody(bytes, row.size) && bytes >= row.size) {
    ctx.logger.warn({ account: ctx.account.name, folder: row.folder, uid: row.uid, bytes, size: row.size }, 'message body ran past any plausible size: not cached');
    dir.discard(file);
    return null;
  }
  if (found && bytes >= row.size) return file;
  if (found) ctx.logger.warn({ account: ctx.account.name, folder: row.folder, uid: row.uid, bytes, size: row.size }, 'message body ended short of its size: not cached');
  dir.discard(file);
  return null;
}

/** What `textView` returns: a message made of the header and the shown text part only. */
export interface TextView {
  /** Header fields + the text part's MIME header + its (possibly cut) body: renderable as a message. */
  raw: Buffer;
  /** Encoded bytes of the text part left out (0: shown whole); -1 when the message has no text part. */
  omitted: number;
}

/**
 * The first text part the reader shows, as summary.ts's firstText picks it from a parsed message: a
 * text/plain one before any other text/*, attachments skipped. Its section ("TEXT" for a single-part
 * message), MIME header section (null for "TEXT": the message header is its header) and encoded size.
 */
export function textSection(s: MessageStructureObject | undefined): { section: string; mime: string | null; size: number } | null {
  if (!s) return null;
  const leaf = (n: MessageStructureObject, plainOnly: boolean): MessageStructureObject | null => {
    if (n.childNodes?.length) {
      for (const c of n.childNodes) {
        const t = leaf(c, true);
        if (t) return t;
      }
      if (plainOnly) return null;
      for (const c of n.childNodes) {
        const t = leaf(c, false);
        if (t) return t;
      }
      return null;
    }
    if (!n.type.startsWith('text/') || n.disposition === 'attachment') return null;
    return !plainOnly || n.type === 'text/plain' ? n : null;
  };
  const t = leaf(s, false);
  if (!t) return null;
  if (t === s || !t.part) return { section: 'TEXT', mime: null, size: t.size ?? 0 };
  return { section: t.part, mime: `${t.part}.MIME`, size: t.size ?? 0 };
}

/** A header block without its Content-* and MIME-Version fields (folded lines go with their field). */
function withoutMimeFields(header: Buffer): Buffer {
  const lines = header.toString('latin1').split('\r\n');
  const out: string[] = [];
  let drop = false;
  for (const l of lines) {
    if (l === '') break;
    if (!/^[ \t]/.test(l)) drop = /^(content-[^:]*|mime-version)\s*:/i.test(l);
    if (!drop) out.push(l);
  }
  return Buffer.from(out.map((l) => l + '\r\n').join(''), 'latin1');
}

export class ImapReader {
  constructor(private readonly ctx: ImapContext) {}

  private get where(): string {
    return `${this.ctx.account.host}:${this.ctx.account.port}`;
  }

  /**
   * Where the server has the message now: its folder and UID, or for a message whose move is still queued
   * (no UID in its new folder yet) the folder it leaves and its UID there, with the UIDVALIDITY it was seen under.
   */
  private placeOf(row: MessageRow): { folder: string; uid: number; uidValidity: string | null } {
    if (row.uid !== null) return { folder: row.folder, uid: row.uid, uidValidity: this.ctx.state.getFolder(this.ctx.account.name, row.folder)?.uidValidity ?? null };
    const move = this.ctx.state.queued(this.ctx.account.name).find((op) => op.kind === 'move' && op.messageRow === row.id);
    if (!move) throw new ClientError('NOT_FOUND', `message ${row.id} is waiting to be moved on the server: run sync first`);
    return { folder: move.folder, uid: move.uid, uidValidity: move.uidValidity || null };
  }

  /** Runs `fn` on a connection with the message's folder on the server selected read-only; logs out after. */
  private async inFolder<T>(row: MessageRow, fn: (client: ImapFlow, at: MessageRow) => Promise<T>): Promise<T> {
    const place = this.placeOf(row);
    const client = await openImap(this.ctx);
    try {
      const mb = await client.mailboxOpen(place.folder, { readOnly: true });
      if (place.uidValidity && String(mb.uidValidity) !== place.uidValidity) {
        throw new ClientError('NOT_FOUND', `folder ${place.folder} was recreated on the server: run sync, then read again`);
      }
      // The row as the server has it (a message waiting to be moved: at its source UID).
      const out = await fn(client, { ...row, uid: place.uid });
      await client.logout().catch(() => undefined);
      return out;
    } catch (e) {
      client.close();
      throw classifyError(e instanceof ClientError ? e : (recorderOf(client).fault ?? e), this.where);
    }
  }

  private gone(row: MessageRow): ClientError {
    return new ClientError('NOT_FOUND', `message ${row.id} no longer exists on the server (run sync)`);
  }

  /** Writes a fetched body into the folder's Maildir (with the row's flags) and marks it cached. */
  storeBody(row: MessageRow, source: Buffer): MessageRow {
    const dir = this.ctx.folderDir(row.folder);
    const file = dir.deliver(source, { flags: row.flags, asNew: false });
    this.ctx.state.setFile(row.id, dir.root, file.key, file.path, true);
    return this.ctx.state.getMessage(row.id) as MessageRow;
  }

  /** Fetches the whole message into the cache (streamed when big) and returns the updated row. */
  async cacheBody(row: MessageRow): Promise<MessageRow> {
    return this.inFolder(row, async (client, at) => {
      // Size 0: the server gave none; it may be big.
      if (row.size > 0 && row.size <= STREAM_THRESHOLD) {
        const m = await client.fetchOne(String(at.uid), { uid: true, source: true }, { uid: true });
        if (!m || !m.source) throw this.gone(row);
        if (!plausibleBody(m.source.length, row.size)) {
          throw new ClientError('PROTOCOL', `${this.where} sent ${m.source.length} bytes for message ${row.id} of ${row.size} bytes: not cached, try again later`);
        }
        return this.storeBody(row, m.source);
      }
      const dir = this.ctx.folderDir(row.folder);
      const file = await downloadToFile(this.ctx, client, dir, at);
      if (!file) throw this.gone(row);
      this.ctx.state.setFile(row.id, dir.root, file.key, file.path, true);
      dir.publish(file);
      dir.syncDirs();
      return this.ctx.state.getMessage(row.id) as MessageRow;
    });
  }

  /** The header and the first text part of a message (see the module comment); nothing is cached. */
  async textView(row: MessageRow): Promise<TextView> {
    return this.inFolder(row, async (client, at) => {
      const uid = String(at.uid);
      const s = await client.fetchOne(uid, { uid: true, bodyStructure: true, headers: true }, { uid: true });
      if (!s || !s.headers) throw this.gone(row);
      const text = textSection(s.bodyStructure);
      if (!text) return { raw: s.headers, omitted: -1 };
      const want = Math.min(text.size, TEXT_VIEW_LIMIT);
      const parts = [...(text.mime ? [text.mime] : []), { key: text.section, start: 0, maxLength: Math.max(want, 1) }];
      const m = await client.fetchOne(uid, { uid: true, bodyParts: parts }, { uid: true });
      if (!m) throw this.gone(row);
      let body = m.bodyParts?.get(text.section.toLowerCase()) ?? Buffer.alloc(0);
      const omitted = Math.max(0, text.size - body.length);
      // A cut body ends at its last line break, so that no half of an encoded line is decoded.
      if (omitted > 0) body = body.subarray(0, body.lastIndexOf(0x0a) + 1);
      const head = text.mime ? Buffer.concat([withoutMimeFields(s.headers), Buffer.from('MIME-Version: 1.0\r\n'), m.bodyParts?.get(text.mime.toLowerCase()) ?? Buffer.from('\r\n')]) : s.headers;
      return { raw: Buffer.concat([head, body]), omitted };
    });
  }
}
