/**
 * Spam filter accuracy on the synthetic corpus (spam-corpus.ts): trains one user's built-in filter on one
 * half (the messages at even positions) through SpamFilter.train, as the Junk-folder training does, and
 * classifies the other half with SpamFilter.check, as delivery does. Reports spam caught, ham misfiled
 * (filed into Junk), and the unsure band.
 *
 *   node --import tsx bench/spam-accuracy.ts [--messages 2000] [--seed 1] [--json]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../src/store/index.js';
import { SpamFilter } from '../src/spam/index.js';
import { spamCorpus, withAuthResults, type CorpusMessage } from './spam-corpus.js';

export interface Accuracy {
  trained: { spam: number; ham: number };
  tested: { spam: number; ham: number };
  spamCaught: number;
  hamMisfiled: number;
  /** Tested messages scored in the unsure band (0.2 .. threshold), by class. */
  unsure: { spam: number; ham: number };
  spamCaughtRate: number;
  hamMisfiledRate: number;
  /** Misfiled ham and missed spam by kind. */
  errors: Record<string, number>;
  trainMs: number;
  checkMs: number;
}

export async function measureAccuracy(messages: readonly CorpusMessage[]): Promise<Accuracy> {
  const dir = mkdtempSync(join(tmpdir(), 'mailroom-spam-acc-'));
  const store = await openStore({ dataDir: dir, fsync: false });
  try {
    const user = await store.directory.createUser('alex@mailroom.example', '$test$hash');
    const filter = new SpamFilter(store);
    const a: Accuracy = { trained: { spam: 0, ham: 0 }, tested: { spam: 0, ham: 0 }, spamCaught: 0, hamMisfiled: 0, unsure: { spam: 0, ham: 0 }, spamCaughtRate: 0, hamMisfiledRate: 0, errors: {}, trainMs: 0, checkMs: 0 };
    let t = performance.now();
    for (let i = 0; i < messages.length; i += 2) {
      const m = messages[i]!;
      await filter.train(user.id, withAuthResults(m), m.spam ? 'spam' : 'ham');
      a.trained[m.spam ? 'spam' : 'ham']++;
    }
    a.trainMs = performance.now() - t;
    t = performance.now();
    for (let i = 1; i < messages.length; i += 2) {
      const m = messages[i]!;
      const v = await filter.check(user.id, withAuthResults(m), { authResults: m.authResults });
      const cls = m.spam ? 'spam' : 'ham';
      a.tested[cls]++;
      if (v.isSpam && m.spam) a.spamCaught++;
      if (v.isSpam && !m.spam) a.hamMisfiled++;
      if (!v.isSpam && v.probability > 0.2) a.unsure[cls]++;
      if (v.isSpam !== m.spam) a.errors[m.kind] = (a.errors[m.kind] ?? 0) + 1;
    }
    a.checkMs = performance.now() - t;
    a.spamCaughtRate = a.tested.spam ? a.spamCaught / a.tested.spam : 0;
    a.hamMisfiledRate = a.tested.ham ? a.hamMisfiled / a.tested.ham : 0;
    return a;
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
}

if (process.argv[1] && /spam-accuracy\.ts$/.test(process.argv[1])) {
  const n = arg('--messages', 2000);
  const seed = arg('--seed', 1);
  const a = await measureAccuracy(spamCorpus(n, seed));
  if (process.argv.includes('--json')) console.log(JSON.stringify(a, null, 2));
  else {
    const pct = (x: number): string => `${(100 * x).toFixed(2)}%`;
    console.log(`corpus: ${n} messages, seed ${seed}; trained ${a.trained.spam} spam + ${a.trained.ham} ham; tested ${a.tested.spam} spam + ${a.tested.ham} ham`);
    console.log(`spam caught: ${a.spamCaught}/${a.tested.spam} (${pct(a.spamCaughtRate)})`);
    console.log(`ham misfiled into Junk: ${a.hamMisfiled}/${a.tested.ham} (${pct(a.hamMisfiledRate)})`);
    console.log(`unsure (kept in INBOX): ${a.unsure.spam} spam, ${a.unsure.ham} ham; errors by kind: ${JSON.stringify(a.errors)}`);
    console.log(`training ${(a.trainMs / (a.trained.spam + a.trained.ham)).toFixed(2)} ms/message, checking ${(a.checkMs / (a.tested.spam + a.tested.ham)).toFixed(2)} ms/message`);
  }
}
