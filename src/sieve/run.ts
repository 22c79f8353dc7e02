/**
 * runSieve: executes a compiled script (control commands, include/return/global per RFC 6609, stop) and
 * turns the result into actions. Never throws: a runtime error, a limit hit or an exception from the
 * environment yields `errors` and a single keep, so the message is never lost (RFC 5228 2.10.6).
 */
import { execAction } from './actions.js';
import { isProgram, type Program } from './compile.js';
import { Frame, ReturnSignal, RunState, StopSignal } from './context.js';
import { SIEVE_LIMITS } from './extensions.js';
import { flagList } from './flags.js';
import { SieveRuntimeError } from './result.js';
import { evalTest } from './tests.js';
import type { CompiledScript, SieveEnv, SieveLimits, SieveResult } from './types.js';
import type { Node } from './validate.js';

export async function runSieve(script: CompiledScript, env: SieveEnv): Promise<SieveResult> {
  const limits: SieveLimits = { ...SIEVE_LIMITS, ...env.limits };
  let run: RunState | null = null;
  try {
    if (!isProgram(script)) throw new SieveRuntimeError('not a compiled script');
    run = new RunState(env, limits);
    try {
      await execScript(run, script);
    } catch (e) {
      if (!(e instanceof StopSignal)) throw e;
    }
    const actions = run.result.actions();
    const implicitKeep = run.result.implicitKeep;
    if (implicitKeep) {
      // RFC 5232 section 3: the implicit keep uses the internal flags variable.
      const flags = script.required.has('imap4flags') ? flagList([run.flags]) : [];
      if (!actions.some((a) => a.type === 'keep')) actions.push({ type: 'keep', flags });
    }
    return { actions, message: run.msg.bytes(), errors: [], implicitKeep };
  } catch (e) {
    const message = e instanceof SieveRuntimeError ? e.message : `internal error: ${(e as Error)?.message ?? String(e)}`;
    return { actions: [{ type: 'keep', flags: [] }], message: env.message, errors: [message], implicitKeep: true };
  }
}

async function execScript(run: RunState, program: Program): Promise<void> {
  const frame = new Frame(program, run);
  try {
    await execBlock(frame, run, program.nodes);
  } catch (e) {
    if (!(e instanceof ReturnSignal)) throw e;
  }
}

async function execBlock(frame: Frame, run: RunState, nodes: Node[]): Promise<void> {
  // Whether the current if/elsif/else chain already ran a branch.
  let chainDone = true;
  for (const n of nodes) {
    run.step();
    switch (n.name) {
      case 'if':
        chainDone = await evalTest(frame, run, n.tests[0]!);
        if (chainDone) await execBlock(frame, run, n.block ?? []);
        break;
      case 'elsif':
        if (!chainDone) {
          chainDone = await evalTest(frame, run, n.tests[0]!);
          if (chainDone) await execBlock(frame, run, n.block ?? []);
        }
        break;
      case 'else':
        if (!chainDone) await execBlock(frame, run, n.block ?? []);
        chainDone = true;
        break;
      case 'stop':
        throw new StopSignal();
      case 'return':
        throw new ReturnSignal();
      case 'global':
        for (const v of frame.list(n.args[0])) frame.globalNames.add(v.toLowerCase());
        break;
      case 'include':
        await include(frame, run, n);
        break;
      default:
        execAction(frame, run, n);
    }
  }
}

async function include(frame: Frame, run: RunState, n: Node): Promise<void> {
  const name = frame.str(n.args[0]);
  const scope = n.tags.has('global') ? 'global' : 'personal';
  const key = `${scope}:${name}`;
  if (n.tags.has('once') && run.includedOnce.has(key)) return;
  if (run.includeStack.includes(key)) throw new SieveRuntimeError(`include: circular include of ${scope} script '${name}'`);
  if (run.includeStack.length >= run.limits.maxIncludeDepth) {
    throw new SieveRuntimeError(`include: the nesting depth of included scripts exceeds the limit (${run.limits.maxIncludeDepth})`);
  }
  let loaded = run.loadedIncludes.get(key);
  if (loaded === undefined) {
    if (run.loadedIncludes.size >= run.limits.maxIncludes) throw new SieveRuntimeError(`include: more than ${run.limits.maxIncludes} different scripts included`);
    loaded = run.env.include ? await run.env.include(name, scope) : null;
    run.loadedIncludes.set(key, loaded);
  }
  if (!loaded) {
    if (n.tags.has('optional')) return;
    throw new SieveRuntimeError(`include: ${scope} script '${name}' not found`);
  }
  if (!isProgram(loaded)) throw new SieveRuntimeError(`include: ${scope} script '${name}' is not a compiled script`);
  run.includedOnce.add(key);
  run.includeStack.push(key);
  try {
    await execScript(run, loaded);
  } finally {
    run.includeStack.pop();
  }
}
