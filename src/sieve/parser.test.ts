import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { tokenize, SieveSyntaxError } from './lexer.js';
import { parseScript } from './parser.js';
import { compileSieve } from './index.js';

function errorsOf(src: string, extensions?: string[]): Array<{ line: number; column: number; message: string }> {
  const r = compileSieve(src, extensions ? { extensions } : {});
  assert.equal(r.ok, false, `expected ${JSON.stringify(src)} to be refused`);
  return r.ok ? [] : r.errors;
}

describe('lexer', () => {
  test('numbers with K/M/G quantifiers (case-insensitive)', () => {
    const t = tokenize('1 2K 3m 4G 007');
    assert.deepEqual(
      t.filter((x) => x.t === 'number').map((x) => (x as { v: number }).v),
      [1, 2048, 3 * 1024 * 1024, 4 * 1024 ** 3, 7],
    );
  });

  test('quoted strings: \\" and \\\\ unescaped, other escapes drop the backslash, line breaks kept', () => {
    const t = tokenize('"a\\"b\\\\c\\d" "x\ny"');
    assert.deepEqual(t.filter((x) => x.t === 'string').map((x) => (x as { v: string }).v), ['a"b\\cd', 'x\ny']);
  });

  test('multi-line strings: dot-unstuffing, hash comment after text:, CRLF lines', () => {
    const t = tokenize('text: # comment\r\nline 1\r\n..dotted\r\n.\r\n');
    const s = t[0] as { t: string; v: string; multiline: boolean };
    assert.equal(s.t, 'string');
    assert.equal(s.v, 'line 1\r\n.dotted\r\n');
    assert.equal(s.multiline, true);
  });

  test('multi-line string with junk after text: is refused at that position', () => {
    assert.throws(() => tokenize('text: junk\n.\n'), (e: unknown) => e instanceof SieveSyntaxError && e.pos.line === 1 && e.pos.column === 7);
  });

  test('comments are skipped and positions count lines inside bracket comments', () => {
    const t = tokenize('/* a\n b */ keep; # x\n  stop;');
    const ids = t.filter((x) => x.t === 'identifier');
    assert.deepEqual(ids.map((x) => [x.pos.line, x.pos.column]), [[2, 7], [3, 3]]);
  });

  test('identifiers and tags are case-insensitive', () => {
    const t = tokenize('KEEP :CoNtAiNs');
    assert.deepEqual(t.slice(0, 2).map((x) => (x as { v: string }).v), ['keep', 'contains']);
  });

  test('unexpected characters are reported with line and column', () => {
    assert.throws(() => tokenize('keep;\n  @'), (e: unknown) => e instanceof SieveSyntaxError && e.pos.line === 2 && e.pos.column === 3);
  });
});

describe('parser', () => {
  test('commands, tests, test lists, string lists, blocks', () => {
    const tree = parseScript('if anyof (header :is ["a","b"] "c", not true) { fileinto "x"; } else { keep; }');
    assert.equal(tree.length, 2);
    const ifc = tree[0]!;
    assert.equal(ifc.name, 'if');
    assert.equal(ifc.tests[0]!.name, 'anyof');
    assert.equal(ifc.tests[0]!.testList, true);
    assert.deepEqual(ifc.tests[0]!.tests[0]!.args[1], { kind: 'list', values: ["a", "b"], pos: { line: 1, column: 22 } });
    assert.equal(ifc.block![0]!.name, 'fileinto');
    assert.equal(tree[1]!.name, 'else');
  });

  test('nesting deeper than 32 levels is refused', () => {
    const deep = 'if true {'.repeat(40) + '}'.repeat(40);
    assert.throws(() => parseScript(deep), SieveSyntaxError);
  });
});

