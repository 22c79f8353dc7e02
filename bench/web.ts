/**
 * Webmail speed: `npm run bench -- web [--messages N] [--runs N] [--json]` (or `node --import tsx bench/web.ts`).
 *
 * One SQLite store (fsync off: the population is not what is measured) with an INBOX of `messages` (default
 * 100,000) messages, the HTTP listener with the JMAP and web plugins on loopback, and Debian's Chromium
 * (playwright-core). Measured `runs` times after one warm-up, each in a fresh browser context (no cookies,
 * no cache): from the click on "Sign in" to the first message row painted (the row is in the DOM and one
 * animation frame has passed). Goal: under 500 ms on this machine. Medians and worst reported.
 */
import { parseArgs } from 'node:util';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { openStore } from '../src/store/index.js';
import { Authenticator, hashPassword } from '../src/auth/index.js';
import { createHttpService } from '../src/http/server.js';
import { jmapPlugin } from '../src/jmap/index.js';
import { webPlugin } from '../src/web/index.js';
import { silentLogger } from '../src/lib/logger.js';
import { message } from './jmap.js';

export async function webBench(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { messages: { type: 'string', default: '100000' }, runs: { type: 'string', default: '5' }, json: { type: 'boolean', default: false }, trace: { type: 'boolean', default: false } } });
  const total = Number(values.messages);
  const runs = Number(values.runs);
  const log = (s: string): void => void process.stderr.write(s + '\n');
  const dir = await mkdtemp(join(tmpdir(), 'mailroom-web-bench-'));
  const store = await openStore({ dataDir: dir, fsync: false });
  await store.directory.addDomain('bench.test');
  const user = await store.directory.createUser('user@bench.test', await hashPassword('bench-password'));
  const inbox = (await store.mail.getMailbox(user.id, 'INBOX'))!;
  const t0 = performance.now();
  for (let i = 0; i < total; i += 500) {
    const batch: Array<Promise<unknown>> = [];
    for (let j = i; j < Math.min(total, i + 500); j++) batch.push(store.mail.append(inbox.id, message(j), { internalDate: new Date(Date.UTC(2020, 0, 1) + j * 60_000) }));
    await Promise.all(batch);
    if (i % 20_000 === 0) log(`populated ${i}/${total}`);
  }
  log(`populated ${total} messages in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const svc = createHttpService({
    ctx: { store, auth: new Authenticator(store.directory), logger: silentLogger, hostname: 'bench.test', dataDir: dir, queue: null, listeners: () => [], corsOrigins: [] },
    plugins: [jmapPlugin, webPlugin],
  });
  const addr = await svc.listen({ host: '127.0.0.1', port: 0, implicitTls: false });
  const url = `http://127.0.0.1:${addr.port}/`;
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const times: number[] = [];
  try {
    for (let r = 0; r <= runs; r++) {
      const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
      const page = await context.newPage();
      await page.goto(url);
      await page.getByLabel('Email address').fill('user@bench.test');
      await page.getByLabel('Password').fill('bench-password');
      const start = performance.now();
      // --trace: when each request started and ended, relative to the click (where the time goes).
      const trace: string[] = [];
      if (values.trace) {
        page.on('requestfinished', (req) => {
          const body = req.postData() ?? '';
          const what = body.includes('methodCalls') ? [...body.matchAll(/\["([A-Za-z]+\/[a-z]+)"/g)].map((m) => m[1]).join('+') : '';
          trace.push(`${req.method()} ${new URL(req.url()).pathname} ${what} start ${(req.timing().startTime - performance.timeOrigin - start).toFixed(0)} ms, took ${req.timing().responseEnd.toFixed(0)} ms`);
        });
      }
      if (values.trace) {
        // In-page clock: the click event, and the first row in the DOM (a MutationObserver).
        await page.evaluate(() => {
          const w = globalThis as unknown as { __t: Record<string, number>; document: any; MutationObserver: any };
          w.__t = {};
          w.document.addEventListener('click', () => (w.__t.click ??= performance.now()), true);
          new w.MutationObserver(() => {
            if (!w.__t.row && w.document.querySelector('[role=option]')) w.__t.row = performance.now();
          }).observe(w.document.body, { childList: true, subtree: true });
        });
      }
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('listbox', { name: 'Messages' }).getByRole('option').first().waitFor();
      await page.evaluate(() => new Promise<void>((res) => (globalThis as unknown as { requestAnimationFrame: (f: () => void) => void }).requestAnimationFrame(() => res())));
      const ms = performance.now() - start;
      if (values.trace) {
        const inPage = await page.evaluate(() => {
          const t = (globalThis as unknown as { __t: Record<string, number> }).__t;
          const res = performance.getEntriesByType('resource').filter((e) => e.startTime >= (t.click ?? 0)) as unknown as Array<{ name: string; startTime: number; responseEnd: number }>;
          return { click: t.click, row: t.row, requests: res.map((e) => `${new URL(e.name).pathname} ${e.startTime.toFixed(0)}-${e.responseEnd.toFixed(0)}`) };
        });
        const base = inPage.click ?? 0;
        trace.push(`in page (ms after the click event): first row in the DOM ${((inPage.row ?? 0) - base).toFixed(0)}; ${inPage.requests.map((r) => r.replace(/(\d+)-(\d+)$/, (_m, a: string, b: string) => `${(Number(a) - base).toFixed(0)}-${(Number(b) - base).toFixed(0)}`)).join(', ')}`);
      }
      if (r > 0) times.push(ms);
      log(`${r === 0 ? 'warm-up' : `run ${r}`}: ${ms.toFixed(0)} ms`);
      for (const line of trace) log(`  ${line}`);
      await context.close();
    }
  } finally {
    await browser.close();
    await svc.close();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
  const sorted = [...times].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)]!;
  const worst = sorted[sorted.length - 1]!;
  const result = { messages: total, runs, medianMs: Math.round(median), worstMs: Math.round(worst), goalMs: 500 };
  if (values.json) process.stdout.write(JSON.stringify(result) + '\n');
  else process.stdout.write(`sign-in to first painted message list, INBOX of ${total}: median ${result.medianMs} ms, worst ${result.worstMs} ms (goal < 500 ms)\n`);
}

if (import.meta.url === `file://${process.argv[1]}`) await webBench(process.argv.slice(2));
