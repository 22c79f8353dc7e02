/**
 * A DNS server on 127.0.0.1 for tests and benchmarks (support/dns-server.py, Debian's python3-dnslib):
 * answers from a zone the caller gives and may replace at any time; every query it receives is recorded.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { terminate } from './process.js';

export type ZoneRecord = [name: string, type: string, value: string | string[] | [number, string], ttl?: number];

export interface Zone {
  records: ZoneRecord[];
  /** Names answered SERVFAIL. */
  servfail?: string[];
  /** Names never answered. */
  drop?: string[];
  /** Negative-answer TTL (SOA minimum). */
  soaTtl?: number;
}

export interface TestDns {
  port: number;
  /** "127.0.0.1:PORT", as `serve --dns-server` takes it. */
  server: string;
  /** Replaces the zone; resolves once the server uses the new one. */
  setZone(zone: Zone): Promise<void>;
  /** Queries received so far, as "name TYPE". */
  readonly queries: readonly string[];
  stop(): Promise<void>;
}

const SCRIPT = fileURLToPath(new URL('./dns-server.py', import.meta.url));

export async function startTestDns(zone: Zone): Promise<TestDns> {
  const child = spawn('/usr/bin/python3', [SCRIPT], { stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const queries: string[] = [];
  const acks: Array<() => void> = [];
  let onPort: ((port: number) => void) | null = null;
  const portP = new Promise<number>((resolve, reject) => {
    onPort = resolve;
    child.once('exit', (code) => reject(new Error(`DNS test server exited (${String(code)})`)));
    child.once('error', reject);
  });
  createInterface({ input: child.stdout! }).on('line', (line) => {
    if (line.startsWith('Q ')) queries.push(line.slice(2));
    else if (line === 'ok') acks.shift()?.();
    else if (line.startsWith('port ')) onPort?.(Number(line.slice(5)));
  });
  const setZone = (z: Zone): Promise<void> =>
    new Promise((resolve) => {
      acks.push(resolve);
      child.stdin!.write(JSON.stringify({ records: z.records, servfail: z.servfail ?? [], drop: z.drop ?? [], soa_ttl: z.soaTtl ?? 60 }) + '\n');
    });
  const port = await portP;
  await setZone(zone);
  return {
    port,
    server: `127.0.0.1:${port}`,
    setZone,
    queries,
    async stop() {
      child.stdin!.end();
      await terminate(child, exited, 2000);
    },
  };
}
