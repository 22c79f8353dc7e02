/**
 * The IMAP sync against a scripted server on loopback that answers with odd but legal syntax (RFC 3501):
 * literals where a quoted string is usual, NIL envelope fields, FETCH items in another order, untagged
 * responses at odd times (an unsolicited flag-only FETCH of a message before its requested data, an ALERT
 * in the middle of a FETCH) and an EXPUNGE during UID FETCH (allowed, section 7.4.1).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tempProfile, engine, assertMaildir, PASSWORD_ENV } from './helpers/client.js';
import { startLineServer, type LineServer } from './helpers/line-server.js';
import type { ImapReport } from '../src/client/imap/syncer.js';
import type { ClientEngine } from '../src/client/engine.js';
import type { MessageRow } from '../src/client/store/state.js';

const BODY = Buffer.from('Subject: body\r\n\r\nhello\r\n');

/**
 * One scripted session per connection; `log` collects the commands received. `bigSize`: UID 6 is
 * announced with this RFC822.SIZE, served in partial FETCHes, and expunged after the first 1 MB window
 * (the rest never comes).
 */
function startOddImap(log: string[], opts: { bigSize?: number } = {}): Promise<LineServer> {
  return startLineServer((w, sock) => {
    let expunged = false;
    w('* OK [CAPABILITY IMAP4rev1 LITERAL+] odd server ready\r\n');
    return (line) => {
      log.push(line.replace(/^(\S+ LOGIN \S+) .*/i, '$1 ***'));
      const [tag, cmdRaw, ...rest] = line.split(' ');
      const cmd = `${cmdRaw ?? ''} ${rest[0] ?? ''}`.toUpperCase();
      const args = rest.join(' ');
      if (/^LOGIN/.test(cmd)) w(`${tag} OK [CAPABILITY IMAP4rev1 LITERAL+] logged in\r\n`);
      else if (/^CAPABILITY/.test(cmd)) w(`* CAPABILITY IMAP4rev1 LITERAL+\r\n${tag} OK done\r\n`);
      else if (/^(LIST|LSUB)/.test(cmd)) {
        // the mailbox name as a literal, the delimiter quoted
        w(`* ${cmdRaw?.toUpperCase()} (\\HasNoChildren) "/" {5}\r\nINBOX\r\n${tag} OK done\r\n`);
      } else if (/^(SELECT|EXAMINE)/.test(cmd)) {
        const n = expunged ? 2 : 3;
        w(`* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n* ${n} EXISTS\r\n* 0 RECENT\r\n* OK [UIDVALIDITY 7] ok\r\n* OK [UIDNEXT 10] ok\r\n${tag} OK [READ-WRITE] selected\r\n`);
      } else if (/^UID FETCH/.test(cmd) && /BODY\.PEEK\[\]<\d+\.\d+>/i.test(args)) {
        const [, start, len] = /<(\d+)\.(\d+)>/.exec(args) ?? [];
        if (Number(start) === 0) {
          const n = Math.min(Number(len), opts.bigSize ?? 0);
          w(`* 2 FETCH (UID 6 RFC822.SIZE ${opts.bigSize} BODY[]<0> {${n}}\r\n`);
          w(Buffer.alloc(n, 0x61));
          w(')\r\n');
        } else w('* 2 EXPUNGE\r\n');
        w(`${tag} OK done\r\n`);
      } else if (/^UID FETCH/.test(cmd) && /BODY\.PEEK\[\]/i.test(args)) {
        for (const [seq, uid] of [[1, 4], [2, 6]] as const) {
          w(`* ${seq} FETCH (UID ${uid} BODY[] {${BODY.length}}\r\n`);
          w(BODY);
          w(')\r\n');
        }
        w('* 2 FETCH (FLAGS (\\Seen \\Answered))\r\n'); // unsolicited, without UID
        w(`${tag} OK done\r\n`);
      } else if (/^UID FETCH/.test(cmd) && /ENVELOPE/i.test(args)) {
        const env = (subject: string): string =>
          `ENVELOPE (NIL {${subject.length}}\r\n${subject} NIL NIL NIL (("To" NIL "to" "example.org")) NIL NIL NIL NIL)`;
        // a flag-only FETCH of UID 6 before its requested data
        w('* 2 FETCH (UID 6 FLAGS (\\Seen))\r\n');
        w(`* 1 FETCH (${env('hello world')} RFC822.SIZE ${BODY.length} INTERNALDATE "07-Dec-2026 10:00:00 +0000" BODYSTRUCTURE ("TEXT" "PLAIN" NIL NIL NIL "7BIT" 7 1) FLAGS () UID 4)\r\n`);
        w('* OK [ALERT] just so you know\r\n');
        w(`* 2 FETCH (UID 6 FLAGS (\\Seen \\Answered) ${env('second one')} INTERNALDATE "07-Dec-2026 10:00:01 +0000" RFC822.SIZE ${opts.bigSize ?? BODY.length} BODYSTRUCTURE ("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 7 1))\r\n`);
        // UID 9 is expunged by someone else while we fetch
        w('* 3 EXPUNGE\r\n');
        expunged = true;
        w(`${tag} OK done\r\n`);
      } else if (/^UID FETCH/.test(cmd)) {
        const list = expunged ? [[1, 4, '()'], [2, 6, '(\\Seen \\Answered)']] : [[1, 4, '()'], [2, 6, '(\\Seen)'], [3, 9, '(\\Flagged)']];
        w('* 1 FETCH (FLAGS ())\r\n'); // unsolicited, without UID, before the listing
        for (const [seq, uid, flags] of list) w(`* ${seq} FETCH (FLAGS ${flags} UID ${uid})\r\n`);
        w(`${tag} OK done\r\n`);
      } else if (/^UID SEARCH/.test(cmd)) w(`* SEARCH${expunged ? ' 4 6' : ' 4 6 9'}\r\n${tag} OK done\r\n`);
      else if (/^LOGOUT/.test(cmd)) {
        w(`* BYE bye\r\n${tag} OK done\r\n`);
        sock.end();
      } else if (/^(NOOP|CHECK|CLOSE|UNSELECT)/.test(cmd)) w(`${tag} OK done\r\n`);
      else w(`${tag} BAD unknown command\r\n`);
    };
  });
}

