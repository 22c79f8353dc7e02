/**
 * neomutt against mailroom. Sending runs in neomutt's batch mode (submission with STARTTLS, the server's
 * certificate verified, AUTH). Reading needs the interactive UI, so neomutt runs inside a private tmux server
 * (its own socket in a temp dir) and is driven with send-keys; every step waits for the screen or the file
 * system to show the expected state (no fixed sleeps), and the outcome is checked on the server.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ALICE, ALICE_PASS, BOB, describeRun, messageId, runTool, skipUnless, sortedFlags, startServer, tempDir, testMessage, toLf } from './helpers/interop.js';

async function until<T>(what: string, probe: () => Promise<T | null | undefined | false>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

interface Tui {
  screen(): Promise<string>;
  keys(...k: string[]): Promise<void>;
  /** Resolves with the screen once it matches; on timeout throws with the screen in the message. */
  waitScreen(what: string, re: RegExp): Promise<string>;
  /** Resolves once the program has exited (the tmux session is gone). */
  waitExit(): Promise<void>;
  /** Ends the private tmux server (and the program, if still running). */
  kill(): Promise<void>;
}

/** Runs `command` in a private tmux server (socket inside `dir`) on a 150x30 screen, with HOME set to `home`. */
async function startTui(dir: string, home: string, command: string): Promise<Tui> {
  const sock = join(dir, `tmux-${Math.random().toString(36).slice(2, 8)}.sock`);
  const tmux = (...args: string[]): ReturnType<typeof runTool> => runTool('tmux', ['-S', sock, '-f', '/dev/null', ...args], { home, cwd: '/', timeoutMs: 10_000 });
  const screen = async (): Promise<string> => (await tmux('capture-pane', '-p', '-t', 'ui')).stdout;
  const start = await tmux('new-session', '-d', '-s', 'ui', '-x', '150', '-y', '30', `env HOME=${home} TERM=screen ${command}`);
  assert.equal(start.code, 0, describeRun('tmux new-session', start));
  return {
    screen,
    async keys(...k) {
      const r = await tmux('send-keys', '-t', 'ui', ...k);
      assert.equal(r.code, 0, describeRun('tmux send-keys', r));
    },
    waitScreen: (what, re) =>
      until(what, async () => {
        const sc = await screen();
        return re.test(sc) ? sc : null;
      }).catch(async (e: Error) => {
        throw new Error(`${e.message}\n--- screen\n${await screen().catch(() => '')}`);
      }),
    async waitExit() {
      await until('the program to exit', async () => (await tmux('has-session', '-t', 'ui')).code !== 0);
    },
    async kill() {
      await tmux('kill-server');
    },
  };
}

test('neomutt batch mode: sends through submission with STARTTLS + AUTH, local Fcc; the recipient gets it', { skip: skipUnless('neomutt') }, async (t) => {
  const s = await startServer(t);
  const dir = await tempDir(t, 'neomutt-send');
  const home = join(dir, 'home');
  await mkdir(home);
  const sent = join(dir, 'sent.mbox');
  const rc = join(dir, 'muttrc');
  await writeFile(
    rc,
    [
      `set from="${ALICE}"`,
      'set realname="Alice Example"',
      `set smtp_url="smtp://${ALICE.replace('@', '%40')}@127.0.0.1:${s.port('submission')}/"`,
      `set smtp_pass="${ALICE_PASS}"`,
      'set ssl_starttls=yes',
      'set ssl_force_tls=yes',
      `set certificate_file="${s.certFile}"`,
      `set record="${sent}"`,
      'set copy=yes',
      'set send_charset="utf-8"',
      '',
    ].join('\n'),
  );
  const body = 'Hello Bob,\n.a line with a leading dot\nGrüße\n';
  const r = await runTool('neomutt', ['-n', '-F', rc, '-s', 'sent by neomutt', '--', BOB], { home, input: body, timeoutMs: 30_000 });
  assert.equal(r.code, 0, describeRun('neomutt', r));

  const got = await until('delivery to bob', async () => {
    const m = await s.messages('INBOX', s.bob);
    return m.length > 0 ? m : null;
  });
  assert.equal(got.length, 1);
  const text = got[0]!.raw.toString('utf8');
  assert.match(text, /^Subject: sent by neomutt\r$/m);
  assert.match(text, /^From: Alice Example <alice@example\.org>\r$/m);
  assert.match(text, /with ESMTPSA/, 'submitted over TLS with AUTH');
  assert.match(text, /^Content-Type: text\/plain; charset=utf-8\r\n(?:.*\r\n)*Content-Transfer-Encoding: 8bit\r$/m);
  assert.ok(text.endsWith('\r\n\r\nHello Bob,\r\n.a line with a leading dot\r\nGrüße\r\n'), `dot line and 8-bit text survived SMTP:\n${text}`);
  const fcc = await readFile(sent, 'utf8');
  assert.match(fcc, /^From alice@example\.org /);
  assert.ok(fcc.includes(`Message-ID: ${messageId(got[0]!.raw)}`), 'the Fcc copy is the delivered message');
});

