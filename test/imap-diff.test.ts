/**
 * Differential IMAP tests: mailroom and Dovecot (Debian's dovecot-imapd, the reference) get the same bytes
 * on the edge cases the imaptest scripts leave alone: malformed commands, sequence sets, SEARCH nesting,
 * charsets and dates, odd FETCH sections, STORE flags, empty mailboxes, mailbox names (modified UTF-7,
 * INBOX, the hierarchy delimiter), CREATE / RENAME / DELETE, commands in the wrong state, IDLE, ENABLE,
 * and the response codes. Each case compares the tagged statuses with their response codes, BYE, whether
 * the connection goes on, and where the case asks the mailbox list or the SEARCH / FETCH lines afterwards.
 *
 * Most cases must give the same answer on both. A few differ on purpose, each with both answers pinned and
 * the reason: where Dovecot accepts what the RFC's grammar does not, or where the RFC asks for more than
 * Dovecot 2.3 does. When the RFC leaves the choice, mailroom does what Dovecot does.
 *
 * DIFF_REPORT=1 prints every case's two answers.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startBoth, runCase, type DiffCase, type Server } from './imap-diff-helpers.js';
import { DIFF_CASES } from './imap-diff-cases.js';

describe('IMAP differential: mailroom against Dovecot', () => {
  let both: Awaited<ReturnType<typeof startBoth>>;
  before(async () => {
    both = await startBoth(DIFF_CASES.length);
  });
  after(async () => {
    await both?.stop();
  });

  const label = (k: DiffCase): string =>
    `${k.s} ${JSON.stringify(k.l.map((x) => (typeof x === 'string' ? x : x.send.toString('latin1'))).join(' | '))
      .slice(1, -1)
      .slice(0, 110)}`;

  for (const [i, k] of DIFF_CASES.entries()) {
    test(label(k), async () => {
      const run = (srv: Server) => runCase(srv, i, k);
      const [mr, dc] = [await run(both.mailroom), await run(both.dovecot)];
      if (process.env.DIFF_REPORT) console.log(`${label(k)}\n  mailroom: ${mr.text}\n  dovecot:  ${dc.text}`);
      const why = `\nmailroom:\n${mr.raw}\ndovecot:\n${dc.raw}`;
      if (k.differs) {
        assert.equal(mr.text, k.differs.mailroom, `mailroom (${k.differs.why})${why}`);
        assert.equal(dc.text, k.differs.dovecot, `dovecot (${k.differs.why})${why}`);
      } else {
        assert.equal(mr.text, dc.text, `mailroom and Dovecot differ${why}`);
      }
    });
  }
});
