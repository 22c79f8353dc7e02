/**
 * Differential test: the same POP3 transcript against our server and a private Dovecot pop3d holding the
 * same messages. Status kinds (+OK/-ERR), octet counts, and RETR/TOP bytes must agree; only the human
 * texts and the UIDL values may differ. This keeps our expectations (stuffing, final CRLF, TOP line
 * counting, numbering after DELE) honest.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dovecotAvailable, startDovecot } from '../support/dovecot.js';
import { RawPop3, startPop3, USER, PASSWORD } from './pop3-helpers.js';

const MESSAGES = [
  'From: a@example.net\r\nSubject: plain\r\n\r\nHello.\r\n',
  'Subject: dots\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n.leading\r\n..double\r\n.\r\nmid . dot\r\ncaf\u00e9 \u2603\r\n',
  'Subject: no final newline\r\n\r\nline one\r\n.line two',
  'Subject: header only\r\nX-Empty: yes\r\n',
  'Subject: empty body\r\n\r\n',
  'Subject: many lines\r\n\r\n1\r\n2\r\n\r\n4\r\n.5\r\n6\r\n',
];

const SCRIPT = [
  'STAT', 'LIST', 'UIDL', 'LIST 3', 'LIST 7', 'LIST 0',
  ...MESSAGES.map((_, i) => `RETR ${i + 1}`),
  ...MESSAGES.flatMap((_, i) => [`TOP ${i + 1} 0`, `TOP ${i + 1} 2`]),
  'TOP 6 4', 'TOP 6 100',
  'DELE 2', 'RETR 2', 'LIST 2', 'TOP 2 1', 'DELE 2', 'STAT', 'LIST', 'UIDL', 'RSET', 'STAT', 'RETR 7', 'DELE 9', 'NOOP',
];

const MULTI = /^(LIST|UIDL|RETR|TOP)( \d+ \d+| \d+)?$/;

interface Step {
  cmd: string;
  ok: boolean;
  /** For single-line replies of STAT/LIST n: the data after +OK; for multi-line ones: the body. */
  data: string;
}

async function transcript(port: number, user: string, password: string): Promise<Step[]> {
  const { c } = await RawPop3.open(port);
  assert.match(await c.cmd(`USER ${user}`), /^\+OK/);
  assert.match(await c.cmd(`PASS ${password}`), /^\+OK/);
  const steps: Step[] = [];
  for (const cmd of SCRIPT) {
    const isMulti = MULTI.test(cmd) && (cmd.startsWith('RETR') || cmd.startsWith('TOP') || cmd.split(' ').length === 1);
    if (isMulti) {
      const r = await c.multi(cmd);
      let data = r.body ? r.body.toString('latin1') : '';
      // UIDL values differ between servers by design; keep the message numbers.
      if (cmd === 'UIDL') data = data.replace(/^(\d+) \S+$/gm, '$1 <uidl>');
      steps.push({ cmd, ok: r.status.startsWith('+OK'), data });
    } else {
      const status = await c.cmd(cmd);
      const ok = status.startsWith('+OK');
      // STAT and LIST n carry data ("count octets", "n octets"); other texts are free-form.
      const data = ok && (cmd === 'STAT' || cmd.startsWith('LIST ')) ? status.slice(4) : '';
      steps.push({ cmd, ok, data });
    }
  }
  assert.match(await c.cmd('QUIT'), /^\+OK/);
  return steps;
}

test('the same POP3 transcript on mailroom and Dovecot gives the same results', { skip: dovecotAvailable() ?? false, timeout: 60_000 }, async (t) => {
  const dovecot = await startDovecot();
  t.after(() => dovecot.stop());
  const f = await startPop3();
  t.after(() => f.close());
  for (const m of MESSAGES) {
    await dovecot.deliver('alice', m);
    await f.append(m);
  }
  const theirs = await transcript(dovecot.pop3Port, 'alice', 'secret');
  const ours = await transcript(f.port, USER, PASSWORD);
  for (let i = 0; i < SCRIPT.length; i++) {
    assert.deepEqual(ours[i], theirs[i], `step ${i}: ${SCRIPT[i]}\nDovecot log:\n${dovecot.log().slice(-2000)}`);
  }
});
