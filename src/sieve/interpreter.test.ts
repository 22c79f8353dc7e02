import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { compileSieve, runSieve, type CompiledScript, type SieveEnv, type SieveResult } from './index.js';

const MSG = Buffer.from(
  [
    'Return-Path: <alice@example.org>',
    'Received: from a by b; Tue, 05 Mar 2024 10:20:31 -0500',
    'From: Alice <alice@example.org>',
    'To: me+work@example.com',
    'Subject: =?UTF-8?Q?Caf=C3=A9?= news',
    'Date: Tue, 05 Mar 2024 10:20:30 -0500',
    'Message-ID: <m1@example.org>',
    'Content-Type: text/plain; charset=utf-8',
    '',
    'Hello world.',
    '',
  ].join('\r\n'),
);

function compile(src: string): CompiledScript {
  const r = compileSieve(src);
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.script;
}

async function run(src: string, env: Partial<SieveEnv> = {}): Promise<SieveResult> {
  return runSieve(compile(src), {
    message: MSG,
    envelope: { from: 'alice@example.org', to: 'me+work@example.com' },
    mailboxExists: async (n) => n === 'INBOX' || n === 'Existing',
    ...env,
  });
}

const brief = (r: SieveResult): string[] =>
  r.actions.map((a) => {
    switch (a.type) {
      case 'keep':
        return `keep${a.flags.length ? ' ' + a.flags.join(',') : ''}`;
      case 'fileinto':
        return `fileinto ${a.mailbox}${a.flags.length ? ' ' + a.flags.join(',') : ''}${a.create ? ' create' : ''}${a.copy ? ' copy' : ''}${a.mailboxId ? ' id=' + a.mailboxId : ''}`;
      case 'redirect':
        return `redirect ${a.address}${a.copy ? ' copy' : ''}`;
      case 'reject':
        return `${a.ereject ? 'ereject' : 'reject'} ${a.reason}`;
      case 'vacation':
        return `vacation ${a.seconds}`;
      default:
        return a.type;
    }
  });

describe('core', () => {
  test('implicit keep when nothing happens', async () => {
    const r = await run('# nothing');
    assert.deepEqual(brief(r), ['keep']);
    assert.equal(r.implicitKeep, true);
    assert.equal(r.message, MSG);
  });

  test('if/elsif/else picks one branch; stop ends the script', async () => {
    const r = await run('require "fileinto";\nif false { fileinto "a"; } elsif true { fileinto "b"; stop; } else { fileinto "c"; }\nfileinto "d";');
    assert.deepEqual(brief(r), ['fileinto b']);
  });

  test('duplicate actions collapse: fileinto twice, keep + fileinto INBOX', async () => {
    const r = await run('require "fileinto";\nfileinto "A"; fileinto "A"; keep; fileinto "inbox";');
    assert.deepEqual(brief(r), ['fileinto A', 'keep']);
    assert.equal(r.implicitKeep, false);
  });

  test('discard cancels only the implicit keep', async () => {
    assert.deepEqual(brief(await run('discard;')), ['discard']);
    assert.deepEqual(brief(await run('discard; keep;')), ['discard', 'keep']);
  });

  test('redirect limit (4) is a runtime error that keeps the message', async () => {
    const r = await run(['a', 'b', 'c', 'd', 'e'].map((x) => `redirect "${x}@example.com";`).join('\n'));
    assert.deepEqual(brief(r), ['keep']);
    assert.match(r.errors[0]!, /number of redirect actions exceeds policy limit \(5 > 4\)/);
    assert.equal(r.implicitKeep, true);
  });

  test('action limit and step limit', async () => {
    const many = 'require "fileinto";\n' + Array.from({ length: 40 }, (_, i) => `fileinto "f${i}";`).join('\n');
    assert.match((await run(many)).errors[0]!, /total number of actions exceeds policy limit/);
    const heavy = 'if header :contains "subject" "x" { keep; }\n'.repeat(50);
    assert.match((await run(heavy, { limits: { maxSteps: 40 } })).errors[0]!, /step limit/);
  });

  test('an exception from the environment becomes an error, never a throw', async () => {
    const r = await run('require "mailbox";\nif mailboxexists "X" { discard; }', {
      mailboxExists: async () => {
        throw new Error('store down');
      },
    });
    assert.deepEqual(brief(r), ['keep']);
    assert.match(r.errors[0]!, /store down/);
  });

  test('header values are decoded; address parts; size', async () => {
    const r = await run(
      'require "fileinto";\nif header :is "subject" "Caf\u00e9 news" { fileinto "decoded"; }\nif address :domain "from" "EXAMPLE.org" { fileinto "domain"; }\nif size :under 1K { fileinto "small"; }',
    );
    assert.deepEqual(brief(r), ['fileinto decoded', 'fileinto domain', 'fileinto small']);
  });
});

