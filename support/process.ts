/** Stopping the server processes that tests and benchmarks start (Dovecot, mailroom). */
import type { ChildProcess } from 'node:child_process';

/**
 * Sends SIGTERM, then SIGKILL when the child has not exited after `graceMs`; resolves once `exited` (the
 * child's exit, watched since spawn) has resolved. Call it only while the child is still running.
 */
export async function terminate(child: ChildProcess, exited: Promise<unknown>, graceMs: number): Promise<void> {
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
  t.unref();
  await exited;
  clearTimeout(t);
}
