/**
 * Command-line options of the benchmark programs (bench/run.ts, bench/multinode.ts): node:util parseArgs in
 * strict mode plus --help, and one reader for the integer options. Throws parseArgs' ERR_PARSE_ARGS_* errors
 * for unknown or malformed options and "--name expects an integer >= min, got v" for a bad integer; on
 * --help it prints the usage text on stdout and exits 0.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';

type Options = NonNullable<ParseArgsConfig['options']>;
type Values<O extends Options> = ReturnType<typeof parseArgs<{ args: string[]; options: O; strict: true }>>['values'];

export interface BenchArgs<O extends Options> {
  values: Values<O>;
  /** The integer value of --name, undefined when absent; throws unless it is digits only and >= min. */
  int(name: keyof O & string, min: number): number | undefined;
}

export function parseBenchArgs<O extends Options>(argv: string[], options: O, usage: () => string): BenchArgs<O> {
  const { values } = parseArgs({ args: argv, options: { ...options, help: { type: 'boolean', default: false } }, strict: true });
  const raw: Record<string, unknown> = values;
  if (raw['help'] === true) {
    process.stdout.write(usage());
    process.exit(0);
  }
  return {
    values: values as Values<O>,
    int(name, min) {
      const v = raw[name];
      if (v === undefined) return undefined;
      if (typeof v !== 'string' || !/^\d+$/.test(v) || Number(v) < min) throw new Error(`--${name} expects an integer >= ${min}, got ${String(v)}`);
      return Number(v);
    },
  };
}
