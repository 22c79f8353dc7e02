/**
 * Private data on disk: a data or profile directory is 0700 and the database files in it 0600, whatever
 * the umask was when they were created (SQLite gives its -wal and -shm files the database file's mode).
 * Only modes that let group or others in are changed; files that do not exist are skipped. Throws the
 * file system's error (EPERM when the files belong to someone else).
 */
import { chmodSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** The umask the server and the CLI run with: nothing they create is readable by group or others. */
export const PRIVATE_UMASK = 0o077;

/** Creates `dir` (and missing parents) with mode 0700. */
export function mkdirPrivate(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
}

/** Tightens `dir` to 0700 and each of `files` (names inside dir) to 0600; returns the paths it changed. */
export function tightenModes(dir: string, files: readonly string[]): string[] {
  const changed: string[] = [];
  const fix = (path: string, mode: number): void => {
    let st;
    try {
      st = statSync(path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw e;
    }
    if ((st.mode & 0o077) === 0) return;
    chmodSync(path, mode);
    changed.push(path);
  };
  fix(dir, 0o700);
  for (const f of files) fix(join(dir, f), 0o600);
  return changed;
}

/** The SQLite database files of a store or profile: `name` with its -wal and -shm companions. */
export function sqliteFiles(name: string): string[] {
  return [name, `${name}-wal`, `${name}-shm`];
}
