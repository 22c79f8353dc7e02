/**
 * getmail6 against mailroom: SimplePOP3Retriever and SimpleIMAPRetriever into a Maildir destination.
 * Messages must arrive byte for byte (getmail writes LF line ends and prepends a Return-Path field; its
 * Delivered-To/Received/X-getmail-retrieved-from-mailbox fields are turned off in the rc file), the oldmail file must stop re-fetching,
 * and delete = true must leave the server empty.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ALICE, ALICE_PASS, describeRun, listMaildir, messageId, runTool, skipUnless, sortedFlags, startServer, tempDir, testMessage, toCrlf, type InteropServer } from './helpers/interop.js';

interface Getmail {
  maildir: string;
  /** Runs getmail with the given retriever section options; returns its combined output. */
  run(retriever: Record<string, string>, options: Record<string, string>): Promise<string>;
  configDir: string;
}

/**
 * Runs /usr/bin/getmail with one fix to the client: getmail forks a child per Maildir delivery and learns of
 * its exit through a SIGCHLD handler installed after the fork, which on a loaded machine races the child
 * either way (a child that exits first goes unnoticed and getmail waits 60 s; a handler installed before the
 * fork can run before getmail has recorded the child's pid). Here the parent waits for its child with
 * waitpid(), the same outcome without the signal; nothing else of getmail changes.
 */
const GETMAIL = `
import os, sys, runpy
from getmailcore import baseclasses as b
def forkchild(self, childfun, with_out=True):
    self.child = child = b.Namespace()
    child.stdout = b.TemporaryFile23()
    child.stderr = b.TemporaryFile23()
    child.childpid = os.fork()
    if child.childpid == 0:
        childfun(child.stdout, child.stderr)
        os._exit(127)
    self.log.debug('spawned child %d\\n' % child.childpid)
    pid, status = os.waitpid(child.childpid, 0)
    if not os.WIFEXITED(status):
        raise b.getmailOperationError('child pid %d failed to exit' % pid)
    child.exitcode = os.WEXITSTATUS(status)
    child.stderr.seek(0)
    child.err = child.stderr.read().strip().decode()
    child.stdout.seek(0)
    if with_out:
        child.out = child.stdout.read().strip()
    return child
b.ForkingBase.forkchild = forkchild
sys.argv = ['getmail'] + sys.argv[1:]
runpy.run_path('/usr/bin/getmail', run_name='__main__')
`;

async function setup(t: Parameters<typeof tempDir>[0], name: string, server: InteropServer): Promise<Getmail> {
  const dir = await tempDir(t, name);
  const home = join(dir, 'home');
  const configDir = join(dir, 'getmail');
  const maildir = join(dir, 'Maildir');
  await mkdir(home);
  await mkdir(configDir);
  for (const sub of ['cur', 'new', 'tmp']) await mkdir(join(maildir, sub), { recursive: true });
  // getmail refuses to deliver as root; it then switches to `user` for the delivery, who must be able to write.
  const asRoot = process.getuid?.() === 0;
  if (asRoot) for (const d of [maildir, ...['cur', 'new', 'tmp'].map((s) => join(maildir, s))]) await chmod(d, 0o777);
  let n = 0;
  return {
    maildir,
    configDir,
    async run(retriever, options) {
      const rc = `getmailrc-${++n}`;
      const lines = [
        '[retriever]',
        ...Object.entries(retriever).map(([k, v]) => `${k} = ${v}`),
        '',
        '[destination]',
        'type = Maildir',
        `path = ${maildir}/`,
        ...(asRoot ? ['user = nobody'] : []),
        '',
        '[options]',
        'verbose = 2',
        'delivered_to = false',
        'received = false',
        ...Object.entries(options).map(([k, v]) => `${k} = ${v}`),
        '',
      ];
      await writeFile(join(configDir, rc), lines.join('\n'));
      const r = await runTool('/usr/bin/python3', ['-c', GETMAIL, `--getmaildir=${configDir}`, `--rcfile=${rc}`], { home, timeoutMs: 30_000 });
      assert.equal(r.code, 0, `${describeRun('getmail', r)}\n--- server log\n${server.log()}`);
      assert.doesNotMatch(r.stdout + r.stderr, /error/i, describeRun('getmail', r));
      return r.stdout + r.stderr;
    },
  };
}

/** A delivered file back in wire form: drop getmail's Return-Path line, LF -> CRLF. */
function wireForm(file: Buffer): Buffer {
  const text = file.toString('latin1');
  assert.match(text, /^Return-Path: <[^>\n]*>\n/);
  return toCrlf(Buffer.from(text.replace(/^Return-Path: [^\n]*\n/, ''), 'latin1'));
}

async function delivered(maildir: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for (const e of await listMaildir(maildir)) {
    const body = await readFile(e.path);
    assert.ok(!out.has(messageId(body)), `delivered twice: ${messageId(body)}`);
    out.set(messageId(body), wireForm(body));
  }
  return out;
}

async function seed(s: InteropServer, mailbox: string, from: number, count: number): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for (let n = from; n < from + count; n++) {
    const raw = testMessage(n, { attachment: n % 2 === 0 });
    await s.append(mailbox, raw);
    out.push(raw);
  }
  return out;
}

