/**
 * What the Sieve stage reads per recipient in one store read (SieveStore.deliveryState): the same as
 * activeRevision and getVacation, and a script replaced, switched, deactivated or a vacation setting changed
 * between two deliveries is what the next delivery runs (nothing of the earlier state is kept).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../src/store/index.js';
import { DEFAULT_SIEVE_QUOTA, VACATION_OFF } from '../src/store/sieve.js';
import { runStages, type LocalMessage } from '../src/delivery/pipeline.js';
import { createSieveStage } from '../src/sieve/stage.js';
import { silentLogger } from '../src/lib/logger.js';

const ALICE = 'alice@example.org';

function local(userId: number, subject: string): LocalMessage {
  const raw = Buffer.from(`From: <s@remote.test>\r\nTo: <${ALICE}>\r\nSubject: ${subject}\r\nMessage-ID: <${subject.replace(/\W/g, '')}@remote.test>\r\n\r\nHello.\r\n`);
  return { userId, address: ALICE, recipient: ALICE, members: [ALICE], tag: null, envelopeFrom: 's@remote.test', transport: 'lmtp', raw, facts: {} };
}

test('deliveryState answers as activeRevision and getVacation; changes between deliveries are seen at once', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mailroom-sieve-state-'));
  const store = await openStore({ dataDir: dir, fsync: false });
  try {
    const { id } = await store.directory.createUser(ALICE, '$test$hash');
    const state = () => store.sieve.deliveryState!(id);
    const separately = async () => ({ active: await store.sieve.activeRevision(id), vacation: await store.sieve.getVacation(id) });
    assert.deepEqual(await state(), { active: null, vacation: VACATION_OFF });
    assert.deepEqual(await state(), await separately());
    assert.deepEqual(await store.sieve.deliveryState!(id + 1000), { active: null, vacation: VACATION_OFF }, 'no such user: nothing');

    const stage = [createSieveStage({ store, hostname: 'mx.example.org', logger: silentLogger })];
    const targets = async (subject: string) => (await runStages(stage, local(id, subject), silentLogger)).targets.map((t) => t.mailbox);
    assert.deepEqual(await targets('one'), ['INBOX'], 'no script: kept');

    assert.equal(await store.sieve.putScript(id, 'main', 'require "fileinto"; fileinto "A";', DEFAULT_SIEVE_QUOTA), 'ok');
    await store.sieve.setActive(id, 'main');
    assert.deepEqual(await targets('two'), ['A']);
    assert.deepEqual(await state(), await separately());

    assert.equal(await store.sieve.putScript(id, 'main', 'require "fileinto"; fileinto "B";', DEFAULT_SIEVE_QUOTA), 'ok');
    assert.deepEqual(await targets('three'), ['B'], 'the replaced script runs at once');
    assert.equal(await store.sieve.putScript(id, 'other', 'discard;', DEFAULT_SIEVE_QUOTA), 'ok');
    await store.sieve.setActive(id, 'other');
    assert.deepEqual(await targets('four'), [], 'the newly activated script runs');
    await store.sieve.renameScript(id, 'other', 'renamed');
    assert.deepEqual((await state()).active?.name, 'renamed');
    assert.deepEqual(await targets('five'), [], 'a renamed active script keeps running');
    await store.sieve.setActive(id, null);
    assert.deepEqual(await targets('six'), ['INBOX'], 'deactivated: kept');

    const vacation = { enabled: true, subject: 'Away', textBody: 'Back soon.', htmlBody: null, fromDate: null, toDate: null };
    await store.sieve.setVacation(id, vacation);
    assert.deepEqual((await state()).vacation, vacation);
    assert.deepEqual(await state(), await separately());
    const d = await runStages(stage, local(id, 'seven'), silentLogger);
    assert.ok(d.after.length > 0, 'the vacation setting set a moment ago answers (a reply queued after the commit)');
    await store.sieve.setVacation(id, { ...vacation, enabled: false });
    assert.equal((await runStages(stage, local(id, 'eight'), silentLogger)).after.length, 0, 'and is off at once');
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
