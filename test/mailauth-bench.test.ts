/**
 * bench/mailauth.ts and bench/spam-mx.ts --smoke run end to end: both MX services deliver, the checks pass,
 * the tables are written.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runProgram } from './delivery/helpers.js';

const ROOT = join(fileURLToPath(new URL('.', import.meta.url)), '..');

test('mail authentication bench, smoke size', { timeout: 120_000 }, async () => {
  const out = await mkdtemp(join(tmpdir(), 'mailroom-bench-auth-'));
  try {
    const r = await runProgram(process.execPath, ['--import', 'tsx', join(ROOT, 'bench/mailauth.ts'), '--smoke', '--out', out], 110_000);
    assert.equal(r.code, 0, r.stderr);
    const md = await readFile(join(out, 'mailauth.md'), 'utf8');
    assert.doesNotMatch(md, /CHECK FAILED/);
    assert.match(md, /\| off \| \d+ ms \| \d+ \|/);
    assert.match(md, /\| on \(SPF x2, DKIM, DMARC, ARC, DNS on loopback\) \| \d+ ms \| \d+ \|/);
    assert.match(md, /Throughput with checks on \/ off: \*\*\d+\.\d\dx\*\*/);
    assert.match(md, /\| RSA 2048 \| \d+\.\d{3} ms \|\n\| Ed25519 \| \d+\.\d{3} ms \|/);
    assert.match(md, /\| ARC set \(AAR, AMS, ARC-Seal; RSA 2048\) \| \d+\.\d{3} ms \|/);
  } finally {
    await rm(out, { recursive: true, force: true });
  }
});

test('checks and spam filter together (bench/spam-mx.ts), smoke size', { timeout: 120_000 }, async () => {
  const out = await mkdtemp(join(tmpdir(), 'mailroom-bench-spam-mx-'));
  try {
    const r = await runProgram(process.execPath, ['--import', 'tsx', join(ROOT, 'bench/spam-mx.ts'), '--smoke', '--out', out], 110_000);
    assert.equal(r.code, 0, r.stderr);
    const md = await readFile(join(out, 'spam-mx.md'), 'utf8');
    assert.doesNotMatch(md, /CHECK FAILED/);
    assert.match(md, /\| everything off \(no checks, `--spam off`\) \| \d+ ms \| \d+ msg\/s \|/);
    assert.match(md, /\| everything on \(SPF x2, DKIM, DMARC, ARC, spam filter\) \| \d+ ms \| \d+ msg\/s \|/);
    assert.match(md, /Throughput with everything on \/ off: \*\*\d+\.\d\dx\*\*/);
    assert.match(md, /; 12 carried arc=pass\./, 'every 10th of 2 x 60 messages came ARC-sealed and verified');
  } finally {
    await rm(out, { recursive: true, force: true });
  }
});
