/**
 * RFC 5228 section 8.2 grammar: commands, blocks, arguments, string lists, tests and test lists.
 * Throws SieveSyntaxError with the position of the offending token.
 */
import type { Arg, CommandNode, TestNode } from './ast.js';
import { SieveSyntaxError, tokenize, type Token } from './lexer.js';

/** Nesting of blocks and tests; deep nesting only serves to exhaust the stack (Pigeonhole: 32). */
const MAX_NESTING = 32;
/**
 * Commands and tests in one script. A 1 MiB script of one-line rules has 58 000 of them: seconds of CPU to
 * compile and about 90 MB of tree, kept by the delivery cache. Real scripts have hundreds; long string lists
 * (blocklists) are one test however many strings they hold.
 */
export const MAX_SCRIPT_NODES = 10_000;

function describe(t: Token): string {
  switch (t.t) {
    case 'identifier':
      return `identifier '${t.v}'`;
    case 'tag':
      return `tag ':${t.v}'`;
    case 'number':
      return `number ${t.v}`;
    case 'string':
      return 'string';
    case 'punct':
      return `'${t.v}'`;
    default:
      return 'end of script';
  }
}

export function parseScript(source: string): CommandNode[] {
  const toks = tokenize(source);
  let k = 0;
  let nodes = 0;
  const counted = (pos: Token['pos']): void => {
    if (++nodes > MAX_SCRIPT_NODES) throw new SieveSyntaxError(`script has too many commands and tests (at most ${MAX_SCRIPT_NODES})`, pos);
  };
  const peek = (): Token => toks[k]!;
  const next = (): Token => toks[k++]!;

  const commands = (depth: number, inBlock: boolean): CommandNode[] => {
    const out: CommandNode[] = [];
    for (;;) {
      const t = peek();
      if (t.t === 'eof') {
        if (inBlock) throw new SieveSyntaxError("unexpected end of script; expecting '}'", t.pos);
        return out;
      }
      if (t.t === 'punct' && t.v === '}') {
        if (!inBlock) throw new SieveSyntaxError("unexpected '}' found at (the presumed) end of file", t.pos);
        return out;
      }
      if (t.t !== 'identifier') throw new SieveSyntaxError(`expected identifier but found ${describe(t)}`, t.pos);
      out.push(command(depth));
    }
  };

  const command = (depth: number): CommandNode => {
    const id = next() as Extract<Token, { t: 'identifier' }>;
    counted(id.pos);
    const { args, tests, testList } = argumentsOf(depth);
    const t = peek();
    if (t.t === 'punct' && t.v === ';') {
      next();
      return { name: id.v, pos: id.pos, args, tests, testList, block: null };
    }
    if (t.t === 'punct' && t.v === '{') {
      if (depth >= MAX_NESTING) throw new SieveSyntaxError('cannot nest command blocks deeper than 32 levels', t.pos);
      next();
      const block = commands(depth + 1, true);
      next();
      return { name: id.v, pos: id.pos, args, tests, testList, block };
    }
    throw new SieveSyntaxError(`missing semicolon ';' after ${id.v} command`, id.pos);
  };

  const argumentsOf = (depth: number): { args: Arg[]; tests: TestNode[]; testList: boolean } => {
    const args: Arg[] = [];
    for (;;) {
      const t = peek();
      if (t.t === 'tag') {
        next();
        args.push({ kind: 'tag', name: t.v, pos: t.pos });
      } else if (t.t === 'number') {
        next();
        args.push({ kind: 'number', value: t.v, pos: t.pos });
      } else if (t.t === 'string') {
        next();
        args.push({ kind: 'string', value: t.v, pos: t.pos });
      } else if (t.t === 'punct' && t.v === '[') {
        next();
        args.push(stringList(t.pos));
      } else break;
    }
    const t = peek();
    if (t.t === 'identifier') return { args, tests: [test(depth + 1)], testList: false };
    if (t.t === 'punct' && t.v === '(') {
      if (depth >= MAX_NESTING) throw new SieveSyntaxError('cannot nest tests deeper than 32 levels', t.pos);
      next();
      const tests: TestNode[] = [];
      for (;;) {
        const u = peek();
        if (u.t !== 'identifier') throw new SieveSyntaxError(`expecting test identifier after '(' or ',' but found ${describe(u)}`, u.pos);
        tests.push(test(depth + 1));
        const s = next();
        if (s.t === 'punct' && s.v === ')') break;
        if (!(s.t === 'punct' && s.v === ',')) throw new SieveSyntaxError(`expecting ',' or end of test list ')' but found ${describe(s)}`, s.pos);
      }
      return { args, tests, testList: true };
    }
    return { args, tests: [], testList: false };
  };

  const stringList = (pos: Arg['pos']): Arg => {
    const values: string[] = [];
    for (;;) {
      const t = next();
      if (t.t !== 'string') {
        throw new SieveSyntaxError(`expecting string after '${values.length ? ',' : '['}' in string list, but found ${t.t === 'punct' ? describe(t) : t.t === 'eof' ? 'end of script' : t.t}`, t.pos);
      }
      values.push(t.v);
      const s = next();
      if (s.t === 'punct' && s.v === ']') break;
      if (!(s.t === 'punct' && s.v === ',')) throw new SieveSyntaxError(`expecting ',' or end of string list ']', but found ${describe(s)}`, s.pos);
    }
    return { kind: 'list', values, pos };
  };

  const test = (depth: number): TestNode => {
    if (depth > MAX_NESTING) throw new SieveSyntaxError('cannot nest tests deeper than 32 levels', peek().pos);
    const id = next() as Extract<Token, { t: 'identifier' }>;
    counted(id.pos);
    const { args, tests, testList } = argumentsOf(depth);
    return { name: id.v, pos: id.pos, args, tests, testList };
  };

  return commands(0, false);
}
