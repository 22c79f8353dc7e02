/**
 * Long random soak of the IMAP server: starts an in-process server over a throwaway SQLite store and, for
 * N seconds, drives several concurrent sessions with valid, mutated and random commands fed in random
 * chunks (often byte by byte), while mail is delivered concurrently. Fails (exit 1) if the process sees an
 * uncaught exception, if any command ends in NO [SERVERBUG] (or anything else is logged as an error), or if the server stops answering new sessions.
 *
 *   npm run fuzz -- [seconds] [sessions]      (defaults: 30 seconds, 4 sessions; FUZZ_SEED=n to replay)
 */
import fc from 'fast-check';
import { RawClient, message, startImap } from '../test/imap-helpers.js';
import { commandArbitrary, chunkArbitrary, sendChunks } from '../test/imap-fuzz-gen.js';
import { memoryLogger, type LogLine } from '../src/lib/logger.js';
import { createImapService } from '../src/imap-server/index.js';

const seconds = Number(process.argv[2] ?? process.env.FUZZ_SECONDS ?? 30);
const sessions = Number(process.argv[3] ?? 4);
const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 2147483647);

let failure: string | null = null;
process.on('uncaughtException', (e) => {
  failure = `uncaught exception: ${e.stack ?? String(e)}`;
});
process.on('unhandledRejection', (e) => {
  failure = `unhandled rejection: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`;
});

const f = await startImap({ passwordHash: '{PLAIN}correct horse' });
const lines: LogLine[] = [];
const svc = createImapService({ store: f.store, auth: f.auth, logger: memoryLogger(lines), appendLimit: 64 * 1024, maxLineLength: 4096 });
const { port } = await svc.listen({ host: '127.0.0.1', port: 0, implicitTls: false });
const deadline = Date.now() + seconds * 1000;
const stats = { connections: 0, commands: 0, bytes: 0, deliveries: 0 };
let round = 0;

async function session(id: number): Promise<void> {
  while (Date.now() < deadline && !failure) {
    const runSeed = seed + id * 1_000_003 + round++;
    const [cmds] = fc.sample(fc.array(commandArbitrary(), { minLength: 1, maxLength: 30 }), { numRuns: 1, seed: runSeed });
    const [chunks] = fc.sample(chunkArbitrary(), { numRuns: 1, seed: runSeed + 1 });
    let c: RawClient;
    try {
      c = await RawClient.connect(port);
      await c.login();
      await c.cmd(id % 2 ? 'SELECT INBOX' : 'SELECT Trash');
    } catch (e) {
      failure = `session setup failed (seed ${runSeed}): ${e instanceof Error ? e.message : String(e)}`;
      return;
    }
    stats.connections++;
    const data = Buffer.concat(cmds!.map((x) => Buffer.concat([x, Buffer.from('\r\n')])));
    stats.commands += cmds!.length;
    stats.bytes += data.length;
    await sendChunks(c.socket, data, chunks!);
    await new Promise((r) => setTimeout(r, 20));
    c.close();
    const bugs = lines.filter((l) => l.level === 'error' || l.msg === 'refresh failed' || l.msg === 'IDLE update failed');
    if (bugs.length) failure = `server error (seed ${runSeed}): ${JSON.stringify(bugs[0]!.fields)}`;
  }
}

async function deliveries(): Promise<void> {
  while (Date.now() < deadline && !failure) {
    await f.append(message(`soak ${stats.deliveries}`, 'soak body'));
    stats.deliveries++;
    await new Promise((r) => setTimeout(r, 50));
  }
}

console.log(`IMAP fuzz: ${seconds}s, ${sessions} sessions, FUZZ_SEED=${seed}`);
await Promise.all([...Array.from({ length: sessions }, (_, i) => session(i)), deliveries()]);
if (!failure) {
  try {
    const probe = await RawClient.connect(port);
    await probe.login();
    const r = await probe.cmd('NOOP', 'p');
    if (r !== 'p OK NOOP completed\r\n') failure = `server stopped answering: ${r}`;
    probe.close();
  } catch (e) {
    failure = `server stopped answering: ${e instanceof Error ? e.message : String(e)}`;
  }
}
await svc.close();
await f.close();
console.log(JSON.stringify(stats));
if (failure) {
  console.error(`FAIL: ${failure}`);
  process.exit(1);
}
console.log('OK: no crash, no SERVERBUG, server still serving');
