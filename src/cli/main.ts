/** The `mailroom` command. */
import { Command, CommanderError } from 'commander';
import { PRIVATE_UMASK } from '../lib/private-files.js';
import { PRIMARY_YOUNG_GENERATION_CAP, tuneHeap } from '../server/heap.js';

/** The global options that take a value (they may come before the command's name). */
const GLOBAL_VALUE_OPTIONS = new Set(['--data', '--store']);

/** The command named on the command line: its first word that is neither an option nor an option's value. */
export function commandName(argv: readonly string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') return argv[i + 1];
    if (GLOBAL_VALUE_OPTIONS.has(a)) i++;
    else if (!a.startsWith('-')) return a;
  }
  return undefined;
}

/**
 * Builds the command tree. The commands' modules are imported here, not at the top of this file, so that
 * main() can size the heap for `serve` before they load (server/heap.ts). The client commands (which load
 * the IMAP client library and the mail sender) are imported only when `client` is on the command line, and
 * `serve` registers only itself: the other commands' modules (the store, Sieve, the spam filter, mbox
 * import ...) would stay in the memory of every server process, the primary of `serve --workers N` too.
 */
export async function buildProgram(argv: string[] = []): Promise<Command> {
  const program = new Command('mailroom')
    .description('mailroom: IMAP and POP3 mail server with delivery and submission, and a POP3/IMAP client')
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    .option('--data <dir>', 'data directory (default: $MAILROOM_DATA or ./data)')
    .option('--store <url>', 'store URL, e.g. postgres://user@host/db (default: $MAILROOM_STORE, else SQLite in the data directory)');
  const command = commandName(argv);
  if (command === 'serve') {
    const { registerServeCommand } = await import('./serve.js');
    registerServeCommand(program);
    return program;
  }
  const [{ registerServeCommand }, { registerUserCommands }, { registerDomainCommands }, { registerStoreCommands }, { registerTokenCommands }, { registerShareCommands }, { registerSieveCommands }, { registerSpamCommands }, { openStoreFromFlags }] =
    await Promise.all([import('./serve.js'), import('./user.js'), import('./domain.js'), import('./store.js'), import('./token.js'), import('./share.js'), import('./sieve.js'), import('./spam.js'), import('./common.js')]);
  registerServeCommand(program);
  registerUserCommands(program);
  registerDomainCommands(program, () => openStoreFromFlags(program.opts<{ data?: string; store?: string }>()));
  registerStoreCommands(program);
  registerTokenCommands(program);
  registerShareCommands(program);
  registerSieveCommands(program);
  registerSpamCommands(program);
  if (argv.includes('client')) {
    const { registerClientCommands } = await import('./client.js');
    registerClientCommands(program);
  } else {
    program
      .command('client')
      .description('POP3/IMAP client: download or synchronise mail into a local profile (mailroom client --help)')
      .allowUnknownOption()
      .allowExcessArguments();
  }
  return program;
}

export async function main(argv: string[]): Promise<number> {
  // Before anything is created: data directories, databases, profiles and keys are private to the user.
  process.umask(PRIVATE_UMASK);
  // Before the modules of the commands load: their start-up allocations would already grow the young generation.
  // The primary's small one until runServe knows whether this process serves connections (it raises it then).
  if (commandName(argv) === 'serve') tuneHeap(process.execArgv, process.env['NODE_OPTIONS'] ?? '', PRIMARY_YOUNG_GENERATION_CAP);
  const program = await buildProgram(argv);
  program.exitOverride();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      // commander already printed its message (or help/version, which exit 0)
      return e.exitCode;
    }
    const { describeError } = await import('./common.js');
    process.stderr.write(`mailroom: ${describeError(e)}\n`);
    return typeof (e as { exitCode?: unknown }).exitCode === 'number' ? ((e as { exitCode: number }).exitCode || 1) : 1;
  }
}

const invoked = process.argv[1] ?? '';
if (invoked.endsWith('/cli/main.js') || invoked.endsWith('/cli/main.ts') || invoked.endsWith('/bin/mailroom')) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(`mailroom: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
