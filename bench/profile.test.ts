/** The CPU profile summary: source map VLQ decoding, sampling windows, native time charged to the src/ caller. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeVlq } from './lib/sourcemap.js';
import { summarizeProfile, type CpuProfile } from './profile.js';

test('bench profile summary: VLQ decoding, window slicing and time charged to the src/ caller', () => {
  assert.deepEqual(decodeVlq('AAgBC'), [0, 0, 16, 1]);
  assert.deepEqual(decodeVlq('D'), [-1]);
  assert.throws(() => decodeVlq('!'), /bad VLQ/);
  const frame = (functionName: string, url: string): { functionName: string; url: string; lineNumber: number } => ({ functionName, url, lineNumber: 9 });
  const profile: CpuProfile = {
    nodes: [
      { id: 1, callFrame: frame('(root)', ''), children: [2, 4] },
      { id: 2, callFrame: frame('append', 'file:///x/src/store/sqlite/store.ts'), children: [3] },
      { id: 3, callFrame: frame('fsync', ''), children: [] },
      { id: 4, callFrame: frame('(idle)', ''), children: [] },
    ],
    startTime: 1_000_000,
    endTime: 1_000_000 + 40_000,
    // samples at +10 ms (fsync), +20 ms (fsync), +30 ms (append), +40 ms (idle)
    samples: [3, 3, 2, 4],
    timeDeltas: [10_000, 10_000, 10_000, 10_000],
  };
  const all = summarizeProfile(profile);
  assert.equal(all.owners[0]!.name, 'append', 'native time is charged to the src/ caller');
  assert.equal(all.owners[0]!.where, 'src/store/sqlite/store.ts:10');
  assert.ok(all.areas.some((a) => a.area === 'src/store'));
  const early = summarizeProfile(profile, 10, [[1_005_000, 1_015_000]]);
  assert.equal(early.functions.length, 1);
  assert.equal(early.functions[0]!.name, 'fsync', 'only samples inside the window count');
});
