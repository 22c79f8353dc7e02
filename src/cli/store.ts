/** `mailroom migrate`: opens the store, which applies pending schema migrations, and reports the result. */
import type { Command } from 'commander';
import { withStore, type StoreFlags } from './common.js';

export function registerStoreCommands(program: Command): void {
  program
    .command('migrate')
    .description('apply pending store schema migrations (also done automatically at serve)')
    .action(async (_o: unknown, cmd: Command) => {
      const flags = cmd.optsWithGlobals<StoreFlags>();
      await withStore(flags, async () => undefined);
      process.stdout.write('store is up to date\n');
    });
}