test('getmail6 POP3: byte-exact Maildir delivery, oldmail stops refetching, delete = true empties the server', { skip: skipUnless('getmail') }, async (t) => {
  const s = await startServer(t);
  const g = await setup(t, 'getmail-pop3', s);
  const first = await seed(s, 'INBOX', 1, 6);
  const retriever = { type: 'SimplePOP3Retriever', server: '127.0.0.1', port: String(s.port('pop3')), username: ALICE, password: ALICE_PASS };

  await g.run(retriever, { delete: 'false', read_all: 'false' });
  let got = await delivered(g.maildir);
  assert.equal(got.size, 6);
  for (const raw of first) assert.deepEqual(got.get(messageId(raw)), raw, messageId(raw));
  // Left on the server, marked \Seen by RETR (the POP3 server's default).
  const server = await s.messages('INBOX');
  assert.equal(server.length, 6);
  for (const m of server) assert.deepEqual(m.flags, ['\\Seen']);
  // getmail's oldmail file records the UIDLs, which are the messages' EMAILIDs.
  const oldmailName = (await readdir(g.configDir)).find((f) => f.startsWith('oldmail-'));
  assert.ok(oldmailName);
  const oldmail = (await readFile(join(g.configDir, oldmailName), 'utf8')).trim().split('\n').map((l) => l.split(/[\0 ]/)[0]);
  assert.deepEqual(oldmail.sort(), server.map((m) => m.emailId).sort());

  const out2 = await g.run(retriever, { delete: 'false', read_all: 'false' });
  assert.equal((await listMaildir(g.maildir)).length, 6, `second run fetched nothing new\n${out2}`);

  const more = await seed(s, 'INBOX', 7, 2);
  await g.run(retriever, { delete: 'false', read_all: 'false' });
  got = await delivered(g.maildir);
  assert.equal(got.size, 8);
  for (const raw of more) assert.deepEqual(got.get(messageId(raw)), raw);

  // A second getmail set-up (no oldmail) with delete = true takes everything and deletes it on the server.
  const g2 = await setup(t, 'getmail-pop3-delete', s);
  await g2.run(retriever, { delete: 'true', read_all: 'true' });
  got = await delivered(g2.maildir);
  assert.equal(got.size, 8);
  for (const raw of [...first, ...more]) assert.deepEqual(got.get(messageId(raw)), raw);
  assert.deepEqual(await s.messages('INBOX'), [], 'the server maildrop is empty after DELE + QUIT');
});

test('getmail6 IMAP: two mailboxes, byte-exact, no refetch, delete = true expunges on the server', { skip: skipUnless('getmail') }, async (t) => {
  const s = await startServer(t);
  const g = await setup(t, 'getmail-imap', s);
  const inbox = await seed(s, 'INBOX', 1, 4);
  const work = await seed(s, 'Work', 20, 3);
  await s.append('INBOX', testMessage(99, { subject: 'already read' }), ['\\Seen', '\\Flagged']);
  const retriever = {
    type: 'SimpleIMAPRetriever',
    server: '127.0.0.1',
    port: String(s.port('imap')),
    username: ALICE,
    password: ALICE_PASS,
    mailboxes: '("INBOX", "Work")',
    // No X-getmail-retrieved-from-mailbox field.
    record_mailbox: 'false',
  };

  await g.run(retriever, { delete: 'false', read_all: 'true' });
  let got = await delivered(g.maildir);
  assert.equal(got.size, 8);
  for (const raw of [...inbox, ...work]) assert.deepEqual(got.get(messageId(raw)), raw, messageId(raw));
  // getmail fetches with BODY.PEEK[] by default (use_peek): flags are untouched.
  const flagsAfter = new Map((await s.messages('INBOX')).map((m) => [messageId(m.raw), sortedFlags(m.flags)]));
  assert.deepEqual(flagsAfter.get('<interop-99@example.org>'), ['\\Flagged', '\\Seen']);
  for (const raw of inbox) assert.deepEqual(flagsAfter.get(messageId(raw)), [], 'BODY.PEEK[] does not set \\Seen');

  await g.run(retriever, { delete: 'false', read_all: 'false' });
  assert.equal((await listMaildir(g.maildir)).length, 8, 'oldmail: nothing fetched twice');
  await s.append('Work', testMessage(30));
  // use_peek = false: getmail fetches with RFC822, which would set \Seen (RFC 3501 6.4.5), but with delete = false
  // getmail opens the mailbox with EXAMINE, where no flag may change (RFC 3501 6.3.2).
  await g.run({ ...retriever, use_peek: 'false' }, { delete: 'false', read_all: 'false' });
  got = await delivered(g.maildir);
  assert.equal(got.size, 9);
  assert.deepEqual(got.get('<interop-30@example.org>'), testMessage(30));
  const work30 = (await s.messages('Work')).find((m) => messageId(m.raw) === '<interop-30@example.org>');
  assert.deepEqual(work30?.flags, [], 'FETCH RFC822 in an EXAMINEd mailbox leaves \\Seen unset');

  await g.run(retriever, { delete: 'true', read_all: 'true' });
  assert.deepEqual(await s.messages('INBOX'), [], 'INBOX expunged');
  assert.deepEqual(await s.messages('Work'), [], 'Work expunged');
});

test('getmail6 over implicit TLS: POP3S and IMAPS retrievers verify the server certificate and deliver byte-exact', { skip: skipUnless('getmail') }, async (t) => {
  const s = await startServer(t);
  const inbox = await seed(s, 'INBOX', 1, 3);
  for (const [kind, port] of [
    ['POP3', s.port('pop3s')],
    ['IMAP', s.port('imaps')],
  ] as const) {
    const g = await setup(t, `getmail-${kind.toLowerCase()}s`, s);
    const retriever = { type: `Simple${kind}SSLRetriever`, server: '127.0.0.1', port: String(port), username: ALICE, password: ALICE_PASS, ca_certs: s.certFile };
    await g.run(kind === 'IMAP' ? { ...retriever, record_mailbox: 'false' } : retriever, { delete: 'false', read_all: 'true' });
    const got = await delivered(g.maildir);
    assert.equal(got.size, 3, kind);
    for (const raw of inbox) assert.deepEqual(got.get(messageId(raw)), raw, `${kind} ${messageId(raw)}`);
  }
});
