/**
 * Folders against Dovecot (names in modified UTF-7, RFC 3501 section 5.1.3) and mailroom's server
 * (UTF8=ACCEPT, RFC 6855): non-ASCII and "&" names round-trip through LIST, moves and flag changes; a
 * message another client MOVEs (RFC 6851) shows once, in its new folder; offline changes to one message
 * (flag, then move) reach the server in the order made; a folder renamed on the server comes back under
 * its new name with its messages once.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImapFlow } from 'imapflow';
import { startDovecot, dovecotAvailable, type Dovecot } from '../support/dovecot.js';
import { createImapService } from '../src/imap-server/index.js';
import { openServerStore } from '../src/server/store.js';
import { Authenticator } from '../src/auth/index.js';
import type { Store } from '../src/store/handle.js';
import type { NetService } from '../src/lib/service.js';
import { tempProfile, engine, sampleMessage, PASSWORD_ENV } from './helpers/client.js';
import type { ImapReport } from '../src/client/imap/syncer.js';

const PW = 'secret';
const CAFE = 'Café ☕';
const RND = 'R&D';
const TEA = 'Thé 🍵';

interface Server {
  port: number;
  user: string;
  session(): Promise<ImapFlow>;
}

async function serverFolder(srv: Server, folder: string): Promise<Array<[string, boolean]>> {
  const c = await srv.session();
  try {
    const mb = await c.mailboxOpen(folder);
    if (mb.exists === 0) return [];
    return (await c.fetchAll('1:*', { uid: true, flags: true, envelope: true })).map((m) => [m.envelope?.subject ?? '', m.flags?.has('\\Flagged') ?? false] as [string, boolean]).sort();
  } finally {
    await c.logout();
  }
}

async function folderScenario(srv: Server): Promise<void> {
  const c = await srv.session();
  for (const f of [CAFE, RND, 'Archive']) await c.mailboxCreate(f);
  for (const s of ['moved on server', 'to cafe', 'to rnd']) await c.append('INBOX', sampleMessage(s));
  await c.logout();

  const p = tempProfile();
  const e = engine(p.dir, PW);
  try {
    e.addAccount({ name: 'f', protocol: 'imap', host: '127.0.0.1', port: srv.port, user: srv.user, password: { kind: 'env', name: PASSWORD_ENV } });
    const r1 = (await e.syncAccount('f')) as ImapReport;
    assert.deepEqual(r1.failed, []);
    const names = e.folders().map((f) => f.path);
    for (const f of [CAFE, RND, 'Archive', 'INBOX']) assert.ok(names.includes(f), `folder ${f} listed by its Unicode name (got ${names.join(', ')})`);
    // Every folder's messages (list() without a folder shows INBOX only).
    const all = () => e.state.query({ accounts: ['f'] });
    const row = (s: string) => {
      const rows = all().filter((x) => x.summary.subject === s);
      assert.equal(rows.length, 1, `"${s}" is listed once (${rows.map((x) => x.folder).join(', ')})`);
      return rows[0] as (typeof rows)[number];
    };

    // Another client moves one message (MOVE when the server has it).
    const o = await srv.session();
    await o.mailboxOpen('INBOX');
    const moved = (await o.fetchAll('1:*', { uid: true, envelope: true })).find((m) => m.envelope?.subject === 'moved on server');
    assert.ok(moved);
    assert.ok(await o.messageMove(String(moved.uid), 'Archive', { uid: true }));
    await o.logout();

    // Offline: move one into the Unicode folder, flag another then move it into "R&D".
    e.move(row('to cafe').id, CAFE);
    e.flag(row('to rnd').id, 'flagged');
    e.move(row('to rnd').id, RND);
    const r2 = (await e.syncAccount('f')) as ImapReport;
    assert.deepEqual([r2.failed, r2.conflicts], [[], []]);
    assert.equal(r2.pushed, 3);

    assert.deepEqual(await serverFolder(srv, 'INBOX'), []);
    assert.deepEqual(await serverFolder(srv, CAFE), [['to cafe', false]]);
    assert.deepEqual(await serverFolder(srv, RND), [['to rnd', true]], 'flagged first, then moved: the flag travelled with it');
    assert.deepEqual(await serverFolder(srv, 'Archive'), [['moved on server', false]]);
    assert.equal(row('moved on server').folder, 'Archive');
    assert.equal(row('to cafe').folder, CAFE);
    assert.equal(row('to rnd').folder, RND);
    assert.ok(row('to rnd').uid !== null, 'the moved message has its server UID again');
    assert.equal(all().length, 3);

    // Renamed on the server: the folder comes back under its new name, its message once.
    const o2 = await srv.session();
    await o2.mailboxRename(CAFE, TEA);
    await o2.logout();
    const r3 = (await e.syncAccount('f')) as ImapReport;
    assert.deepEqual(r3.failed, []);
    const after = e.folders().map((f) => f.path);
    assert.ok(after.includes(TEA) && !after.includes(CAFE), after.join(', '));
    assert.equal(row('to cafe').folder, TEA);
    assert.equal(all().length, 3);
  } finally {
    e.close();
    p.cleanup();
  }
}

describe('folders: Unicode names, MOVE on the server, ordered offline changes (Dovecot)', { skip: dovecotAvailable() ?? false }, () => {
  let dc: Dovecot;
  before(async () => {
    dc = await startDovecot({ users: [{ user: 'fu', password: PW }] });
  });
  after(async () => {
    await dc?.stop();
  });
  test('modified UTF-7 names, MOVE, flag-then-move, rename', async () => {
    await folderScenario({
      port: dc.imapPort,
      user: 'fu',
      session: async () => {
        const c = new ImapFlow({ host: '127.0.0.1', port: dc.imapPort, secure: false, doSTARTTLS: false, auth: { user: 'fu', pass: PW }, logger: false, disableAutoIdle: true });
        await c.connect();
        return c;
      },
    });
  });
});

describe('folders: Unicode names, MOVE on the server, ordered offline changes (mailroom)', () => {
  let dir: string;
  let store: Store;
  let imap: NetService;
  let port = 0;
  const user = 'fu@example.org';
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mailroom-client-folders-'));
    store = await openServerStore({ dataDir: dir });
    await store.directory.addDomain('example.org');
    await store.directory.createUser(user, `{PLAIN}${PW}`);
    imap = createImapService({ store, auth: new Authenticator(store.directory, { failureDelayMs: 0 }), hostname: 'imap.test' });
    port = (await imap.listen({ host: '127.0.0.1', port: 0, implicitTls: false })).port;
  });
  after(async () => {
    await imap?.close();
    await store?.close();
    await rm(dir, { recursive: true, force: true });
  });
  test('UTF8=ACCEPT names, MOVE, flag-then-move, rename', async () => {
    await folderScenario({
      port,
      user,
      session: async () => {
        const c = new ImapFlow({ host: '127.0.0.1', port, secure: false, doSTARTTLS: false, auth: { user, pass: PW }, logger: false, disableAutoIdle: true });
        await c.connect();
        return c;
      },
    });
  });
});
