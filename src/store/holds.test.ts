import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ExpungeHolds } from './holds.js';

describe('expunge holds: a holder\'s own expunge', () => {
  test('a hold running an exempt expunge does not hold the mailbox; it holds again when the expunge settles', async () => {
    const holds = new ExpungeHolds(() => undefined);
    const a = holds.hold(7, 0);
    assert.equal(holds.holding(7), true);
    const seen = await a.exempt(async () => holds.holding(7));
    assert.equal(seen, false);
    assert.equal(holds.holding(7), true);
    await assert.rejects(
      a.exempt(async () => {
        throw new Error('store failed');
      }),
      /store failed/,
    );
    assert.equal(holds.holding(7), true, 'a failed expunge ends the exemption too');
  });

  test('other holds of the mailbox, and those of linked processes, still hold during an exempt expunge', async () => {
    const holds = new ExpungeHolds(() => undefined);
    const a = holds.hold(7, 0);
    const b = holds.hold(7, 0);
    assert.equal(await a.exempt(async () => holds.holding(7)), true);
    b.release();
    assert.equal(await a.exempt(async () => holds.holding(7)), false);
    holds.setRemote(new Map([[7, 3]]));
    assert.equal(await a.exempt(async () => holds.holding(7)), true);
    assert.equal(holds.holding(8), false);
  });
});
