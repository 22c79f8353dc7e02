/**
 * Validation (Pigeonhole's "validation" stage): every command and test checked against specs.ts, `require`
 * placement and capabilities, tag conflicts, argument counts and types, and constant arguments (comparators,
 * relational operators, addresses, regular expressions, date parts, variable names). Produces the compiled
 * node tree the interpreter runs. Errors collect; the first few are reported with positions.
 */
import type { Arg, CommandNode, TestNode } from './ast.js';
import { COMMANDS, IMPLIED, TESTS, type ArgType, type Spec } from './specs.js';
import type { SieveCompileError, SievePosition } from './types.js';
import { decodeEncodedCharacters } from './strings.js';
import { checkConstants } from './validate-args.js';

export type Value =
  | { kind: 'string'; value: string }
  | { kind: 'list'; values: string[] }
  | { kind: 'number'; value: number };

export interface Node {
  name: string;
  pos: SievePosition;
  tags: Map<string, Value | null>;
  /** Positional arguments; an omitted optional one is null. */
  args: Array<Value | null>;
  tests: Node[];
  block: Node[] | null;
}

export const COMPARATORS: Record<string, string | null> = {
  'i;octet': null,
  'i;ascii-casemap': null,
  'i;ascii-numeric': 'comparator-i;ascii-numeric',
};

/** How Pigeonhole names the tag groups in its messages. */
const GROUP_NAMES: Record<string, string> = { match: 'MATCH-TYPE', addrpart: 'ADDRESS-PART' };

/** Pigeonhole stops after this many errors. */
const MAX_ERRORS = 10;

export class Validator {
  readonly errors: SieveCompileError[] = [];
  readonly warnings: SieveCompileError[] = [];
  readonly required = new Set<string>();
  private reported = new Set<string>();

  constructor(private readonly available: ReadonlySet<string>) {}

  error(pos: SievePosition, message: string): void {
    if (this.errors.length < MAX_ERRORS) this.errors.push({ line: pos.line, column: pos.column, message });
  }

  warn(pos: SievePosition, message: string): void {
    if (this.warnings.length < MAX_ERRORS) this.warnings.push({ line: pos.line, column: pos.column, message });
  }

  has(ext: string): boolean {
    return this.required.has(ext);
  }

  script(nodes: CommandNode[]): Node[] {
    let requiresAllowed = true;
    const out: Node[] = [];
    for (const c of nodes) {
      if (c.name === 'require') {
        if (!requiresAllowed) this.error(c.pos, 'require commands can only be placed at top level at the beginning of the file');
        else this.require(c);
        continue;
      }
      requiresAllowed = false;
      const n = this.command(c, out);
      if (n) out.push(n);
    }
    return out;
  }

  private require(c: CommandNode): void {
    const a = c.args[0];
    if (c.args.length !== 1 || c.tests.length > 0 || c.block || !a || (a.kind !== 'string' && a.kind !== 'list')) {
      const found = !a ? 'none' : a.kind === 'number' ? 'a number' : a.kind === 'tag' ? `tag ':${a.name}'` : 'more';
      this.error(c.pos, `the require command accepts a single string or string list argument, but ${found} was found`);
      return;
    }
    for (const ext of a.kind === 'string' ? [a.value] : a.values) {
      if (!this.available.has(ext)) {
        this.error(a.pos, `require command: unknown Sieve capability \`${ext}'`);
        continue;
      }
      this.required.add(ext);
      for (const i of IMPLIED[ext] ?? []) this.required.add(i);
    }
  }

  private block(nodes: CommandNode[]): Node[] {
    const out: Node[] = [];
    for (const c of nodes) {
      if (c.name === 'require') {
        this.error(c.pos, 'require commands can only be placed at top level at the beginning of the file');
        continue;
      }
      const n = this.command(c, out);
      if (n) out.push(n);
    }
    return out;
  }

  private enabled(spec: Spec): boolean {
    return spec.ext === null || spec.ext.some((e) => this.required.has(e));
  }

