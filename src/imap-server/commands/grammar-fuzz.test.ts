/**
 * Every command's typed argument parser, fed random and mutated input, fails only with TokenizeError or
 * ParseError (which the dispatcher answers with BAD), never with anything else.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { tokenize, TokenizeError } from '../../imap/wire/tokenizer.js';
import { Args, ParseError } from '../../imap/grammar/args.js';
import { parseFetch } from '../../imap/grammar/fetch.js';
import { parseSearch } from '../../imap/grammar/search.js';
import { args } from './testing/grammar.js';
import { parseSelect } from './select.js';
import { parseList } from './list.js';
import { parseAppend } from './append.js';
import { parseStore } from './store.js';
import { parseStatus } from './status.js';
import { parseCopy } from './copy.js';
import { parseId } from './id.js';
import { parseCreate } from './create.js';
import { parseEnable } from './enable.js';
import { parseAuthenticate, parseLogin } from './login.js';

/** Command names and argument fragments used to build random and mutated commands. */
const FRAGMENTS = ['1', '1:*', '$', '*', '(', ')', 'FLAGS', 'BODY[]', 'BODY.PEEK[HEADER.FIELDS (A)]', '"q"', '{3+}\r\nabc', 'NIL', 'OR', 'NOT', 'UID', '(CHANGEDSINCE 1)', 'RETURN', '(MIN)', 'INBOX', '\\Seen', '+FLAGS', '"', '[', ']', '<0.1>', '~{1}\r\n\0'];
const PARSERS = [parseFetch, parseSearch, parseSelect, parseList, parseAppend, parseStore, parseStatus, parseCopy, parseId, parseCreate, parseEnable, parseLogin, parseAuthenticate];

describe('fuzz', () => {
  test('random fragment sequences only ever fail with TokenizeError/ParseError', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...FRAGMENTS), { maxLength: 12 }), fc.integer({ min: 0, max: PARSERS.length - 1 }), (frags, p) => {
        try {
          PARSERS[p]!(args(frags.join(' ')));
        } catch (e) {
          assert.ok(e instanceof ParseError || e instanceof TokenizeError, String(e));
        }
      }),
      { numRuns: 2000 },
    );
  });

  test('mutated valid commands only ever fail with TokenizeError/ParseError', () => {
    const valid = ['1:* (UID FLAGS BODY.PEEK[1.HEADER.FIELDS (From)]<0.10>)', 'RETURN (ALL) OR FROM a NOT SEEN', 'INBOX (QRESYNC (1 2 1:5))', '"" "*" RETURN (STATUS (MESSAGES))', 'INBOX (\\Seen) {3+}\r\nabc', '1 +FLAGS (\\Seen)'];
    fc.assert(
      fc.property(fc.integer({ min: 0, max: valid.length - 1 }), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }), (vi, muts) => {
        const b = Buffer.from(valid[vi]!);
        for (const [pos, byte] of muts) b[pos % b.length] = byte;
        for (const p of PARSERS) {
          try {
            p(new Args(tokenize(b)));
          } catch (e) {
            assert.ok(e instanceof ParseError || e instanceof TokenizeError, String(e));
          }
        }
      }),
      { numRuns: 1000 },
    );
  });
});
