/**
 * Property test against a live in-process server: random and mutated commands, fed in random chunks
 * (often one byte at a time), never crash the process, never produce NO [SERVERBUG], and the server keeps
 * serving new sessions. The long-running version of this is scripts/fuzz.ts (npm run fuzz).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { RawClient, message, startImap } from './imap-helpers.js';
import { memoryLogger, type LogLine } from '../src/lib/logger.js';
import { createImapService } from '../src/imap-server/index.js';
import { commandArbitrary, chunkArbitrary, sendChunks } from './imap-fuzz-gen.js';

test('random and mutated commands in random chunks never break the server', async () => {
  // A {PLAIN} hash keeps each run's LOGIN cheap (argon2 is deliberately slow).
  const f = await startImap({ passwordHash: '{PLAIN}correct horse' });
  for (let i = 0; i < 3; i++) await f.append(message(`fuzz ${i}`, 'fuzz body'), i === 0 ? ['\\Seen'] : []);
  const lines: LogLine[] = [];
  const svc = createImapService({ store: f.store, auth: f.auth, logger: memoryLogger(lines), appendLimit: 4096, maxLineLength: 1024 });
  const { port } = await svc.listen({ host: '127.0.0.1', port: 0, implicitTls: false });
  try {
    await fc.assert(
      fc.asyncProperty(fc.array(commandArbitrary(), { minLength: 1, maxLength: 8 }), chunkArbitrary(), async (cmds, chunks) => {
        const c = await RawClient.connect(port);
        await c.login();
        await c.cmd('SELECT INBOX');
        await sendChunks(c.socket, Buffer.concat(cmds.map((x) => Buffer.concat([x, Buffer.from('\r\n')]))), chunks);
        // Let the server chew, then make sure it still serves a fresh session.
        await new Promise((r) => setTimeout(r, 5));
        c.close();
        const probe = await RawClient.connect(port);
        assert.equal(await probe.cmd('NOOP', 'p'), 'p OK NOOP completed\r\n');
        probe.close();
        const bugs = lines.filter((l) => l.level === 'error' || l.msg === 'refresh failed' || l.msg === 'IDLE update failed');
        assert.deepEqual(bugs.map((b) => b.fields), []);
      }),
      { numRuns: 150 },
    );
  } finally {
    await svc.close();
    await f.close();
  }
});
