/**
 * Shared mailboxes with real clients: imapflow as bob (and carol) against alice's "Projects" shared with
 * SETACL, and python3 imaplib's own ACL calls (setacl, getacl, myrights, deleteacl, namespace). bob finds
 * it under the other-users namespace, opens it read-only with "lr", his \Seen stays his own with "lrswi",
 * he appends into it, his IDLE wakes on alice's append, `anyone` shows it to carol, and revoking takes it
 * out of their LIST.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { ImapFlow, type ListResponse } from 'imapflow';
import { hashPassword } from '../src/auth/index.js';
import { RawClient, startImap, USER, PASSWORD, message, type ImapFixture } from './imap-helpers.js';

const SHARED = 'shared/alice@example.org/Projects';

function client(port: number, user: string): ImapFlow {
  return new ImapFlow({ host: '127.0.0.1', port, secure: false, auth: { user, pass: PASSWORD }, logger: false });
}

function waitFor<T>(emitter: ImapFlow, event: string, ms = 3000): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timeout waiting for ${event}`)), ms);
    emitter.once(event, (v: T) => {
      clearTimeout(t);
      resolve(v);
    });
  });
}

const paths = (l: ListResponse[]): string[] => l.map((e) => e.path);

/** Runs a python3 script (the server runs in this process, so never synchronously). */
function python(script: string, ...args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('python3', ['-c', script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    const timer = setTimeout(() => child.kill(), 20_000);
    child.on('error', reject);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

describe('shared mailboxes with imapflow and imaplib', () => {
  let f: ImapFixture;
  let owner: RawClient;

  before(async () => {
    f = await startImap();
    const hash = await hashPassword(PASSWORD);
    await f.store.directory.createUser('bob@example.org', hash);
    await f.store.directory.createUser('carol@example.org', hash);
    await f.store.mail.createMailbox(f.user.id, 'Projects');
    await f.append(message('Kick-off', 'agenda'), [], 'Projects');
    owner = await RawClient.connect(f.port);
    await owner.login();
  });
  after(async () => {
    owner.close();
    await f.close();
  });

  test('lr: listed in the other-users namespace, READ-ONLY, MYRIGHTS lr', async () => {
    assert.equal(await owner.cmd('SETACL Projects bob@example.org lr', 's'), 's OK Setacl complete.\r\n');
    const bob = client(f.port, 'bob@example.org');
    await bob.connect();
    try {
      const other = (bob as unknown as { namespaces?: { other?: Array<{ prefix: string; delimiter: string }> } }).namespaces?.other;
      assert.deepEqual(other?.map((n) => n.prefix), ['shared/']);
      assert.ok(paths(await bob.list()).includes(SHARED));
      const mb = await bob.mailboxOpen(SHARED);
      assert.equal(mb.readOnly, true);
      assert.equal(mb.exists, 1);
      const msg = await bob.fetchOne('1', { source: true, envelope: true });
      assert.equal(msg && msg.envelope?.subject, 'Kick-off');
      // Read-only: imapflow does not even send the STORE.
      assert.equal(await bob.messageFlagsAdd('1', ['\\Seen']), false);
    } finally {
      await bob.logout();
    }
    const raw = await RawClient.connect(f.port);
    await raw.login('bob@example.org');
    assert.equal(await raw.cmd(`MYRIGHTS "${SHARED}"`, 'm'), `* MYRIGHTS ${SHARED} lr\r\nm OK Myrights completed.\r\n`);
    raw.close();
  });

  test('lrswi: private \\Seen, APPEND by bob, IDLE wakes on alice\'s append', async () => {
    assert.equal(await owner.cmd('SETACL Projects bob@example.org lrswi', 's'), 's OK Setacl complete.\r\n');
    const bob = client(f.port, 'bob@example.org');
    const alice = client(f.port, USER);
    await bob.connect();
    await alice.connect();
    try {
      const mb = await bob.mailboxOpen(SHARED);
      assert.equal(mb.readOnly, false);
      await bob.messageFlagsAdd('1', ['\\Seen']);
      const mine = await bob.fetchOne('1', { flags: true });
      assert.ok(mine && mine.flags?.has('\\Seen'));
      await alice.mailboxOpen('Projects');
      const hers = await alice.fetchOne('1', { flags: true });
      assert.equal(hers && hers.flags?.has('\\Seen'), false, 'alice still sees it unseen');
      const st = await alice.status('Projects', { unseen: true });
      assert.equal(st && st.unseen, 1);

      const app = await bob.append(SHARED, Buffer.from(message('From bob', 'notes')), ['\\Seen']);
      assert.ok(app && typeof app !== 'boolean' && app.uid === 2);
      const stored = await f.store.mail.listMessages((await f.store.mail.getMailbox(f.user.id, 'Projects'))!.id);
      assert.deepEqual(stored.map((m) => m.flags), [[], []], 'stored in alice\'s mailbox, without bob\'s \\Seen');

      const idling = bob.idle();
      await new Promise((r) => setTimeout(r, 50));
      const exists = waitFor<{ count: number }>(bob, 'exists');
      await alice.append('Projects', Buffer.from(message('From alice', 'update')));
      assert.equal((await exists).count, 3);
      await bob.noop();
      await idling.catch(() => undefined);
    } finally {
      await bob.logout();
      await alice.logout();
    }
  });

  test('anyone shows it to carol; revoking takes it out of LIST', async () => {
    assert.equal(await owner.cmd('SETACL Projects anyone lr', 's'), 's OK Setacl complete.\r\n');
    const carol = client(f.port, 'carol@example.org');
    await carol.connect();
    try {
      assert.ok(paths(await carol.list()).includes(SHARED));
      assert.equal(await owner.cmd('DELETEACL Projects anyone', 'd'), 'd OK Deleteacl complete.\r\n');
      assert.ok(!paths(await carol.list()).includes(SHARED));
    } finally {
      await carol.logout();
    }
    assert.equal(await owner.cmd('DELETEACL Projects bob@example.org', 'd2'), 'd2 OK Deleteacl complete.\r\n');
    const bob = client(f.port, 'bob@example.org');
    await bob.connect();
    try {
      assert.ok(!paths(await bob.list()).some((p) => p.startsWith('shared')));
      await assert.rejects(bob.mailboxOpen(SHARED));
    } finally {
      await bob.logout();
    }
  });

  test('python imaplib: namespace, setacl, getacl, myrights, deleteacl', async () => {
    const script = `
import imaplib, sys
port = int(sys.argv[1])
a = imaplib.IMAP4('127.0.0.1', port); a.login('${USER}', '${PASSWORD}')
print(a.namespace())
print(a.setacl('Projects', 'bob@example.org', 'lrs'))
print(a.getacl('Projects'))
b = imaplib.IMAP4('127.0.0.1', port); b.login('bob@example.org', '${PASSWORD}')
print(b.myrights('"${SHARED}"'))
print(b.select('"${SHARED}"'))
print(b.setacl('"${SHARED}"', 'bob@example.org', 'lrswipkxtea'))
print(a.deleteacl('Projects', 'bob@example.org'))
print(b.myrights('"${SHARED}"'))
`;
    const r = await python(script, String(f.port));
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines[0], `('OK', [b'(("" "/")) (("shared/" "/")) (("Public/" "/"))'])`);
    assert.equal(lines[1], `('OK', [b'Setacl complete.'])`);
    assert.equal(lines[2], `('OK', [b'Projects alice@example.org lrwstipekxacd bob@example.org lrs'])`);
    assert.equal(lines[3], `('OK', [b'${SHARED} lrs'])`);
    assert.match(lines[4]!, /^\('OK', \[b'3'\]\)$/);
    assert.equal(lines[5], `('NO', [b'[NOPERM] Permission denied'])`);
    assert.equal(lines[6], `('OK', [b'Deleteacl complete.'])`);
    assert.equal(lines[7], `('NO', [b'[NONEXISTENT] Mailbox does not exist'])`);
  });
});