describe('compile errors: positions and messages', () => {
  const cases: Array<[string, number, number, RegExp]> = [
    ['keep;\nfoo;', 2, 1, /^unknown command 'foo'/],
    ['if bar { keep; }', 1, 4, /^unknown test 'bar'/],
    ['require "x-nope";', 1, 9, /unknown Sieve capability `x-nope'/],
    ['fileinto "a";', 1, 1, /unknown command 'fileinto'/],
    ['keep;\nrequire "fileinto";', 2, 1, /require commands can only be placed at top level/],
    ['redirect :copy "a@b.c";', 1, 10, /unknown tagged argument ':copy' for the redirect command/],
    ['keep\ndiscard;', 1, 1, /missing semicolon ';' after keep command/],
    ['keep;\n"x";', 2, 1, /expected identifier but found string/],
    ['if true { keep; ', 1, 17, /unexpected end of script; expecting '}'/],
    ['keep;\n}', 2, 1, /unexpected '}' found at \(the presumed\) end of file/],
    ['if true;', 1, 1, /requires a command block/],
    ['keep "x";', 1, 6, /requires 0 positional argument\(s\), but 1 is\/are specified/],
    ['redirect;', 1, 1, /requires 1 positional argument/],
    ['keep;\nelse { keep; }', 2, 1, /the else command must follow an if or elseif command/],
    ['if header :is :contains "a" "b" { keep; }', 1, 15, /encountered duplicate MATCH-TYPE argument \(:contains\) for the header test/],
    ['if header :comparator "i;bogus" "a" "b" { keep; }', 1, 4, /unknown comparator 'i;bogus'/],
    ['require "relational";\nif header :value "xx" "a" "b" { keep; }', 2, 4, /:value match-type requires a constant string argument/],
    ['require "regex";\nif header :regex "a" "(" { keep; }', 2, 4, /invalid regular expression '\('/],
    ['redirect "nobody";', 1, 1, /specified redirect address 'nobody' is invalid/],
    ['if address "subject" "x" { keep; }', 1, 4, /not allowed for the address test/],
    ['require "variables";\nset "9x" "y";', 2, 1, /invalid variable name '9x'/],
    ['keep;\n"abc', 2, 5, /end of file before end of quoted string started at line 2/],
    ['keep; /* open', 1, 14, /bracket comment/],
    ['if size :over 1X { keep; }', 1, 4, /missing semicolon ';' after size test/],
    ['if allof true { keep; }', 1, 4, /requires a list of sub-tests/],
    ['require "editheader";\naddheader "a b" "c";', 2, 1, /field name `a b' is invalid/],
  ];
  for (const [src, line, column, re] of cases) {
    test(JSON.stringify(src), () => {
      const e = errorsOf(src)[0]!;
      assert.match(e.message, re);
      assert.deepEqual([e.line, e.column], [line, column], e.message);
    });
  }

  test('an unknown command is reported once, other errors all', () => {
    const errs = errorsOf('foo;\nfoo;\nbar;');
    assert.deepEqual(errs.map((e) => e.line), [1, 3]);
  });

  test('extensions can be restricted by the caller', () => {
    assert.match(errorsOf('require "vacation";', ['fileinto'])[0]!.message, /unknown Sieve capability `vacation'/);
    assert.equal(compileSieve('require "fileinto"; fileinto "x";', { extensions: ['fileinto'] }).ok, true);
  });

  test('script size limit', () => {
    const r = compileSieve('keep;' + ' '.repeat(100), { maxSize: 50 });
    assert.equal(r.ok, false);
    assert.match(r.ok ? '' : r.errors[0]!.message, /too large/);
  });

  test('invalid UTF-8 is refused', () => {
    assert.equal(compileSieve(Buffer.from([0x6b, 0x65, 0x65, 0x70, 0x3b, 0xff])).ok, false);
  });

  test('i;ascii-numeric needs its require; ihave blocks may use extensions not required', () => {
    assert.match(errorsOf('if header :comparator "i;ascii-numeric" :is "a" "1" { keep; }')[0]!.message, /unknown comparator/);
    const r = compileSieve('require "ihave";\nif ihave "fileinto" { fileinto "x"; }\nif ihave "x-none" { x_none_command; }');
    assert.equal(r.ok, true);
  });

  test('compiled scripts list their requires', () => {
    const r = compileSieve('require ["fileinto", "spamtestplus"];');
    assert.ok(r.ok);
    assert.deepEqual(r.ok ? r.script.requires : [], ['fileinto', 'spamtest', 'spamtestplus']);
  });

  test('fuzz: random input never throws, errors always carry positions inside the script', () => {
    const alphabet = fc.constantFrom(...'if{}()[],;:"\\#/*\n keepdiscardtext:require"fileinto"0123456789KMG.'.split(''));
    fc.assert(
      fc.property(fc.array(alphabet, { maxLength: 80 }).map((a) => a.join('')), (src) => {
        const r = compileSieve(src);
        if (!r.ok) {
          const lines = src.split('\n').length;
          for (const e of r.errors) {
            assert.ok(e.line >= 1 && e.line <= lines + 1, `line ${e.line} of ${lines}`);
            assert.ok(e.column >= 1);
          }
        }
      }),
      { numRuns: 400 },
    );
  });
});

describe('compile warnings', () => {
  const warnings = (src: string): string[] => {
    const r = compileSieve(src);
    assert.ok(r.ok, JSON.stringify(r));
    return r.ok ? r.warnings.map((w) => `${w.line}: ${w.message}`) : [];
  };
  test('vacation period under the minimum, unknown date part, protected header field', () => {
    assert.deepEqual(warnings('require "vacation";\nvacation :days 0 "x";'), ["2: specified :days value '0' is under the minimum"]);
    assert.deepEqual(warnings('require "date";\nif date "date" "fortnight" "1" { keep; }'), ["2: specified date part `fortnight' is not known"]);
    assert.deepEqual(warnings('require "editheader";\n\ndeleteheader "Received";'), ["3: deleteheader command: deleting specified header field `Received' is forbidden; modification will be denied"]);
  });
});
