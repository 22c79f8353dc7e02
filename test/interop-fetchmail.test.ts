/**
 * fetchmail over IMAP against mailroom (its POP3 use is covered in pop3-clients.test.ts): messages handed to an
 * MDA byte for byte, `keep` marks them \Seen and leaves them, unseen-only fetching across runs, `nokeep` deletes
 * and expunges, and implicit TLS with the server's certificate verified.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ALICE, ALICE_PASS, describeRun, messageId, runTool, skipUnless, sortedFlags, startServer, tempDir, testMessage, toCrlf } from './helpers/interop.js';

const END = '==END-OF-MESSAGE==';

test('fetchmail IMAP: keep marks \\Seen, only unseen mail is fetched again, nokeep expunges; IMAPS with certificate check', { skip: skipUnless('fetchmail') }, async (t) => {
  const s = await startServer(t);
  const dir = await tempDir(t, 'fetchmail');
  const home = join(dir, 'home');
  await mkdir(home);
  const out = join(dir, 'delivered');

  const unseen = [1, 2, 3, 4, 5].map((n) => testMessage(n, { attachment: n === 2 }));
  for (const raw of unseen) await s.append('INBOX', raw);
  const seen = testMessage(50, { subject: 'read elsewhere' });
  await s.append('INBOX', seen, ['\\Seen', '\\Flagged']);

  async function fetch(options: string, tls = false): Promise<Buffer[]> {
    const rc = join(dir, 'fetchmailrc');
    const server = tls
      ? `poll 127.0.0.1 with proto IMAP port ${s.port('imaps')} auth password:\n`
      : `poll 127.0.0.1 with proto IMAP port ${s.port('imap')} auth password:\n`;
    const sslOpts = tls ? `ssl sslcertck sslcommonname "localhost" sslcertfile "${s.certFile}"` : 'sslproto ""';
    await writeFile(
      rc,
      'set no bouncemail\n' +
        server +
        `  user "${ALICE}" there with password "${ALICE_PASS}" is "nobody" here\n` +
        `  options ${options} no rewrite ${sslOpts}\n` +
        `  mda "/bin/sh -c 'cat >> ${out}; echo ${END} >> ${out}'"\n`,
    );
    await chmod(rc, 0o600);
    await writeFile(out, '');
    const r = await runTool('fetchmail', ['-v', '-v', '-f', rc, '--nosyslog', '--pidfile', join(dir, 'pid')], {
      home,
      env: { FETCHMAILHOME: home },
      timeoutMs: 30_000,
    });
    // Exit 0: mail delivered; 1: no new mail. Anything else is a failure.
    assert.ok(r.code === 0 || r.code === 1, describeRun('fetchmail', r));
    assert.doesNotMatch(r.stdout + r.stderr, /IMAP< \S+ (NO|BAD) /, describeRun('fetchmail', r));
    const text = (await readFile(out)).toString('latin1');
    if (text === '') return [];
    const parts = text.split(`${END}\n`);
    assert.equal(parts.pop(), '', 'every delivery ends with the marker');
    return parts.map((p) => {
      // fetchmail prepends its own Received field (first line + continuation lines) and hands LF lines to the MDA.
      assert.match(p, /^Received: from 127\.0\.0\.1 .*\n(\t.*\n)*/);
      return toCrlf(Buffer.from(p.replace(/^Received: [^\n]*\n(\t[^\n]*\n)*/, ''), 'latin1'));
    });
  }
  const flagsById = async (): Promise<Map<string, string[]>> => new Map((await s.messages('INBOX')).map((m) => [messageId(m.raw), sortedFlags(m.flags)]));

  // 1. keep: the five unseen messages, byte for byte; the one already \Seen is not fetched.
  const first = await fetch('keep');
  assert.deepEqual(first, unseen);
  let flags = await flagsById();
  assert.equal(flags.size, 6, 'keep leaves every message on the server');
  for (const raw of unseen) assert.deepEqual(flags.get(messageId(raw)), ['\\Seen'], 'fetchmail marks what it fetched \\Seen');
  assert.deepEqual(flags.get(messageId(seen)), ['\\Flagged', '\\Seen']);

  // 2. Nothing unseen: nothing fetched. A new arrival is the only message of the next run.
  assert.deepEqual(await fetch('keep'), []);
  const late = testMessage(60, { subject: 'late arrival' });
  await s.append('INBOX', late);
  assert.deepEqual(await fetch('keep'), [late]);

  // 3. Over IMAPS, verifying the generated certificate: fetchall takes seen messages too, still keeping them.
  const all = await fetch('keep fetchall', true);
  assert.deepEqual(all.map(messageId).sort(), [...unseen, seen, late].map(messageId).sort());
  flags = await flagsById();
  assert.equal(flags.size, 7);

  // 4. nokeep fetchall: everything delivered, then deleted and expunged on the server.
  const last = await fetch('nokeep fetchall');
  assert.equal(last.length, 7);
  for (const raw of [...unseen, seen, late]) assert.ok(last.some((b) => b.equals(raw)), messageId(raw));
  assert.deepEqual(await s.messages('INBOX'), [], 'the fetched messages were expunged');
  assert.deepEqual(await fetch('nokeep fetchall'), []);
});
