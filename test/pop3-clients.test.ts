/**
 * Real POP3 clients against the server: python3 poplib (incl. STLS), curl, and Debian's fetchmail
 * (keep + UIDL across runs, then a fetch that deletes).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { generateSelfSigned } from '../src/server/tls.js';
import { startPop3, message, USER, PASSWORD } from './pop3-helpers.js';

const run = promisify(execFile);

const POPLIB_SCRIPT = String.raw`
import json, poplib, ssl, sys
port, stls = int(sys.argv[1]), sys.argv[2] == 'stls'
p = poplib.POP3('127.0.0.1', port, timeout=10)
out = {'welcome': p.getwelcome().decode()}
out['capa'] = sorted(p.capa().keys())
if stls:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    p.stls(context=ctx)
    out['capa_after_stls'] = sorted(p.capa().keys())
p.user(sys.argv[3])
p.pass_(sys.argv[4])
out['stat'] = list(p.stat())
out['list'] = [l.decode() for l in p.list()[1]]
out['uidl'] = [l.decode() for l in p.uidl()[1]]
out['retr'] = [b'\r\n'.join(p.retr(i + 1)[1]).hex() for i in range(out['stat'][0])]
out['top'] = b'\r\n'.join(p.top(1, 0)[1]).decode('latin1')
p.dele(1)
try:
    p.retr(1)
except poplib.error_proto as e:
    out['retr_deleted'] = str(e)
out['quit'] = p.quit().decode()
print(json.dumps(out))
`;

interface PoplibResult {
  welcome: string;
  capa: string[];
  capa_after_stls?: string[];
  stat: [number, number];
  list: string[];
  uidl: string[];
  retr: string[];
  top: string;
  retr_deleted: string;
  quit: string;
}

test('python3 poplib: USER/PASS, STAT, LIST, UIDL, RETR (dot lines, 8-bit), TOP, DELE, QUIT', async (t) => {
  const f = await startPop3();
  t.after(() => f.close());
  const m1 = Buffer.from(message('py1', '.starts with a dot\r\ncaf\xe9 8-bit\r\n'), 'latin1');
  const m2 = Buffer.from(message('py2'));
  const a = await f.append(m1);
  const b = await f.append(m2);
  const { stdout } = await run('python3', ['-c', POPLIB_SCRIPT, String(f.port), 'plain', USER, PASSWORD], { timeout: 20_000 });
  const r = JSON.parse(stdout) as PoplibResult;
  assert.match(r.welcome, /^\+OK /);
  assert.deepEqual(r.capa, ['AUTH-RESP-CODE', 'EXPIRE', 'IMPLEMENTATION', 'PIPELINING', 'RESP-CODES', 'SASL', 'TOP', 'UIDL', 'USER']);
  assert.deepEqual(r.stat, [2, m1.length + m2.length]);
  assert.deepEqual(r.list, [`1 ${m1.length}`, `2 ${m2.length}`]);
  assert.deepEqual(r.uidl, [`1 ${a.emailId}`, `2 ${b.emailId}`]);
  // poplib strips the final CRLF and un-stuffs dots: joining its lines gives the message minus its last CRLF.
  assert.deepEqual(Buffer.from(r.retr[0]!, 'hex'), m1.subarray(0, m1.length - 2));
  assert.deepEqual(Buffer.from(r.retr[1]!, 'hex'), m2.subarray(0, m2.length - 2));
  assert.equal(r.top, message('py1', '').slice(0, -2));
  assert.match(r.retr_deleted, /-ERR Message 1 is already deleted/);
  assert.match(r.quit, /\(1 message deleted\)$/);
  assert.deepEqual(
    (await f.store.mail.listMessages(f.inbox.id)).map((m) => [m.emailId, m.flags]),
    [[b.emailId, ['\\Seen']]],
  );
});

test('python3 poplib: STLS then login', async (t) => {
  const f = await startPop3({ tls: await generateSelfSigned('pop.test') });
  t.after(() => f.close());
  await f.append(message('tls'));
  const { stdout } = await run('python3', ['-c', POPLIB_SCRIPT, String(f.port), 'stls', USER, PASSWORD], { timeout: 20_000 });
  const r = JSON.parse(stdout) as PoplibResult;
  assert.ok(r.capa.includes('STLS'));
  assert.ok(!r.capa_after_stls!.includes('STLS'));
  assert.equal(r.stat[0], 1);
});

test('curl: LIST and RETR over pop3://', async (t) => {
  const f = await startPop3();
  t.after(() => f.close());
  const raw = message('curl', '.dot line\r\nlast\r\n');
  await f.append(message('first'));
  await f.append(raw);
  const creds = `${USER}:${PASSWORD}`;
  const list = await run('curl', ['-sS', '--max-time', '10', '-u', creds, `pop3://127.0.0.1:${f.port}/`], { timeout: 20_000 });
  assert.equal(list.stdout, `1 ${Buffer.byteLength(message('first'))}\r\n2 ${Buffer.byteLength(raw)}\r\n`);
  const retr = await run('curl', ['-sS', '--max-time', '10', '-u', creds, `pop3://127.0.0.1:${f.port}/2`], { timeout: 20_000, encoding: 'buffer' });
  assert.equal(retr.stdout.toString('utf8'), raw);
  const bad = await run('curl', ['-sS', '--max-time', '10', '-u', `${USER}:wrong`, `pop3://127.0.0.1:${f.port}/`], { timeout: 20_000 }).catch((e: { code?: number }) => e);
  assert.ok('code' in bad && bad.code === 67, 'curl reports a login failure (exit 67)');
});

test("fetchmail: keep + UIDL fetches only new messages across runs; then a run that deletes", async (t) => {
  const f = await startPop3();
  const dir = await mkdtemp(join(tmpdir(), 'pop3-fetchmail-'));
  t.after(async () => {
    await f.close();
    await rm(dir, { recursive: true, force: true });
  });
  await f.append(message('fm1'));
  await f.append(message('fm2', '.dotted\r\n'));
  const out = join(dir, 'out.txt');
  async function fetch(keep: boolean): Promise<string> {
    const rc = join(dir, 'rc');
    await writeFile(
      rc,
      `set no bouncemail\n` +
        `poll 127.0.0.1 with proto POP3 port ${f.port} uidl auth password:\n` +
        `  user "${USER}" there with password "${PASSWORD}" is "root" here\n` +
        `  options ${keep ? 'keep' : 'nokeep fetchall'} no rewrite sslproto ""\n` +
        `  mda "/bin/sh -c 'cat >> ${out}; echo ==END== >> ${out}'"\n`,
    );
    await chmod(rc, 0o600);
    await writeFile(out, '');
    const env = { ...process.env, HOME: dir, FETCHMAILHOME: dir };
    const r = await run('fetchmail', ['-f', rc, '--pidfile', join(dir, 'pid'), '--nosyslog'], { env, timeout: 30_000 }).catch((e: { code?: number; stdout?: string; stderr?: string }) => e);
    // Exit 0: mail fetched; 1: no new mail.
    assert.ok(!('code' in r) || r.code === 1, `fetchmail failed: ${JSON.stringify(r)}`);
    return readFile(out, 'utf8');
  }
  const subjects = (text: string): string[] => [...text.matchAll(/^Subject: (\w+)$/gm)].map((m) => m[1]!);
  const first = await fetch(true);
  assert.deepEqual(subjects(first), ['fm1', 'fm2']);
  assert.match(first, /\n\.dotted\n==END==/, 'fetchmail un-stuffed the dot line');
  assert.deepEqual(subjects(await fetch(true)), [], 'nothing new on the second run');
  await f.append(message('fm3'));
  assert.deepEqual(subjects(await fetch(true)), ['fm3']);
  assert.equal((await f.store.mail.listMessages(f.inbox.id)).length, 3, 'keep left every message on the server');
  await fetch(false);
  assert.equal((await f.store.mail.listMessages(f.inbox.id)).length, 0, 'nokeep fetchall deleted them at QUIT');
});
