import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StoreError, type StoreErrorCode } from '../store/types.js';
import { storeErrorCompletion } from './errors.js';

test('every StoreError code maps to one tagged NO with a response code', () => {
  const want: Record<StoreErrorCode, string> = {
    NOT_FOUND: 'NONEXISTENT',
    EXISTS: 'ALREADYEXISTS',
    NO_PERM: 'CANNOT',
    HAS_CHILDREN: 'HASCHILDREN',
    INVALID: 'CANNOT',
    OVER_QUOTA: 'OVERQUOTA',
    TOO_BIG: 'TOOBIG',
    TEMPORARY: 'UNAVAILABLE',
  };
  for (const [code, resp] of Object.entries(want) as Array<[StoreErrorCode, string]>) {
    const c = storeErrorCompletion(new StoreError(code, 'x'));
    assert.equal(c?.status, 'NO', code);
    assert.equal(c?.code, resp, code);
  }
  assert.equal(storeErrorCompletion(new Error('not a store error')), null);
  assert.equal(storeErrorCompletion('string'), null);
});