/** Syncs an account (cache all) against a fresh scripted server once, then runs `check` on the result. */
async function withOddSync(
  opts: { bigSize?: number },
  check: (x: { e: ClientEngine; r: ImapReport; log: string[]; rows: MessageRow[] }) => Promise<void>,
): Promise<void> {
  const log: string[] = [];
  const srv = await startOddImap(log, opts);
  const p = tempProfile();
  const e = engine(p.dir, 'pw');
  try {
    e.addAccount({ name: 'odd', protocol: 'imap', host: '127.0.0.1', port: srv.port, user: 'u', password: { kind: 'env', name: PASSWORD_ENV }, cache: 'all' });
    const r = (await e.syncAccount('odd')) as ImapReport;
    assert.deepEqual(r.failed, [], log.join('\n'));
    const rows = e.list({ account: 'odd' }).sort((a, b) => (a.uid ?? 0) - (b.uid ?? 0));
    await check({ e, r, log, rows });
  } finally {
    e.close();
    p.cleanup();
    await srv.close();
  }
}

test('odd but legal IMAP responses: literals, NIL fields, unsolicited FETCH, ALERT and EXPUNGE during UID FETCH', async () => {
  await withOddSync({}, async ({ e, r, log, rows }) => {
    assert.deepEqual(
      rows.map((x) => [x.uid, x.summary.subject, x.summary.from, x.bodyCached]),
      [
        [4, 'hello world', '', true],
        [6, 'second one', '', true],
      ],
      log.join('\n'),
    );
    assert.equal(rows[0]?.summary.to, 'To <to@example.org>');
    assert.deepEqual(rows[1]?.flags, ['\\Answered', '\\Seen']);
    assert.equal(rows[1]?.size, BODY.length);
    assert.equal(r.newHeaders, 2);
    const again = (await e.syncAccount('odd')) as ImapReport;
    assert.equal(again.newHeaders, 0, 'the expunged UID 9 is not asked for again');
    assert.deepEqual(e.list({ account: 'odd' }).map((x) => x.uid).sort(), [4, 6]);
  });
});

test('a big body that stops short of its RFC822.SIZE (expunged mid-download) is not cached as the message', async () => {
  await withOddSync({ bigSize: 1_500_000 }, async ({ e, log, rows }) => {
    assert.ok(log.some((l) => /BODY\.PEEK\[\]<1048576\./.test(l)), log.join('\n'));
    assert.deepEqual(rows.map((x) => [x.uid, x.bodyCached]), [[4, true], [6, false]]);
    assert.equal(rows[1]?.filePath, null);
    assert.equal(assertMaildir(e.imapFolder('odd', 'INBOX').root), 1, 'only the small body is stored; no partial file in tmp/');
  });
});
