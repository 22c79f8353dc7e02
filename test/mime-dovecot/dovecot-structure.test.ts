/**
 * Interop oracle: Dovecot's BODYSTRUCTURE and ENVELOPE (and BODY[section] bytes) for the corpus and generated
 * well-formed MIME trees must equal ours (compared case-insensitively: Dovecot writes types and
 * encodings as the message spells them). Runs Debian's Dovecot imap binary in PREAUTH mode on a
 * throwaway Maildir (no network); skipped with the reason when Dovecot is not installed.
 *
 * Deliberate differences are excluded here and documented in test/mime/corpus.test.ts: a multipart
 * without a usable boundary (we expose its body as part 1), duplicated ENVELOPE headers (we take the
 * first), Message-ID leading whitespace (we trim).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, chownSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { indexMessage, sectionSpan } from '../../src/mime/index.js';
import type { MessageIndex, MimePart } from '../../src/mime/types.js';
import { bodystructure, envelope } from '../mime/imap-format.js';
import { serialize, treeArb } from '../mime/generate.js';

const IMAP = '/usr/lib/dovecot/imap';
const NOBODY = 65534;
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

function unavailable(): string | false {
  if (!existsSync(IMAP)) return `Dovecot is not installed (${IMAP} missing)`;
  if (isRoot && !existsSync('/usr/sbin/runuser')) return 'running as root without runuser to drop privileges for Dovecot';
  return false;
}

/**
 * Runs `commands` (tagged IMAP commands after SELECT INBOX) against a private Dovecot holding the
 * given messages in order; returns the raw output (latin1).
 */
