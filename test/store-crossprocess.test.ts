/**
 * Wake-ups across processes on one SQLite data directory: a child process appends (as the CLI or a
 * delivery process would); a subscriber in this process is woken and reads the change from the log.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { openServerStore } from '../src/server/store.js';
import type { ChangeEvent } from '../src/store/types.js';

const CHILD = new URL('./store-crash-child.ts', import.meta.url).pathname;

test('a subscriber is woken by appends committed in another process', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'mailroom-xproc-'));
  const store = await openServerStore({ dataDir, fsync: false });
  const user = await store.directory.createUser('crash@example.org', 'x');
  const inbox = (await store.mail.getMailbox(user.id, 'INBOX'))!;
  const events: ChangeEvent[] = [];
  const off = store.mail.subscribe(inbox.id, (ev) => events.push(ev));
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, dataDir, '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  try {
    let reported = 0;
    child.stdout.on('data', (d: Buffer) => (reported += (d.toString().match(/^\d+ \d+$/gm) ?? []).length));
    const deadline = Date.now() + 30_000;
    while (events.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.ok(events.length > 0, 'no wake-up from the other process');
    const ev = events[0]!;
    assert.equal(ev.mailboxId, inbox.id);
    assert.equal(ev.userId, user.id);
    const ch = await store.mail.changesSince(inbox.id, inbox.highestModseq);
    assert.ok(ch.changed.length > 0, 'the change log shows the other process’s appends');
    assert.ok(ch.highestModseq >= ev.highestModseq);
    // The child's stdout line may arrive after the wake-up: wait for it too.
    while (reported === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.ok(reported > 0, 'the other process reported its commits');
    for (let i = 1; i < events.length; i++) assert.ok(events[i]!.highestModseq > events[i - 1]!.highestModseq);
    off();
  } finally {
    child.kill('SIGKILL');
    await exited;
    await store.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