  private command(c: CommandNode, siblings: Node[]): Node | null {
    const spec = COMMANDS[c.name];
    if (!spec || !this.enabled(spec)) {
      this.unknown(c.pos, 'command', c.name);
      return null;
    }
    if (c.name === 'elsif' || c.name === 'else') {
      const prev = siblings[siblings.length - 1];
      if (!prev || (prev.name !== 'if' && prev.name !== 'elsif')) {
        this.error(c.pos, `the ${c.name} command must follow an if or elseif command`);
      }
    }
    const node = this.generic(c, spec, 'command');
    if (!node) return null;
    if (spec.block === 'required') {
      if (!c.block) {
        this.error(c.pos, `the ${c.name} command requires a command block, but it is missing`);
        return null;
      }
      node.block = this.ihaveBlock(c) ?? this.block(c.block);
    } else if (c.block) {
      this.error(c.pos, `the ${c.name} command does not accept a command block, but one is specified anyway`);
      return null;
    }
    return node;
  }

  /** RFC 5463: the block of `if ihave [...]` may use the listed extensions; when one is missing it is skipped. */
  private ihaveBlock(c: CommandNode): Node[] | null {
    const t = c.tests[0];
    if (c.name !== 'if' && c.name !== 'elsif') return null;
    if (!t || t.name !== 'ihave' || !this.has('ihave') || !c.block) return null;
    const a = t.args[0];
    if (!a || (a.kind !== 'string' && a.kind !== 'list')) return null;
    const caps = a.kind === 'string' ? [a.value] : a.values;
    if (!caps.every((x) => this.available.has(x))) return []; // never runs: ihave is false
    const added = caps.filter((x) => !this.required.has(x));
    for (const x of added) this.required.add(x);
    const out = this.block(c.block);
    for (const x of added) this.required.delete(x);
    return out;
  }

  private unknown(pos: SievePosition, what: 'command' | 'test', name: string): void {
    const key = `${what}:${name}`;
    if (this.reported.has(key)) return;
    this.reported.add(key);
    this.error(pos, `unknown ${what} '${name}' (only reported once at first occurrence)`);
  }

  test(t: TestNode): Node | null {
    const spec = TESTS[t.name];
    if (!spec || !this.enabled(spec)) {
      this.unknown(t.pos, 'test', t.name);
      return null;
    }
    return this.generic(t, spec, 'test');
  }

