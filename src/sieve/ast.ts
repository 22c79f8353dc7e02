/** The syntax tree produced by the parser (RFC 5228 section 8.2), before validation. */
import type { SievePosition } from './types.js';

export type Arg =
  | { kind: 'tag'; name: string; pos: SievePosition }
  | { kind: 'number'; value: number; pos: SievePosition }
  | { kind: 'string'; value: string; pos: SievePosition }
  | { kind: 'list'; values: string[]; pos: SievePosition };

export interface TestNode {
  name: string;
  pos: SievePosition;
  args: Arg[];
  tests: TestNode[];
  /** True when the tests were written as a parenthesised test-list. */
  testList: boolean;
}

export interface CommandNode {
  name: string;
  pos: SievePosition;
  args: Arg[];
  tests: TestNode[];
  testList: boolean;
  block: CommandNode[] | null;
}
