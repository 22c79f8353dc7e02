/**
 * One Maildir folder (new/, cur/, tmp/) as defined by the Maildir specification (cr.yp.to/proto/maildir.html)
 * with the "2," info suffix for flags, so mutt, neomutt and Dovecot can open it directly.
 *
 * - Unique names: "<seconds>.M<microseconds>P<pid>Q<counter>R<random>.<host>,S=<size>"; the part before
 *   ":" is the message's key and never changes; flags live in the ":2,<FLAGS>" suffix (ASCII-sorted letters).
 * - Delivery is atomic: write to tmp/, fsync, rename into new/ (or cur/ when flags are known), fsync the directory.
 * - Other programs may rename files (new/ -> cur/, flag changes), so lookups go by key, not by stored path.
 * - Folder directory names (encodeFolderName) stay within the 255-byte limit of one path component.
 */
import { closeSync, copyFileSync, linkSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, unlinkSync, writeSync, existsSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import * as fsp from 'node:fs/promises';
import { join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { MAILDIR_FLAG_LETTERS, MAILDIR_LETTER_FLAGS } from '../../lib/maildir-flags.js';

/** Longest directory name encodeFolderName returns, in bytes (file systems allow 255 per component). */
export const MAX_FOLDER_DIR_BYTES = 240;

/**
 * Percent-encodes a folder name into one safe directory name (no "/", no leading ".", no ".."). A name
 * whose encoding would pass MAX_FOLDER_DIR_BYTES (a few dozen non-ASCII characters are enough: each UTF-8
 * byte becomes three) keeps a prefix of it and ends in "~" plus 16 hex digits of the SHA-256 of the full
 * name: the same name always gives the same directory, and as "~" is never left unencoded, a shortened
 * name cannot equal any unshortened one.
 */
export function encodeFolderName(name: string): string {
  let out = '';
  for (const b of Buffer.from(name, 'utf8')) {
    const c = String.fromCharCode(b);
    out += /[A-Za-z0-9_\- ]/.test(c) ? c : '%' + b.toString(16).toUpperCase().padStart(2, '0');
  }
  if (out.length <= MAX_FOLDER_DIR_BYTES) return out || '%00';
  const suffix = '~' + createHash('sha256').update(name, 'utf8').digest('hex').slice(0, 16);
  let prefix = out.slice(0, MAX_FOLDER_DIR_BYTES - suffix.length);
  // Never cut a %XX escape in half.
  const cut = prefix.lastIndexOf('%');
  if (cut >= prefix.length - 2) prefix = prefix.slice(0, cut);
  return prefix + suffix;
}

/** The Maildir info letters for a set of IMAP flags, sorted as the spec requires; unknown keywords are dropped. */
export function flagsToInfo(flags: Iterable<string>): string {
  const letters = new Set<string>();
  for (const f of flags) {
    const l = MAILDIR_FLAG_LETTERS[f] ?? MAILDIR_FLAG_LETTERS[Object.keys(MAILDIR_FLAG_LETTERS).find((k) => k.toLowerCase() === f.toLowerCase()) ?? ''];
    if (l) letters.add(l);
  }
  return [...letters].sort().join('');
}

/** IMAP flags encoded in a Maildir file name (the ":2," suffix); [] for new/ files without info. */
export function infoToFlags(fileName: string): string[] {
  const i = fileName.indexOf(':2,');
  if (i < 0) return [];
  const out: string[] = [];
  for (const ch of fileName.slice(i + 3)) {
    const f = MAILDIR_LETTER_FLAGS[ch];
    if (f) out.push(f);
  }
  return out;
}

/** The key (unique part) of a Maildir file name. */
export function fileKey(fileName: string): string {
  const i = fileName.indexOf(':');
  return i < 0 ? fileName : fileName.slice(0, i);
}

/** A strict check of a Maildir file name as this module writes it (and as mutt/Dovecot accept). */
export function isValidMaildirName(fileName: string, sub: 'new' | 'cur'): boolean {
  if (fileName.startsWith('.') || fileName.includes('/')) return false;
  const key = fileKey(fileName);
  if (!/^\d+\.[A-Za-z0-9_\\-]+\.[^:/]+$/.test(key)) return false;
  if (sub === 'new') return !fileName.includes(':');
  const info = fileName.slice(key.length);
  if (info === '') return true;
  if (!/^:2,[A-Za-z]*$/.test(info)) return false;
  const letters = info.slice(3);
  return letters === [...letters].sort().join('') && new Set(letters).size === letters.length;
}

let counter = 0;
function safeHost(): string {
  // The spec: replace "/" with "\057" and ":" with "\072" in the host name.
  return hostname().replace(/\//g, '\\057').replace(/:/g, '\\072') || 'localhost';
}

export interface StoredFile {
  key: string;
  /** Path of the file as it is now. */
  path: string;
  sub: 'new' | 'cur';
  flags: string[];
}

export interface StagedFile extends StoredFile {
  /** Where the file is until publish(). */
  tmpPath: string;
}

export class Maildir {
  /**
   * `fsync: false` skips every fsync (files and directories): faster, but a power loss may lose or truncate
   * messages that were already recorded. Only for throwaway profiles and measurements; the default is durable.
   */
  constructor(
    readonly root: string,
    private readonly opts: { fsync?: boolean } = {},
  ) {}

  private get durable(): boolean {
    return this.opts.fsync !== false;
  }

  /** Creates new/, cur/, tmp/ when missing. */
  ensure(): this {
    for (const d of ['new', 'cur', 'tmp']) mkdirSync(join(this.root, d), { recursive: true, mode: 0o700 });
    return this;
  }

  private static uniqueName(size: number): string {
    const now = process.hrtime.bigint();
    const ms = Date.now();
    const usec = Number((now / 1000n) % 1_000_000n);
    counter = (counter + 1) % 1_000_000_000;
    return `${Math.floor(ms / 1000)}.M${usec}P${process.pid}Q${counter}R${randomBytes(6).toString('hex')}.${safeHost()},S=${size}`;
  }

  /**
   * Stores a message atomically. Without flags (or with `asNew`) it lands in new/ (unseen new mail, no info);
   * otherwise in cur/ with ":2,<flags>". Returns the stored file.
   */
  deliver(bytes: Buffer, opts: { flags?: Iterable<string>; asNew?: boolean; deferDirSync?: boolean } = {}): StoredFile {
    this.ensure();
    const key = Maildir.uniqueName(bytes.length);
    const tmp = join(this.root, 'tmp', key);
    const fd = openSync(tmp, 'wx', 0o600);
    try {
      let off = 0;
      while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
      if (this.durable) fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    const flags = opts.flags ? [...opts.flags] : [];
    const toNew = opts.asNew === true || (opts.asNew === undefined && flags.length === 0);
    const name = toNew ? key : `${key}:2,${flagsToInfo(flags)}`;
    const sub = toNew ? 'new' : 'cur';
    const dest = join(this.root, sub, name);
    try {
      renameSync(tmp, dest);
    } catch (e) {
      try {
        unlinkSync(tmp);
      } catch {
        /* already gone */
      }
      throw e;
    }
    if (!opts.deferDirSync && this.durable) syncDir(join(this.root, sub));
    return { key, path: dest, sub, flags: infoToFlags(name) };
  }

  /**
   * First half of a two-phase delivery for batches: writes the message into tmp/ and fsyncs it on the I/O
   * thread pool (several messages become durable concurrently). The caller then records the message (its
   * final path is already known) and calls publish(); after a crash between the two, find() publishes the
   * staged file on first use, and unrecorded tmp/ files are never seen by mail readers (Maildir spec).
   */
  async stage(bytes: Buffer, opts: { flags?: Iterable<string>; asNew?: boolean } = {}): Promise<StagedFile> {
    const key = Maildir.uniqueName(bytes.length);
    const tmp = join(this.root, 'tmp', key);
    const fh = await fsp.open(tmp, 'wx', 0o600);
    try {
      await fh.writeFile(bytes);
      if (this.durable) await fh.sync();
    } finally {
      await fh.close();
    }
    return this.staged(key, tmp, opts);
  }

  /**
   * As stage(), for a message too big to hold in memory: `produce` hands the bytes over piece by piece
   * (each write is awaited). The file grows under a ".part" name in tmp/ and gets its final name (with the
   * size) once complete; when `produce` rejects, the partial file is removed and the error passes through.
   */
  async stageStream(produce: (write: (chunk: Buffer) => Promise<void>) => Promise<void>, opts: { flags?: Iterable<string>; asNew?: boolean } = {}): Promise<StagedFile> {
    const part = join(this.root, 'tmp', `${Maildir.uniqueName(0)}.part`);
    const fh = await fsp.open(part, 'wx', 0o600);
    let size = 0;
    try {
      await produce(async (chunk) => {
        let off = 0;
        while (off < chunk.length) off += (await fh.write(chunk, off, chunk.length - off)).bytesWritten;
        size += chunk.length;
      });
      if (this.durable) await fh.sync();
    } catch (e) {
      await fh.close().catch(() => undefined);
      await fsp.rm(part, { force: true });
      throw e;
    }
    await fh.close();
    const key = Maildir.uniqueName(size);
    const tmp = join(this.root, 'tmp', key);
    renameSync(part, tmp);
    return this.staged(key, tmp, opts);
  }

  /** Where a staged file goes on publish(): new/ without flags (or with `asNew`), else cur/ with its flags. */
  private staged(key: string, tmp: string, opts: { flags?: Iterable<string>; asNew?: boolean }): StagedFile {
    const flags = opts.flags ? [...opts.flags] : [];
    const toNew = opts.asNew === true || (opts.asNew === undefined && flags.length === 0);
    const name = toNew ? key : `${key}:2,${flagsToInfo(flags)}`;
    const sub = toNew ? 'new' : 'cur';
    return { key, tmpPath: tmp, path: join(this.root, sub, name), sub, flags: infoToFlags(name) };
  }

  /** Second half: moves a staged file into new/ or cur/. Call syncDirs() after a batch. */
  publish(f: StagedFile): StoredFile {
    renameSync(f.tmpPath, f.path);
    return { key: f.key, path: f.path, sub: f.sub, flags: f.flags };
  }

  /** Removes a staged file that will not be recorded. */
  discard(f: StagedFile): void {
    try {
      unlinkSync(f.tmpPath);
    } catch {
      /* already gone */
    }
  }

  /** Files in tmp/ older than `ageMs` (the Maildir spec lets readers delete tmp files older than 36 hours). */
  staleTmp(ageMs: number, now = Date.now()): Array<{ key: string; path: string }> {
    const dir = join(this.root, 'tmp');
    if (!existsSync(dir)) return [];
    const out: Array<{ key: string; path: string }> = [];
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      try {
        if (now - statSync(p).mtimeMs >= ageMs) out.push({ key: fileKey(name), path: p });
      } catch {
        /* raced with another cleaner */
      }
    }
    return out;
  }

  /**
   * Makes renames into new/ and cur/ durable (fsync of the directories). Callers that deliver a batch with
   * `deferDirSync` call this once before recording the batch as stored.
   */
  syncDirs(): void {
    if (!this.durable) return;
    syncDir(join(this.root, 'new'));
    syncDir(join(this.root, 'cur'));
  }

  /** Finds a message by key in cur/ or new/ (whatever name other programs gave it); null when gone. */
  find(key: string, hint?: string): StoredFile | null {
    if (hint && existsSync(hint)) {
      const name = hint.slice(hint.lastIndexOf('/') + 1);
      if (fileKey(name) === key) {
        const sub = hint.slice(0, hint.lastIndexOf('/')).endsWith('/new') ? 'new' : 'cur';
        return { key, path: hint, sub, flags: infoToFlags(name) };
      }
    }
    for (const sub of ['cur', 'new'] as const) {
      const dir = join(this.root, sub);
      if (!existsSync(dir)) continue;
      for (const name of readdirSync(dir)) {
        if (fileKey(name) === key) return { key, path: join(dir, name), sub, flags: infoToFlags(name) };
      }
    }
    // Recorded but not yet published when the process stopped: publish it now (into new/, flags unknown).
    const staged = join(this.root, 'tmp', key);
    if (existsSync(staged)) {
      const dest = join(this.root, 'new', key);
      renameSync(staged, dest);
      syncDir(join(this.root, 'new'));
      return { key, path: dest, sub: 'new', flags: [] };
    }
    return null;
  }

  read(key: string, hint?: string): Buffer | null {
    const f = this.find(key, hint);
    return f ? readFileSync(f.path) : null;
  }

  /** Sets the flags of a stored message (moving it to cur/). Returns the new file, or null when it is gone. */
  setFlags(key: string, flags: Iterable<string>, hint?: string): StoredFile | null {
    const f = this.find(key, hint);
    if (!f) return null;
    const name = `${key}:2,${flagsToInfo(flags)}`;
    const dest = join(this.root, 'cur', name);
    if (dest !== f.path) renameSync(f.path, dest);
    return { key, path: dest, sub: 'cur', flags: infoToFlags(name) };
  }

  /** Removes a message; returns false when it was already gone. */
  remove(key: string, hint?: string): boolean {
    const f = this.find(key, hint);
    if (!f) return false;
    unlinkSync(f.path);
    return true;
  }

  /**
   * Takes a message out of the folder's view into tmp/ (under "KEY.parked", which find() never publishes),
   * for adopt() to bring into another folder; returns its path there, or null when the file is gone.
   * Unadopted, it is removed by the caller, or as any stale tmp/ file.
   */
  park(key: string, hint?: string): string | null {
    const f = this.find(key, hint);
    if (!f) return null;
    const dest = join(this.root, 'tmp', `${key}.parked`);
    renameSync(f.path, dest);
    return dest;
  }

  /**
   * Brings the message file at `src` (another folder's file of the same profile) into this folder under a
   * new name with `flags`: moved when `move` (a parked file), else hard-linked (copied where links fail),
   * so the other folder keeps its own.
   */
  adopt(src: string, size: number, opts: { flags: Iterable<string>; move: boolean }): StoredFile {
    this.ensure();
    const key = Maildir.uniqueName(size);
    const tmp = join(this.root, 'tmp', key);
    if (opts.move) renameSync(src, tmp);
    else {
      try {
        linkSync(src, tmp);
      } catch {
        copyFileSync(src, tmp);
      }
    }
    const f = this.staged(key, tmp, { flags: opts.flags, asNew: false });
    renameSync(tmp, f.path);
    if (this.durable) syncDir(join(this.root, f.sub));
    return { key, path: f.path, sub: f.sub, flags: f.flags };
  }

  /** Every message file currently in the folder. */
  list(): StoredFile[] {
    const out: StoredFile[] = [];
    for (const sub of ['new', 'cur'] as const) {
      const dir = join(this.root, sub);
      if (!existsSync(dir)) continue;
      for (const name of readdirSync(dir)) {
        if (name.startsWith('.')) continue;
        const p = join(dir, name);
        if (!statSync(p).isFile()) continue;
        out.push({ key: fileKey(name), path: p, sub, flags: infoToFlags(name) });
      }
    }
    return out;
  }
}

function syncDir(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    /* some file systems do not allow fsync on directories */
  }
}
