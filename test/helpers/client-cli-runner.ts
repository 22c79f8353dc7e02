/**
 * Runs many `mailroom client ...` invocations in one process (tests start one process instead of one per
 * command). Usage: node --import tsx client-cli-runner.ts '<json [{args, env?}]>'; prints a JSON array of
 * { code, stdout, stderr } on stdout. Each step gets a fresh commander program with the client commands.
 */
import { Command, CommanderError } from 'commander';
import { registerClientCommands } from '../../src/cli/client.js';

interface Step {
  args: string[];
  env?: Record<string, string>;
}

const steps = JSON.parse(process.argv[2] ?? '[]') as Step[];
const realOut = process.stdout.write.bind(process.stdout);
const realErr = process.stderr.write.bind(process.stderr);
const results: Array<{ code: number; stdout: string; stderr: string }> = [];
for (const s of steps) {
  let out = '';
  let err = '';
  const capture =
    (sink: (t: string) => void) =>
    (chunk: string | Uint8Array): boolean => {
      sink(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
      return true;
    };
  process.stdout.write = capture((t) => (out += t)) as typeof process.stdout.write;
  process.stderr.write = capture((t) => (err += t)) as typeof process.stderr.write;
  const saved = { ...process.env };
  Object.assign(process.env, s.env ?? {});
  let code = 0;
  try {
    const program = new Command('mailroom').exitOverride().configureOutput({ writeOut: (t) => (out += t), writeErr: (t) => (err += t) });
    registerClientCommands(program);
    process.exitCode = 0;
    await program.parseAsync(s.args, { from: 'user' });
    code = typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof CommanderError) code = e.exitCode;
    else {
      err += `mailroom: ${e instanceof Error ? e.message : String(e)}\n`;
      code = 1;
    }
  } finally {
    process.exitCode = 0;
    process.env = saved;
    process.stdout.write = realOut;
    process.stderr.write = realErr;
  }
  results.push({ code, stdout: out, stderr: err });
}
realOut(JSON.stringify(results));
