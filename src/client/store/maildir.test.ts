import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, readFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Maildir, flagsToInfo, infoToFlags, isValidMaildirName, fileKey } from './maildir.js';

test('flags <-> info letters, sorted, unknown keywords dropped', () => {
  assert.equal(flagsToInfo(['\\Seen', '\\Answered', '\\Flagged', 'custom', '\\Draft', '\\Deleted', '$Forwarded']), 'DFPRST');
  assert.equal(flagsToInfo(['\\seen']), 'S');
  assert.deepEqual(infoToFlags('123.M1P2Q3.host,S=10:2,FS').sort(), ['\\Flagged', '\\Seen']);
  assert.deepEqual(infoToFlags('123.M1P2Q3.host'), []);
  assert.equal(fileKey('a.b.c:2,S'), 'a.b.c');
});

test('name validation is strict', () => {
  assert.equal(isValidMaildirName('1700000000.M1P2Q3.host,S=5', 'new'), true);
  assert.equal(isValidMaildirName('1700000000.M1P2Q3.host,S=5:2,FS', 'cur'), true);
  assert.equal(isValidMaildirName('1700000000.M1P2Q3.host,S=5:2,SF', 'cur'), false, 'unsorted');
  assert.equal(isValidMaildirName('1700000000.M1P2Q3.host,S=5:2,SS', 'cur'), false, 'duplicate');
  assert.equal(isValidMaildirName('1700000000.M1P2Q3.host:2,S', 'new'), false, 'info in new/');
  assert.equal(isValidMaildirName('.hidden', 'new'), false);
  assert.equal(isValidMaildirName('nodots', 'new'), false);
});

test('deliver, find after an outside rename, set flags, remove', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mailroom-maildir-'));
  try {
    const md = new Maildir(join(dir, 'box')).ensure();
    const body = Buffer.from([0x46, 0x72, 0x6f, 0x6d, 0x3a, 0x20, 0xff, 0x0d, 0x0a, 0x0d, 0x0a, 0x80]);
    const a = md.deliver(body);
    assert.equal(a.sub, 'new');
    assert.ok(isValidMaildirName(readdirSync(join(dir, 'box', 'new'))[0] as string, 'new'));
    assert.deepEqual(readdirSync(join(dir, 'box', 'tmp')), []);
    assert.ok(readFileSync(a.path).equals(body), '8-bit bytes unchanged');
    // a mail reader moves it to cur/ and marks it seen
    renameSync(a.path, join(dir, 'box', 'cur', `${a.key}:2,S`));
    const found = md.find(a.key, a.path);
    assert.ok(found);
    assert.deepEqual(found.flags, ['\\Seen']);
    const f = md.setFlags(a.key, ['\\Flagged', '\\Seen']);
    assert.ok(f);
    assert.ok(f.path.endsWith(':2,FS'));
    assert.ok(isValidMaildirName(f.path.slice(f.path.lastIndexOf('/') + 1), 'cur'));
    const b = md.deliver(Buffer.from('x'), { flags: ['\\Seen'] });
    assert.notEqual(a.key, b.key);
    assert.equal(md.list().length, 2);
    assert.equal(md.remove(a.key), true);
    assert.equal(md.remove(a.key), false);
    assert.equal(md.read(a.key), null);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('two-phase delivery: staged files are invisible until published; find() recovers a recorded staged file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mailroom-maildir-'));
  try {
    const md = new Maildir(join(dir, 'box')).ensure();
    const a = await md.stage(Buffer.from('one'), { asNew: true });
    const b = await md.stage(Buffer.from('two'), { flags: ['\\Seen'] });
    assert.equal(md.list().length, 0, 'nothing visible to readers yet');
    assert.ok(b.path.endsWith(':2,S'));
    md.publish(a);
    md.syncDirs();
    assert.deepEqual(md.list().map((f) => f.key), [a.key]);
    // b was "recorded" but the process stopped before publish: find() publishes it
    const found = md.find(b.key, b.path);
    assert.ok(found);
    assert.equal(readFileSync(found.path, 'utf8'), 'two');
    assert.equal(md.list().length, 2);
    assert.deepEqual(md.staleTmp(0, Date.now() + 1000), []);
    const c = await md.stage(Buffer.from('three'));
    // a 'now' a second ahead: file mtimes have sub-millisecond precision and can be ahead of Date.now()
    assert.deepEqual(md.staleTmp(0, Date.now() + 1000).map((t) => t.key), [c.key]);
    assert.deepEqual(md.staleTmp(60_000), [], 'fresh tmp files are left alone');
    md.discard(c);
    assert.deepEqual(readdirSync(join(dir, 'box', 'tmp')), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