function dovecotRun(messages: Buffer[], commands: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'mailroom-mime-dovecot-'));
  try {
    const home = join(dir, 'home');
    const md = join(home, 'Maildir');
    for (const d of ['cur', 'new', 'tmp']) mkdirSync(join(md, d), { recursive: true });
    // Names sort in delivery order, so UIDs follow the array order.
    messages.forEach((m, i) => writeFileSync(join(md, 'cur', `${1_000_000 + i}.M${i}.mime:2,`), m));
    const uid = isRoot ? NOBODY : process.getuid!();
    const gid = isRoot ? NOBODY : process.getgid!();
    const conf = join(dir, 'dovecot.conf');
    writeFileSync(
      conf,
      [
        `base_dir = ${join(dir, 'run')}`,
        `mail_location = maildir:${md}`,
        `log_path = ${join(dir, 'log')}`,
        'ssl = no',
        'protocols = imap',
        `mail_uid = ${uid}`,
        `mail_gid = ${gid}`,
        'first_valid_uid = 1',
        'first_valid_gid = 1',
        '',
      ].join('\n'),
    );
    mkdirSync(join(dir, 'run'));
    if (isRoot) {
      const chownAll = (p: string): void => {
        chownSync(p, NOBODY, NOBODY);
        if (!p.endsWith('.conf') && !p.includes(':2,')) for (const f of readdirSync(p)) chownAll(join(p, f));
      };
      chownAll(dir);
      chmodSync(dir, 0o755);
    }
    const input = `a SELECT INBOX\r\n${commands}z LOGOUT\r\n`;
    const env = { USER: isRoot ? 'nobody' : (process.env.USER ?? 'mailroom'), HOME: home, PATH: process.env.PATH ?? '' };
    const r = isRoot
      ? spawnSync('runuser', ['-u', 'nobody', '--', 'env', `USER=${env.USER}`, `HOME=${home}`, IMAP, '-c', conf], { input, timeout: 20_000 })
      : spawnSync(IMAP, ['-c', conf], { input, timeout: 20_000, env });
    const out = r.stdout.toString('latin1');
    assert.ok(out.includes('z OK'), `Dovecot session failed: ${out.slice(0, 500)} ${r.stderr.toString()}`);
    return out;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** FETCH 1:* (BODYSTRUCTURE ENVELOPE) from a private Dovecot over the given messages, in order. */
function dovecotFetch(messages: Buffer[]): string[] {
  {
    const out = dovecotRun(messages, 'b FETCH 1:* (BODYSTRUCTURE ENVELOPE)\r\n');
    assert.ok(out.includes('b OK'), `Dovecot FETCH failed: ${out.slice(0, 500)}`);
    // Inline literals as quoted strings, then take each FETCH response line.
    const flat = out.replace(/\{(\d+)\}\r\n/g, (_m, n: string) => `\u0000${n}\u0000`);
    const lines: string[] = [];
    let rest = flat;
    for (;;) {
      const i = rest.indexOf('\u0000');
      if (i < 0) break;
      const j = rest.indexOf('\u0000', i + 1);
      const n = Number(rest.slice(i + 1, j));
      const lit = rest.slice(j + 1, j + 1 + n);
      rest = rest.slice(0, i) + '"' + lit.replace(/(["\\])/g, '\\$1') + '"' + rest.slice(j + 1 + n);
    }
    for (const l of rest.split('\r\n')) if (/^\* \d+ FETCH /.test(l)) lines.push(l);
    return lines;
  }
}

/** Parses "* n FETCH (BODY[x] {len}\r\n<bytes> BODY[y] "..." ...)" responses: seq -> item -> bytes. */
function parseBodies(out: string): Map<number, Map<string, string>> {
  const res = new Map<number, Map<string, string>>();
  const re = /\* (\d+) FETCH \(/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(out))) {
    const items = new Map<string, string>();
    res.set(Number(m[1]), items);
    let i = re.lastIndex;
    while (out[i] !== ')') {
      if (out[i] === ' ') i++;
      const sp = out.indexOf(' ', i);
      const name = out.slice(i, sp);
      i = sp + 1;
      let value: string;
      if (out[i] === '{') {
        const close = out.indexOf('}', i);
        const n = Number(out.slice(i + 1, close));
        value = out.slice(close + 3, close + 3 + n);
        i = close + 3 + n;
      } else if (out[i] === '"') {
        let j = i + 1;
        value = '';
        while (out[j] !== '"') {
          if (out[j] === '\\') j++;
          value += out[j];
          j++;
        }
        i = j + 1;
      } else {
        value = '';
        i += 3; // NIL
      }
      items.set(name, value);
    }
    re.lastIndex = i;
  }
  return res;
}

function ours(raw: Buffer, seq: number): string {
  const idx = indexMessage(raw);
  return `* ${seq} FETCH (BODYSTRUCTURE ${bodystructure(idx.root, true)} ENVELOPE ${envelope(idx.envelope)})`;
}

const fixtureDir = new URL('../fixtures/mime/', import.meta.url);
// broken.eml and comments.eml hold deliberate differences (see the module comment).
const FIXTURES = ['alternative', 'calendar', 'digest', 'encoded-words', 'group-addresses', 'missing-headers', 'mixed-attachment', 'nested-rfc822', 'plain', 'rfc2231', 'smime-signed', 'unterminated'];

test('fixture corpus matches Dovecot', { skip: unavailable() }, () => {
  const msgs = FIXTURES.map((f) => readFileSync(new URL(`${f}.eml`, fixtureDir)));
  const got = dovecotFetch(msgs);
  assert.equal(got.length, msgs.length);
  msgs.forEach((m, i) => assert.equal(ours(m, i + 1).toLowerCase(), got[i]!.toLowerCase(), FIXTURES[i]));
});

/** Boundary and header edge cases on which we agree with Dovecot (LF written for CRLF). */
const EDGES = [
  'Subject: only header\nFrom: a@b',
  'Subject: only header\n',
  'Content-Type: multipart/mixed; boundary=b\n\n--b\n--b\nContent-Type: text/plain\n\nx\n--b--\n',
  'Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/html\n--b--\n',
  'Content-Type: multipart/mixed; boundary=b\n\n--b\n\nbody with empty header\n--b--\n',
  'Content-Type: multipart/mixed; boundary=b\n\n--b  \nContent-Type: text/plain\n\nx\n--b-- trailing junk\nepilogue\n',
  'Content-Type: multipart/mixed; boundary=o\n\n--o\nContent-Type: multipart/alternative; boundary=i\n\n--i\n\ninner1\n--o\n\nouter2\n--o--\n',
  'Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: message/rfc822\n\n--b--\n',
  'Subject: x\n\nno trailing newline',
  'Content-Type: message/rfc822\n\nSubject: inner\nContent-Type: multipart/mixed; boundary=q\n\n--q\n\nA\n--q--\n',
  'Subject : spaced\nFrom :  a@b\n\nx\n',
  'Content-Transfer-Encoding: base64 (comment)\nContent-Type: application/x; a=1 (c); b="2"\n\nQUJD\n',
  'Content-Type: text/plain\nContent-Language: en (english), fr\nContent-Location: foo\n bar\n\nx\n',
  'Content-Type: multipart/digest; boundary=d\n\n--d\nContent-Type: multipart/mixed; boundary=e\n\n--e\n\ninner-default-text\n--e--\n--d--\n',
  'Content-Type: multipart/mixed; boundary=b\n\n--b\n\nx\n--b--',
  'Content-Type: multipart/mixed; boundary=b\n\n--b\n\nx\n--b',
  'Content-Type: multipart/mixed; boundary=b\n\n--b\n\nx\n--b  ',
  'Content-Type: multipart/mixed; boundary=o\n\n--o\nContent-Type: multipart/mixed; boundary=b\n\n--b\n\nx\n--b\n--o\n\ny\n--o--\n',
  'From: a@b\nContent-Type: multipart/mixed; boundary="q"\n\n--q\n\n\n--q\n\n\n--q--\n',
  'Content-Type: multipart/mixed; boundary=abc\n\n--abc\nContent-Type: multipart/mixed; boundary=abc-1\n\n--abc-1\n\nin\n--abc-1--\n--abc--\n',
].map((s) => Buffer.from(s.replace(/\n/g, '\r\n'), 'latin1'));

test('boundary and header edge cases match Dovecot', { skip: unavailable() }, () => {
  const got = dovecotFetch(EDGES);
  assert.equal(got.length, EDGES.length);
  EDGES.forEach((m, i) => assert.equal(ours(m, i + 1).toLowerCase(), got[i]!.toLowerCase(), JSON.stringify(m.toString('latin1'))));
});

test('generated MIME trees match Dovecot', { skip: unavailable() }, () => {
  const trees = fc.sample(treeArb, { numRuns: 80 });
  const msgs = trees.map((t, i) => serialize(t, ['From: gen@example.com', `Subject: generated ${i}`]));
  const got = dovecotFetch(msgs);
  assert.equal(got.length, msgs.length);
  msgs.forEach((m, i) => assert.equal(ours(m, i + 1).toLowerCase(), got[i]!.toLowerCase(), `message ${i}:\n${m.toString('latin1')}`));
});

/** Every section a client could ask for in this message, as [section, specifier]. */
function sections(idx: MessageIndex): Array<[string, '' | 'MIME' | 'HEADER' | 'TEXT']> {
  const out: Array<[string, '' | 'MIME' | 'HEADER' | 'TEXT']> = [['', 'HEADER'], ['', 'TEXT']];
  const message = (root: MimePart, prefix: string): void => {
    if (root.type === 'multipart') root.children.forEach((c, i) => part(c, `${prefix}${i + 1}`));
    else part(root, `${prefix}1`);
  };
  const part = (p: MimePart, x: string): void => {
    out.push([x, ''], [x, 'MIME']);
    if (p.type === 'multipart') p.children.forEach((c, i) => part(c, `${x}.${i + 1}`));
    else if (p.message) {
      out.push([x, 'HEADER'], [x, 'TEXT']);
      message(p.message.root, `${x}.`);
    }
  };
  message(idx.root, '');
  return out;
}

test('BODY[section] bytes of generated messages match Dovecot (RFC 9051 6.4.5 numbering)', { skip: unavailable() }, () => {
  const trees = fc.sample(treeArb, { numRuns: 40 });
  const msgs = trees.map((t, i) => serialize(t, ['From: gen@example.com', `Subject: sections ${i}`]));
  const asked = msgs.map((m) => sections(indexMessage(m)));
  const cmds = asked.map((secs, i) => `f${i} FETCH ${i + 1} (${secs.map(([x, spec]) => `BODY.PEEK[${[x, spec].filter(Boolean).join('.')}]`).join(' ')})\r\n`).join('');
  const got = parseBodies(dovecotRun(msgs, cmds));
  let compared = 0;
  msgs.forEach((m, i) => {
    const idx = indexMessage(m);
    const theirs = got.get(i + 1);
    assert.ok(theirs, `no FETCH response for message ${i + 1}`);
    for (const [x, spec] of asked[i]!) {
      const name = `BODY[${[x, spec].filter(Boolean).join('.')}]`;
      const span = sectionSpan(idx, x, spec);
      // Dovecot replaces NUL with 0x80 in BODY[] literals (IMAP4rev1 forbids NUL in them).
      const mine = span ? m.subarray(span.start, span.end).toString('latin1').replace(/\0/g, '\x80') : '';
      assert.equal(mine, theirs.get(name), `${name} of message ${i + 1}:\n${m.toString('latin1')}`);
      compared++;
    }
  });
  assert.ok(compared > 100, `only ${compared} sections compared`);
});