describe('extensions', () => {
  test('envelope and subaddress', async () => {
    const r = await run('require ["envelope", "subaddress", "fileinto"];\nif envelope :detail "to" "work" { fileinto "work"; }\nif envelope :user "to" "me" { fileinto "me"; }\nif envelope :all "from" "" { fileinto "null"; }', {
      envelope: { from: '', to: '<me+work@example.com>' },
    });
    assert.deepEqual(brief(r), ['fileinto work', 'fileinto me', 'fileinto null']);
  });

  test('envelope auth part', async () => {
    const r = await run('require ["envelope", "fileinto"];\nif envelope :is "auth" "bob@example.com" { fileinto "authed"; }', {
      envelope: { from: 'x@y', to: 'me@example.com', auth: 'bob@example.com' },
    });
    assert.deepEqual(brief(r), ['fileinto authed']);
  });

  test('copy keeps the implicit keep', async () => {
    const r = await run('require ["copy", "fileinto"];\nredirect :copy "a@example.com";\nfileinto :copy "Archive";');
    assert.deepEqual(brief(r), ['redirect a@example.com copy', 'fileinto Archive copy', 'keep']);
  });

  test('imap4flags: internal variable, :flags, implicit keep flags', async () => {
    const r = await run('require ["imap4flags", "fileinto", "copy"];\naddflag ["\\\\seen", "Work Work"];\nfileinto "A";\nremoveflag "work";\nfileinto :flags "$X" "B";\nfileinto :copy "C";');
    assert.deepEqual(r.actions.map((a) => ('flags' in a ? a.flags : [])), [['\\Seen', 'Work'], ['$X'], ['\\Seen']]);
    const k = await run('require "imap4flags";\nsetflag "\\\\Flagged";');
    assert.deepEqual(k.actions, [{ type: 'keep', flags: ['\\Flagged'] }]);
  });

  test('reject and ereject; reject conflicts with fileinto', async () => {
    assert.deepEqual(brief(await run('require "reject";\nreject "no thanks";')), ['reject no thanks']);
    assert.deepEqual(brief(await run('require "ereject";\nereject "no";')), ['ereject no']);
    const c = await run('require ["reject", "fileinto"];\nfileinto "A";\nreject "no";');
    assert.deepEqual(brief(c), ['keep']);
    assert.match(c.errors[0]!, /conflicts/);
  });

  test('vacation fields: days, seconds floor, subject, from, addresses, mime, handle', async () => {
    const r = await run('require ["vacation", "vacation-seconds"];\nvacation :seconds 60 :subject "Away" :from "Me <me@example.com>" :addresses ["a@example.com"] :mime :handle "h1" "Gone";');
    const v = r.actions.find((a) => a.type === 'vacation');
    assert.deepEqual(v, { type: 'vacation', reason: 'Gone', addresses: ['a@example.com'], mime: true, seconds: 86400, subject: 'Away', from: 'Me <me@example.com>', handle: 'h1' });
    const d = await run('require "vacation";\nvacation :days 3 "x";');
    assert.equal((d.actions.find((a) => a.type === 'vacation') as { seconds: number }).seconds, 3 * 86400);
    assert.match((await run('require "vacation";\nvacation "a"; vacation "b";')).errors[0]!, /duplicate vacation/);
  });

  test('mailbox: fileinto :create, mailboxexists', async () => {
    const r = await run('require ["mailbox", "fileinto"];\nif mailboxexists "Existing" { fileinto :create "New"; }\nif mailboxexists "Missing" { discard; }');
    assert.deepEqual(brief(r), ['fileinto New create']);
  });

  test('mailboxid: :mailboxid and mailboxidexists', async () => {
    const src = 'require ["mailboxid", "fileinto"];\nif mailboxidexists "F123" { fileinto :mailboxid "F123" "Box"; }';
    const r = await run(src, { mailboxIdExists: async (id) => id === 'F123' });
    assert.deepEqual(brief(r), ['fileinto Box id=F123']);
    assert.deepEqual(brief(await run(src)), ['keep']);
  });

  test('spamtest/spamtestplus/virustest values from the scores', async () => {
    const src = 'require ["spamtestplus", "virustest", "relational", "comparator-i;ascii-numeric", "fileinto", "variables"];\n' +
      'if spamtest :matches "*" { set "s" "${1}"; }\nif spamtest :percent :matches "*" { set "p" "${1}"; }\nif virustest :matches "*" { set "v" "${1}"; }\nfileinto "${s}-${p}-${v}";';
    assert.deepEqual(brief(await run(src, { spamScore: 7.5, virusScore: 1 })), ['fileinto 7-75-1']);
    assert.deepEqual(brief(await run(src, { spamScore: null })), ['fileinto 0-0-0']);
    assert.deepEqual(brief(await run(src, { spamScore: 10, virusScore: 5 })), ['fileinto 10-100-5']);
  });

  test('duplicate: asks the tracker with handle and period', async () => {
    const calls: Array<[string, number]> = [];
    const r = await run('require "duplicate";\nif duplicate :handle "h" :seconds 30 { discard; }\nif duplicate :uniqueid "u1" { discard; }', {
      duplicate: {
        seen: async (id, seconds) => {
          calls.push([id, seconds]);
          return id === 'u1';
        },
      },
    });
    assert.deepEqual(calls, [['h:<m1@example.org>', 30], ['u1', 14 * 86400]]);
    assert.deepEqual(brief(r), ['discard']);
  });

  test('editheader changes the message and later tests see it; Received is protected', async () => {
    const r = await run('require ["editheader", "fileinto"];\naddheader "X-Tag" "t\u00e9";\ndeleteheader "received";\ndeleteheader :contains "subject" "news";\nif header :is "x-tag" "t\u00e9" { fileinto "tagged"; }');
    const text = r.message.toString();
    assert.match(text, /^X-Tag: =\?UTF-8\?B\?dMOp\?=\r\n/);
    assert.match(text, /Received: from a by b/);
    assert.doesNotMatch(text, /Subject:/);
    assert.match(text, /\r\n\r\nHello world\.\r\n/);
    assert.deepEqual(brief(r), ['fileinto tagged']);
  });

  test('environment: defaults and caller values', async () => {
    const src = 'require ["environment", "fileinto", "variables"];\nif environment :matches "location" "*" { set "l" "${1}"; }\nif environment :matches "domain" "*" { set "d" "${1}"; }\nfileinto "${l}-${d}";';
    assert.deepEqual(brief(await run(src)), ['fileinto MDA-']);
    assert.deepEqual(brief(await run(src, { environment: { domain: 'example.com' } })), ['fileinto MDA-example.com']);
  });

  test('date and currentdate', async () => {
    const src = 'require ["date", "fileinto", "variables"];\nif date :zone "+0000" :matches "date" "time" "*" { set "t" "${1}"; }\nif currentdate :zone "+0000" :matches "date" "*" { set "c" "${1}"; }\nif date :index 1 :originalzone :matches "received" "zone" "*" { set "z" "${1}"; }\nfileinto "${t} ${c} ${z}";';
    const r = await runSieve(compile(src.replace('"date", ', '"date", "index", ')), {
      message: MSG,
      envelope: { from: '', to: 'me@example.com' },
      mailboxExists: async () => true,
      now: new Date(Date.UTC(2025, 0, 2, 3, 4, 5)),
    });
    assert.deepEqual(brief(r), ['fileinto 15:20:30 2025-01-02 -0500']);
  });

  test('variables: modifiers, match variables, unknown variables expand to empty', async () => {
    const r = await run('require ["variables", "fileinto"];\nset :upper "a" "x";\nset :length "n" "\u00e9t\u00e9";\nif header :matches "from" "* <*@*>" { set :lowerfirst "who" "${1}"; }\nfileinto "${a}${n}${who}${nothing}";');
    assert.deepEqual(brief(r), ['fileinto X3alice']);
  });

  test('regex captures and :quoteregex', async () => {
    const r = await run('require ["regex", "variables", "fileinto"];\nset :quoteregex "q" "a.b";\nif header :regex "from" "<([a-z]+)@" { fileinto "${1}-${q}"; }');
    assert.deepEqual(brief(r), ['fileinto alice-a\\.b']);
  });

  test('body :text, :content and :raw', async () => {
    const r = await run('require ["body", "fileinto"];\nif body :text :contains "world" { fileinto "t"; }\nif body :content "text/plain" :is "Hello world.\\r\\n\\r\\n" { fileinto "c"; }\nif body :raw :matches "Hello*" { fileinto "r"; }');
    assert.ok(brief(r).includes('fileinto t'));
    assert.ok(brief(r).includes('fileinto r'));
  });

  test('include: personal and global, :once, :optional, missing, recursion, depth', async () => {
    const scripts: Record<string, string> = {
      'personal:a': 'require ["fileinto", "include"];\nfileinto "from-a";\nreturn;\nfileinto "never";',
      'global:g': 'require ["fileinto"];\nfileinto "from-g";',
      'personal:loop': 'require "include";\ninclude "loop";',
    };
    const include = async (name: string, scope: 'personal' | 'global'): Promise<CompiledScript | null> => {
      const s = scripts[`${scope}:${name}`];
      return s ? compile(s) : null;
    };
    const ok = await run('require ["include", "fileinto"];\ninclude "a";\ninclude :once "a";\ninclude :once "a";\ninclude :global "g";\ninclude :optional "nope";\nfileinto "main";', { include });
    assert.deepEqual(brief(ok), ['fileinto from-a', 'fileinto from-g', 'fileinto main']);
    assert.match((await run('require "include";\ninclude "nope";', { include })).errors[0]!, /not found/);
    assert.match((await run('require "include";\ninclude "loop";', { include })).errors[0]!, /circular include/);
  });

  test('include: globals are shared, locals are not', async () => {
    const include = async (): Promise<CompiledScript | null> =>
      compile('require ["include", "variables"];\nglobal "g";\nset "g" "${g}+inner";\nset "l" "inner";');
    const r = await run('require ["include", "variables", "fileinto"];\nglobal "g";\nset "g" "outer";\nset "l" "outer";\ninclude "x";\nfileinto "${g}/${l}/${global.g}";', { include });
    assert.deepEqual(brief(r), ['fileinto outer+inner/outer/outer+inner']);
  });

  test('ihave and error', async () => {
    assert.deepEqual(brief(await run('require ["ihave", "fileinto"];\nif ihave "body" { fileinto "yes"; }\nif ihave "x-no" { x_no; }')), ['fileinto yes']);
    const e = await run('require "ihave";\nerror "custom failure";');
    assert.deepEqual(e.errors, ['custom failure']);
  });

  test('encoded-character expands at compile time', async () => {
    assert.deepEqual(brief(await run('require ["encoded-character", "fileinto"];\nfileinto "${hex:41 42}${unicode:263a}${hex:zz}";')), ['fileinto AB\u263a${hex:zz}']);
  });

  test('relational and i;ascii-numeric', async () => {
    const r = await run(
      'require ["relational", "comparator-i;ascii-numeric", "fileinto"];\n' +
        'if header :count "eq" :comparator "i;ascii-numeric" "received" "1" { fileinto "one"; }\n' +
        // A value without leading digits is positive infinity: greater than any number.
        'if header :value "gt" :comparator "i;ascii-numeric" "message-id" "99999" { fileinto "inf"; }\n' +
        'if header :value "lt" :comparator "i;ascii-numeric" "x-none" "1" { discard; }',
    );
    assert.deepEqual(brief(r), ['fileinto one', 'fileinto inf']);
  });
});