  private generic(c: CommandNode | TestNode, spec: Spec, what: 'command' | 'test'): Node | null {
    const tags = new Map<string, Value | null>();
    const positional: Arg[] = [];
    const groups = new Map<string, string>();
    let ok = true;
    const args = c.args;
    for (let i = 0; i < args.length; i++) {
      const a = args[i]!;
      if (a.kind !== 'tag') {
        positional.push(a);
        continue;
      }
      if (positional.length > 0 && c.name !== 'deleteheader') {
        this.error(a.pos, `the ${c.name} ${what} does not accept tagged arguments after positional arguments (found ':${a.name}')`);
        ok = false;
        continue;
      }
      const ts = spec.tags[a.name];
      if (!ts || (ts.ext && !this.has(ts.ext))) {
        this.error(a.pos, `unknown tagged argument ':${a.name}' for the ${c.name} ${what} (reported only once at first occurrence)`);
        ok = false;
        continue;
      }
      if (tags.has(a.name)) {
        this.error(a.pos, `encountered duplicate :${a.name} argument for the ${c.name} ${what}`);
        ok = false;
        continue;
      }
      if (ts.group) {
        const prev = groups.get(ts.group);
        if (prev) {
          this.error(a.pos, conflictMessage(c.name, what, ts.group, prev, a.name));
          ok = false;
          continue;
        }
        groups.set(ts.group, a.name);
      }
      let val: Value | null = null;
      if (ts.arg) {
        const v = args[i + 1];
        val = v ? this.coerce(v, ts.arg) : null;
        if (!v || !val) {
          const found = v ? describeArg(v).replace(/^tag .*/, 'a tag') : 'nothing';
          this.error(v?.pos ?? a.pos, `the :${a.name} tag for the ${c.name} ${what} requires ${article(ts.arg)} as parameter, but ${found} was found`);
          ok = false;
          continue;
        }
        i++;
      }
      tags.set(a.name, val);
    }
    const want = spec.positional;
    const min = want.length - (spec.optionalLeading ?? 0) - (spec.optionalTrailing ?? 0);
    if (positional.length < min || positional.length > want.length) {
      this.error(
        positional[want.length]?.pos ?? c.pos,
        `the ${c.name} ${what} requires ${min === want.length ? '' : 'at least '}${min} positional argument(s), but ${positional.length} is/are specified`,
      );
      return null;
    }
    const values: Array<Value | null> = [];
    const skipLead = want.length - positional.length > 0 && spec.optionalLeading ? want.length - positional.length : 0;
    for (let k = 0; k < skipLead; k++) values.push(null);
    positional.forEach((p, k) => {
      const type = want[k + skipLead]!;
      const v = this.coerce(p, type);
      if (!v) {
        const name = spec.names?.[k + skipLead];
        this.error(p.pos, `the ${c.name} ${what} expects ${article(type)} as argument ${k + 1}${name ? ` (${name})` : ''}, but ${describeArg(p)} was found`);
        ok = false;
      }
      values.push(v);
    });
    while (values.length < want.length) values.push(null);
    const tests: Node[] = [];
    if (spec.tests === 'none' && c.tests.length > 0) {
      // `keep\ndiscard;` parses as keep with a test: most likely a forgotten semicolon (Pigeonhole's wording).
      if (!c.testList && !TESTS[c.tests[0]!.name]) this.error(c.pos, `missing semicolon ';' after ${c.name} ${what}`);
      else if (what === 'command') this.error(c.pos, `the ${c.name} command accepts no sub-tests, but tests are specified`);
      else this.error(c.tests[0]!.pos, `the ${c.name} ${what} does not accept tests`);
      return null;
    }
    if (spec.tests === 'one' && (c.tests.length !== 1 || c.testList)) {
      this.error(c.pos, c.tests.length === 0 ? `the ${c.name} ${what} requires one sub-test, but none is specified` : `the ${c.name} ${what} requires one sub-test, but a list of tests is specified`);
      return null;
    }
    if (spec.tests === 'list' && !c.testList) {
      this.error(c.pos, `the ${c.name} test requires a list of sub-tests, but a single test is specified`);
      return null;
    }
    for (const t of c.tests) {
      const n = this.test(t);
      if (n) tests.push(n);
      else ok = false;
    }
    if (!ok) return null;
    const node: Node = { name: c.name, pos: c.pos, tags, args: values, tests, block: null };
    this.encoded(node);
    return checkConstants(this, node, c) ? node : null;
  }

  private coerce(a: Arg, type: ArgType): Value | null {
    if (type === 'number') return a.kind === 'number' ? { kind: 'number', value: a.value } : null;
    if (type === 'string') return a.kind === 'string' ? { kind: 'string', value: a.value } : null;
    if (a.kind === 'string') return { kind: 'list', values: [a.value] };
    if (a.kind === 'list') return { kind: 'list', values: a.values };
    return null;
  }

  /** RFC 5228 2.4.2.4 encoded-character: expanded once, at compile time. */
  private encoded(node: Node): void {
    if (!this.has('encoded-character')) return;
    const fix = (v: Value | null): void => {
      if (!v) return;
      if (v.kind === 'string') v.value = decodeEncodedCharacters(v.value);
      else if (v.kind === 'list') v.values = v.values.map(decodeEncodedCharacters);
    };
    node.args.forEach(fix);
    node.tags.forEach(fix);
  }
}

function conflictMessage(name: string, what: string, group: string, prev: string, tag: string): string {
  if (GROUP_NAMES[group]) return `encountered duplicate ${GROUP_NAMES[group]} argument (:${tag}) for the ${name} ${what}`;
  if (group === 'location') return `include: cannot use location tags ':${prev}' and ':${tag}' multiple times`;
  if (name === 'set') return `modifiers :${prev} and :${tag} specified for the set command conflict having equal precedence`;
  return `the ${name} ${what}: tagged argument ':${tag}' conflicts with ':${prev}'`;
}

function article(t: ArgType): string {
  return t === 'list' ? 'a string list' : t === 'number' ? 'a number' : 'a string';
}

function describeArg(a: Arg): string {
  return a.kind === 'list' ? 'a string list' : a.kind === 'number' ? 'a number' : a.kind === 'string' ? 'a string' : `tag ':${a.name}'`;
}