test('neomutt over IMAP (driven through tmux): index, folder browser, save to mbox, flag, delete; server state after quit', { skip: skipUnless('neomutt', 'tmux') }, async (t) => {
  const s = await startServer(t);
  const dir = await tempDir(t, 'neomutt-imap');
  const home = join(dir, 'home');
  await mkdir(home);
  const msgs = [1, 2, 3, 4].map((n) => testMessage(n));
  for (const [i, raw] of msgs.entries()) await s.append('INBOX', raw, i === 0 ? ['\\Seen'] : []);
  await s.mailbox('Work');
  await s.append('Work/Projects', testMessage(9));
  const saved = join(dir, 'saved.mbox');
  const rc = join(dir, 'muttrc');
  await writeFile(
    rc,
    [
      `set imap_user="${ALICE}"`,
      `set imap_pass="${ALICE_PASS}"`,
      // Loopback: cleartext IMAP (the server allows LOGIN on loopback).
      'set ssl_starttls=no',
      'set ssl_force_tls=no',
      `set folder="imap://127.0.0.1:${s.port('imap')}/"`,
      'set spoolfile="+INBOX"',
      'set header_cache=""',
      'set message_cachedir=""',
      'set delete=yes',
      'set confirmcreate=no',
      'set confirmappend=no',
      'set quit=yes',
      'set move=no',
      'set mark_old=no',
      'set sort=date',
      'set index_format="%4C [%Z] %s"',
      'set mbox_type=mbox',
      'set wait_key=no',
      'set timeout=1',
      '',
    ].join('\n'),
  );
  const ui = await startTui(dir, home, `neomutt -n -F ${rc} -f imap://127.0.0.1:${s.port('imap')}/INBOX`);
  const { keys, waitScreen } = ui;
  try {
    await driveNeomutt();
  } finally {
    await ui.kill();
  }
  async function driveNeomutt(): Promise<void> {

    // The index shows the four messages in date order, only the first without the "new" mark.
    const index = await waitScreen('the index', /Interop message 4/);
    const lines = index.split('\n').filter((l) => /Interop message \d/.test(l));
    assert.deepEqual(lines.map((l) => /Interop message (\d)/.exec(l)![1]), ['1', '2', '3', '4'], index);
    assert.match(lines[0]!, /^\s+1 \[\s*\]/, 'message 1 is \\Seen');
    for (const l of lines.slice(1)) assert.match(l, /\[N\s*\]/, `unseen: ${l}`);

    // The folder browser lists the server's mailboxes (LIST).
    await keys('c');
    await waitScreen('the open-mailbox prompt', /Open mailbox/);
    await keys('?');
    await waitScreen('the mailboxes list', /Mailboxes \[/);
    await keys('Tab');
    const browser = await waitScreen('the IMAP folder listing', /Work\//);
    for (const name of ['INBOX', 'Archive', 'Drafts', 'Junk', 'Sent', 'Trash', 'Work/']) assert.match(browser, new RegExp(`IMAP.*\\s${name.replace('/', '\\/')}\\s*$`, 'm'), name);
    await keys('q');
    await waitScreen('back in the index', /NeoMutt: \+?INBOX|NeoMutt: imap/);

    // Save message 1 to an mbox file (marks it deleted), flag message 2, delete message 3.
    await keys('1', 'Enter', 's');
    await waitScreen('the save prompt', /Save to mailbox/);
    await keys('C-u', saved, 'Enter');
    await until('the saved mbox', async () => (await stat(saved)).size > 0);
    await keys('2', 'Enter', 'F');
    await waitScreen('message 2 flagged', /^\s+2 \[[^\]]*!/m);
    await keys('3', 'Enter', 'd');
    await waitScreen('message 3 marked deleted', /^\s+3 \[[^\]]*D/m);
    await keys('q');
    await ui.waitExit();

    // Server: 1 and 3 expunged, 2 flagged (and still unseen), 4 untouched.
    const after = await s.messages('INBOX');
    assert.deepEqual(
      after.map((m) => [messageId(m.raw), sortedFlags(m.flags)]),
      [
        [messageId(msgs[1]!), ['\\Flagged']],
        [messageId(msgs[3]!), []],
      ],
    );
    // The saved copy: an mbox "From " line, the original header fields in order (mutt adds Status and length
    // fields), and the body byte for byte.
    const mbox = await readFile(saved);
    const text = mbox.toString('utf8');
    assert.match(text, /^From \S+ /);
    const original = toLf(msgs[0]!).toString('utf8');
    const [origHead, origBody] = [original.slice(0, original.indexOf('\n\n') + 1), original.slice(original.indexOf('\n\n') + 2)];
    const savedMsg = text.slice(text.indexOf('\n') + 1);
    const savedHead = savedMsg.slice(0, savedMsg.indexOf('\n\n') + 1);
    const savedBody = savedMsg.slice(savedMsg.indexOf('\n\n') + 2);
    let at = 0;
    for (const line of origHead.split('\n').filter(Boolean)) {
      const i = savedHead.indexOf(`${line}\n`, at);
      assert.ok(i >= at, `header line kept in order: ${line}\n${savedHead}`);
      at = i;
    }
    assert.match(savedHead, /^Status: RO?$/m, 'mutt records the \\Seen state');
    assert.equal(savedBody.replace(/\n$/, ''), origBody, 'body saved byte for byte (plus the mbox separator line)');
  }
});

test('neomutt with a header cache, CONDSTORE/QRESYNC and IDLE: a new message is pushed while open; reopening shows server changes', { skip: skipUnless('neomutt', 'tmux') }, async (t) => {
  const s = await startServer(t);
  const dir = await tempDir(t, 'neomutt-qresync');
  const home = join(dir, 'home');
  await mkdir(home);
  await mkdir(join(dir, 'hcache'));
  const msgs = [1, 2, 3, 4].map((n) => testMessage(n));
  const uids: number[] = [];
  for (const raw of msgs) uids.push(await s.append('INBOX', raw));
  const rc = join(dir, 'muttrc');
  await writeFile(
    rc,
    [
      `set imap_user="${ALICE}"`,
      `set imap_pass="${ALICE_PASS}"`,
      'set ssl_starttls=no',
      'set ssl_force_tls=no',
      `set folder="imap://127.0.0.1:${s.port('imap')}/"`,
      'set spoolfile="+INBOX"',
      `set header_cache="${join(dir, 'hcache')}/"`,
      'set message_cachedir=""',
      'set imap_condstore=yes',
      'set imap_qresync=yes',
      'set imap_idle=yes',
      'set mail_check=1',
      'set timeout=1',
      'set quit=yes',
      'set move=no',
      'set mark_old=no',
      'set sort=date',
      'set index_format="%4C [%Z] %s"',
      'set wait_key=no',
      '',
    ].join('\n'),
  );
  // neomutt appends a rotation number to the -l file name: the current log is <name>0.
  const log = join(dir, 'neomutt.log');
  const open = (n: number): Promise<Tui> => startTui(dir, home, `neomutt -n -F ${rc} -d 5 -l ${log}${n} -f imap://127.0.0.1:${s.port('imap')}/INBOX`);
  const subjects = (screen: string): string[] => [...screen.matchAll(/^\s+\d+ \[([^\]]*)\] (.*?)\s*$/gm)].map((m) => `${m[1]!.trim()}|${m[2]}`);

  let ui = await open(1);
  try {
    await ui.waitScreen('the index', /Interop message 4/);
    // Delivered while the mailbox is open: IDLE (or the next check) shows it without any key.
    await s.append('INBOX', testMessage(5, { subject: 'pushed while open' }));
    const pushed = await ui.waitScreen('the pushed message', /pushed while open/);
    assert.deepEqual(subjects(pushed), ['N|Interop message 1', 'N|Interop message 2', 'N|Interop message 3', 'N|Interop message 4', 'N|pushed while open']);
    // An expunge and a flag change by another client while the mailbox is open are shown too.
    const openBox = await s.mailbox('INBOX');
    await s.m.store.mail.storeFlags(openBox.id, [uids[2]!], { op: 'add', flags: ['\\Deleted'] });
    await s.m.store.mail.expunge(openBox.id, [uids[2]!]);
    await s.m.store.mail.storeFlags(openBox.id, [uids[3]!], { op: 'add', flags: ['\\Flagged'] });
    const changed = await ui.waitScreen('the expunge and the flag', /^(?![\s\S]*Interop message 3)[\s\S]*\[N\s*!\] Interop message 4/);
    assert.deepEqual(subjects(changed), ['N|Interop message 1', 'N|Interop message 2', 'N !|Interop message 4', 'N|pushed while open']);
    await ui.keys('q');
    await ui.waitExit();
  } finally {
    await ui.kill();
  }
  assert.match(await readFile(`${log}10`, 'utf8'), /> \S+ IDLE/, 'neomutt idled on the mailbox');

  // Changes by another client while neomutt is closed: a flag, an expunge, a new message.
  const box = await s.mailbox('INBOX');
  await s.m.store.mail.storeFlags(box.id, [uids[0]!], { op: 'add', flags: ['\\Flagged', '\\Seen'] });
  await s.m.store.mail.storeFlags(box.id, [uids[1]!], { op: 'add', flags: ['\\Deleted'] });
  await s.m.store.mail.expunge(box.id, [uids[1]!]);
  await s.append('INBOX', testMessage(6, { subject: 'arrived while closed' }));

  ui = await open(2);
  try {
    const screen = await ui.waitScreen('the resynchronised index', /arrived while closed/);
    assert.deepEqual(subjects(screen), ['!|Interop message 1', 'N !|Interop message 4', 'N|pushed while open', 'N|arrived while closed']);
    await ui.keys('q');
    await ui.waitExit();
  } finally {
    await ui.kill();
  }
  const second = await readFile(`${log}20`, 'utf8');
  // The cached headers were reused: only the changes since the cached MODSEQ were asked for, and the
  // expunge came back as VANISHED (EARLIER) with the expunged UID (RFC 7162 3.2.6).
  assert.match(second, /UID FETCH \S+ \(FLAGS\) \(CHANGEDSINCE \d+ VANISHED\)/);
  const vanished = /< \* VANISHED \(EARLIER\) ([\d:,]+)\s*$/m.exec(second);
  assert.ok(vanished, 'VANISHED (EARLIER) in the reply');
  const set = vanished[1]!.split(',').flatMap((r) => {
    const [a, b = a] = r.split(':').map(Number) as [number, number?];
    return Array.from({ length: b! - a + 1 }, (_, i) => a + i);
  });
  // Both expunged UIDs may be reported (neomutt keeps the MODSEQ of its first SELECT); live ones never.
  assert.ok(set.includes(uids[1]!), vanished[0]);
  for (const live of [uids[0]!, uids[3]!]) assert.ok(!set.includes(live), vanished[0]);
  // Headers of the first (cached) message are not fetched again.
  assert.doesNotMatch(second, /> a\d+ (UID )?FETCH 1[:,\s][^\n]*HEADER\.FIELDS/);
  assert.match(second, /> a\d+ FETCH \d+[^\n]*HEADER\.FIELDS/, 'the new message\'s headers were fetched');
});
