/**
 * The kill-and-collect loop of the crash tests: a child process (run through tsx) appends messages and
 * prints "<uid> <seed>" for each one the store reported committed; once it has printed `atLeast` lines the
 * child is SIGKILLed after a random 0-40 ms, so the kill lands at a random point of a later append.
 * Asserts that the child died of that SIGKILL (not on its own) and reported enough; returns uid -> seed.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';

/** Kills the child after this long even if it never reports enough (the test then fails on the count). */
const GUARD_MS = 60_000;

export async function runAndKill(childScript: string, args: string[], atLeast: number): Promise<Map<number, number>> {
  const child = spawn(process.execPath, ['--import', 'tsx', childScript, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const committed = new Map<number, number>();
  let stderr = '';
  let buf = '';
  let killTimer: NodeJS.Timeout | undefined;
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdout.on('data', (d: Buffer) => {
    buf += d.toString();
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const m = /^(\d+) (\d+)$/.exec(buf.slice(0, nl));
      buf = buf.slice(nl + 1);
      if (!m) continue;
      committed.set(Number(m[1]), Number(m[2]));
      if (committed.size >= atLeast && !killTimer) killTimer = setTimeout(() => child.kill('SIGKILL'), Math.floor(Math.random() * 40));
    }
  });
  const guard = setTimeout(() => child.kill('SIGKILL'), GUARD_MS);
  const signal = await exited;
  clearTimeout(guard);
  if (killTimer) clearTimeout(killTimer);
  assert.equal(signal, 'SIGKILL', `child ended on its own: ${stderr}`);
  assert.ok(committed.size >= atLeast, `child reported ${committed.size} commits: ${stderr}`);
  return committed;
}
