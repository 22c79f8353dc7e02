/**
 * Worker-thread side of the prepare pool (prepare-pool.ts): prepares appended messages for the store off
 * the main thread. One request per message, answered in order.
 */
import { parentPort } from 'node:worker_threads';
import { prepareStoredForm } from './message-prep.js';
import { isStoreError } from './types.js';

parentPort?.on('message', (msg: { id: number; raw: Uint8Array }) => {
  const raw = Buffer.from(msg.raw.buffer, msg.raw.byteOffset, msg.raw.byteLength);
  try {
    const form = prepareStoredForm(raw);
    const changed = form.data !== raw;
    parentPort!.postMessage({ id: msg.id, form: { ...form, data: changed ? form.data : null } });
  } catch (e) {
    const code = isStoreError(e) ? e.code : null;
    parentPort!.postMessage({ id: msg.id, error: { code, message: e instanceof Error ? e.message : String(e) } });
  }
});
