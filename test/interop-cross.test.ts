/**
 * Two real clients on one mailbox through different protocols: mbsync (IMAP, Maildir) and python3 poplib
 * (POP3). What POP3 retrieves and deletes must show up in mbsync's next sync, and what mbsync deletes must be
 * gone from the next POP3 session.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ALICE, ALICE_PASS, describeRun, listMaildir, messageId, runTool, skipUnless, sortedFlags, startServer, tempDir, testMessage } from './helpers/interop.js';

const POP_SCRIPT = String.raw`
import json, poplib, sys
p = poplib.POP3('127.0.0.1', int(sys.argv[1]), timeout=10)
p.user(sys.argv[2]); p.pass_(sys.argv[3])
out = {'stat': list(p.stat()), 'retr': []}
for n in json.loads(sys.argv[4]):
    out['retr'].append(b'\r\n'.join(p.retr(n)[1]).decode('latin1'))
for n in json.loads(sys.argv[5]):
    p.dele(n)
out['quit'] = p.quit().decode()
print(json.dumps(out))
`;

test('mbsync and POP3 on one INBOX: POP3 RETR/DELE seen by the next sync, an mbsync deletion gone from the next POP3 session', { skip: skipUnless('mbsync', 'python3') }, async (t) => {
  const s = await startServer(t);
  const msgs = [1, 2, 3, 4, 5].map((n) => testMessage(n));
  for (const raw of msgs) await s.append('INBOX', raw);
  const dir = await tempDir(t, 'cross');
  const home = join(dir, 'home');
  const mail = join(dir, 'mail');
  await mkdir(home);
  await mkdir(mail);
  const rc = join(dir, 'mbsyncrc');
  await writeFile(
    rc,
    [
      'IMAPAccount a',
      'Host 127.0.0.1',
      `Port ${s.port('imap')}`,
      `User ${ALICE}`,
      `Pass ${ALICE_PASS}`,
      'SSLType None',
      '',
      'IMAPStore remote',
      'Account a',
      '',
      'MaildirStore local',
      `Path ${mail}/`,
      `Inbox ${mail}/INBOX`,
      '',
      'Channel c',
      'Far :remote:INBOX',
      'Near :local:INBOX',
      'Create Both',
      'Expunge Both',
      'SyncState *',
      '',
    ].join('\n'),
  );
  const sync = async (): Promise<void> => {
    const r = await runTool('mbsync', ['-c', rc, 'c'], { home, timeoutMs: 60_000 });
    assert.equal(r.code, 0, describeRun('mbsync', r));
  };
  const pop = async (retr: number[], dele: number[]): Promise<{ stat: [number, number]; retr: string[]; quit: string }> => {
    const r = await runTool('python3', ['-c', POP_SCRIPT, String(s.port('pop3')), ALICE, ALICE_PASS, JSON.stringify(retr), JSON.stringify(dele)], { home, timeoutMs: 20_000 });
    assert.equal(r.code, 0, describeRun('python3', r));
    return JSON.parse(r.stdout) as { stat: [number, number]; retr: string[]; quit: string };
  };
  const localState = async (): Promise<Array<[string, string]>> =>
    (await Promise.all((await listMaildir(join(mail, 'INBOX'))).map(async (e) => [messageId(await readFile(e.path)), e.flags] as [string, string]))).sort();

  await sync();
  assert.deepEqual(await localState(), msgs.map((m) => [messageId(m), '']).sort());

  // POP3: retrieve 1 and 2, delete 3.
  const p1 = await pop([1, 2], [3]);
  assert.equal(p1.stat[0], 5);
  assert.equal(p1.retr[0] + '\r\n', msgs[0]!.toString('latin1'));
  assert.match(p1.quit, /^\+OK/);
  assert.deepEqual(
    (await s.messages('INBOX')).map((m) => [messageId(m.raw), sortedFlags(m.flags)]),
    [
      [messageId(msgs[0]!), ['\\Seen']],
      [messageId(msgs[1]!), ['\\Seen']],
      [messageId(msgs[3]!), []],
      [messageId(msgs[4]!), []],
    ],
  );

  await sync();
  assert.deepEqual(
    await localState(),
    [
      [messageId(msgs[0]!), 'S'],
      [messageId(msgs[1]!), 'S'],
      [messageId(msgs[3]!), ''],
      [messageId(msgs[4]!), ''],
    ].sort(),
    'the POP3 deletion and \\Seen flags reached the Maildir',
  );

  // mbsync deletes message 4 (T + Expunge Both); the next POP3 session no longer lists it.
  const e4 = (await listMaildir(join(mail, 'INBOX'))).find((e) => e.flags === '');
  assert.ok(e4);
  const id4 = messageId(await readFile(e4.path));
  await rename(e4.path, join(mail, 'INBOX', 'cur', `${e4.name.replace(/:2,.*$/, '')}:2,T`));
  await sync();
  const p2 = await pop([], []);
  assert.equal(p2.stat[0], 3);
  assert.deepEqual(
    (await s.messages('INBOX')).map((m) => messageId(m.raw)).sort(),
    msgs.map(messageId).filter((id) => id !== messageId(msgs[2]!) && id !== id4).sort(),
  );
});