describe('robustness', () => {
  const TESTS = [
    'header :contains "subject" "%s"',
    'address :domain :is ["from", "to"] "%s"',
    'header :matches "subject" "*%s*"',
    'header :regex "from" "%s"',
    'body :text :contains "%s"',
    'body :raw :matches "*%s"',
    'exists "%s"',
    'date :zone "+0100" :value "ge" "date" "year" "%s"',
    'string :count "ge" :comparator "i;ascii-numeric" "${1}" "%s"',
    'envelope :detail "to" "%s"',
  ];
  const ACTIONS = ['fileinto "%s";', 'keep;', 'discard;', 'addflag "%s";', 'set "v" "${1}%s";', 'addheader "X-F" "%s";', 'deleteheader "subject";', 'redirect "x@example.com";', 'stop;'];
  const REQUIRE = 'require ["fileinto", "body", "regex", "date", "relational", "comparator-i;ascii-numeric", "variables", "envelope", "subaddress", "imap4flags", "editheader"];\n';

  test('fuzz: generated scripts and random messages never throw, results are well formed', async () => {
    const word = fc.stringMatching(/^[a-z0-9 .*?\\]{0,6}$/);
    const rule = fc.tuple(fc.nat(TESTS.length - 1), fc.nat(ACTIONS.length - 1), word, word).map(([t, a, w1, w2]) => {
      const esc = (s: string): string => s.replace(/\\/g, '\\\\');
      return `if ${TESTS[t]!.replace('%s', esc(w1))} { ${ACTIONS[a]!.replace('%s', esc(w2))} }`;
    });
    const message = fc.oneof(fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)), fc.constant(MSG));
    await fc.assert(
      fc.asyncProperty(fc.array(rule, { maxLength: 8 }), message, async (rules, msg) => {
        const c = compileSieve(REQUIRE + rules.join('\n'));
        if (!c.ok) return; // a generated regex can be invalid; refusal is a valid outcome
        const r = await runSieve(c.script, { message: msg, envelope: { from: '', to: 'me+x@example.com' }, mailboxExists: async () => true });
        assert.ok(Array.isArray(r.actions) && r.actions.length > 0 || !r.implicitKeep);
        assert.ok(Buffer.isBuffer(r.message));
        if (r.errors.length > 0) assert.deepEqual(r.actions, [{ type: 'keep', flags: [] }]);
      }),
      { numRuns: 150 },
    );
  });
});

describe('regex safety', () => {
  test('a catastrophic pattern is stopped by the time limit and the message is kept', async () => {
    const slow = Buffer.from(`Subject: ${'a'.repeat(40)}b\r\n\r\nx\r\n`);
    const t = performance.now();
    const r = await run('require ["regex", "fileinto"];\nif header :regex "subject" "^(a+)+$" { fileinto "never"; }', { message: slow });
    assert.ok(performance.now() - t < 5000);
    assert.deepEqual(brief(r), ['keep']);
    assert.match(r.errors[0]!, /took too long/);
  });

  test('nested repetition that finishes quickly still matches', async () => {
    const r = await run('require ["regex", "fileinto", "variables"];\nif header :regex "received" "from (([a-z]+ )+)by" { fileinto "${1}"; }');
    assert.deepEqual(brief(r), ['fileinto a ']);
  });
});
