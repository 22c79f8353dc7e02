/**
 * Entry point of the mailroom server child process used by the benchmark: exactly `mailroom <args>`
 * (the benchmark passes `serve ...`), bundled by bench/lib/mailroom-server.ts or run through tsx.
 */
import { main } from '../../src/cli/main.js';

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`mailroom: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 1;
  },
);
