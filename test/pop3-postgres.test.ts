/**
 * POP3 on the PostgreSQL store with two nodes sharing one database: the maildrop lock holds across nodes
 * ([IN-USE]), deletions committed on one node are what the other node's next login sees, an IMAP IDLE on
 * the other node hears the POP3 expunge, and RETR bytes are exact. Needs PostgreSQL on 127.0.0.1:5432
 * (see support/postgres.ts): the test fails loudly without it, like the store's own tests.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';
import { openPostgresStore } from '../src/store/postgres/index.js';
import { Authenticator, hashPassword } from '../src/auth/index.js';
import { createPop3Service } from '../src/pop3-server/index.js';
import { createImapService } from '../src/imap-server/index.js';
import { envelopeImapText } from '../src/imap/wire/envelope-text.js';
import type { Store } from '../src/store/handle.js';
import type { NetService } from '../src/lib/service.js';
import { RawPop3, message, unstuff, USER, PASSWORD } from './pop3-helpers.js';

let db: TestDatabase;
before(async () => {
  db = await createTestDatabase();
});
after(async () => {
  await db?.drop();
});

interface Node {
  store: Store;
  pop3: NetService;
  pop3Port: number;
}

async function node(schema: string, name: string): Promise<Node> {
  const store = await openPostgresStore({ url: db.url, schema, fsync: false, poolSize: 4, nodeName: name, listenBackoffMs: { min: 20, max: 200 }, envelopeText: envelopeImapText });
  const pop3 = createPop3Service({ store, auth: new Authenticator(store.directory, { failureDelayMs: 0 }), hostname: name });
  const { port } = await pop3.listen({ host: '127.0.0.1', port: 0, implicitTls: false });
  return { store, pop3, pop3Port: port };
}

async function until(c: RawPop3, re: RegExp): Promise<string[]> {
  const seen: string[] = [];
  for (;;) {
    const l = await c.line();
    seen.push(l);
    if (re.test(l)) return seen;
  }
}

test('two nodes on PostgreSQL: [IN-USE] across nodes, deletions and IMAP IDLE across nodes, exact bytes', { timeout: 60_000 }, async (t) => {
  const a = await node('pop3_nodes', 'node-a');
  const b = await node('pop3_nodes', 'node-b');
  let imap: NetService | null = null;
  t.after(async () => {
    await imap?.close();
    await Promise.all([a.pop3.close(), b.pop3.close()]);
    await Promise.all([a.store.close(), b.store.close()]);
  });
  const user = await a.store.directory.createUser(USER, await hashPassword(PASSWORD));
  const inbox = (await a.store.mail.getMailbox(user.id, 'INBOX'))!;
  const tricky = Buffer.concat([Buffer.from('Subject: pg\r\n\r\n.dot\r\n'), Buffer.from([0xc3, 0xa9, 0xff, 0x0d, 0x0a]), Buffer.from('.end')]);
  await a.store.mail.append(inbox.id, tricky);
  await a.store.mail.append(inbox.id, Buffer.from(message('pg2')));
  await a.store.mail.append(inbox.id, Buffer.from(message('pg3')));

  imap = createImapService({ store: b.store, auth: new Authenticator(b.store.directory, { failureDelayMs: 0 }), hostname: 'imap-b' });
  const imapPort = (await imap.listen({ host: '127.0.0.1', port: 0, implicitTls: false })).port;
  const i = await RawPop3.connect(imapPort);
  await i.line();
  i.send(`a1 LOGIN "${USER}" "${PASSWORD}"\r\na2 SELECT INBOX\r\n`);
  await until(i, /^a2 OK/);
  i.send('a3 IDLE\r\n');
  assert.match(await i.line(), /^\+ /);

  const { c: ca } = await RawPop3.open(a.pop3Port);
  assert.match(await ca.login(), /^\+OK Logged in; maildrop has 3 messages/);
  const { c: cb } = await RawPop3.open(b.pop3Port);
  assert.equal(await cb.login(), '-ERR [IN-USE] Mailbox is locked by another POP3 session');
  const r = await ca.multi('RETR 1');
  assert.equal(r.status, `+OK ${tricky.length} octets`);
  assert.deepEqual(unstuff(r.body!), Buffer.concat([tricky, Buffer.from('\r\n')]));
  assert.equal(await ca.cmd('DELE 1'), '+OK Message 1 deleted');
  assert.equal(await ca.cmd('DELE 3'), '+OK Message 3 deleted');
  assert.match(await ca.cmd('QUIT'), /\(2 messages deleted\)$/);
  await ca.closed();

  // IMAP on node B hears the expunges committed through node A.
  const expunges: string[] = [];
  while (expunges.length < 2) expunges.push(...(await until(i, /^\* \d+ EXPUNGE$/)).filter((l) => l.endsWith('EXPUNGE')));
  // Messages 1 and 3 of three: "* 3" then "* 1", or "* 1" then "* 2" (sequence numbers shift after each).
  assert.ok(['* 3 EXPUNGE|* 1 EXPUNGE', '* 1 EXPUNGE|* 2 EXPUNGE'].includes(expunges.join('|')), expunges.join('|'));
  i.send('DONE\r\na4 LOGOUT\r\n');
  await until(i, /^a4 /);

  assert.match(await cb.login(), /^\+OK Logged in; maildrop has 1 message /);
  assert.match(unstuff((await cb.multi('RETR 1')).body!).toString(), /Subject: pg2/);
  // A dropped connection on node B releases the lock for node A.
  cb.destroy();
  const { c: ca2 } = await RawPop3.open(a.pop3Port);
  let reply = '';
  for (let k = 0; k < 250 && !reply.startsWith('+OK'); k++) {
    reply = await ca2.login();
    if (!reply.startsWith('+OK')) await new Promise((res) => setTimeout(res, 20));
  }
  assert.match(reply, /^\+OK Logged in; maildrop has 1 message /);
  assert.match(await ca2.cmd('QUIT'), /^\+OK/);
});
