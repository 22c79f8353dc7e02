/**
 * Mail authentication costs:
 * - SMTP MX delivery throughput with the checks (SPF for MAIL FROM and HELO, DKIM, DMARC, ARC, the
 *   Authentication-Results field) on and off, every look-up answered by a DNS server on loopback
 *   (support/dns.ts). Every message is DKIM-signed by its sender domain (RSA 2048), which publishes SPF,
 *   DMARC p=reject and the key, so each check does its full work. Runs alternate off, on, off, on ... after a
 *   warm-up run of each; medians are reported. Both MX services run in this process on their own SQLite store
 *   (fsync on), the load generator too (raw sockets, one message per transaction, pipelined).
 * - DKIM signing per message (signMessage over the bench corpus): RSA 2048, Ed25519, and both at once; and
 *   ARC sealing of a forwarded message (sealMessage: one ARC set, RSA 2048).
 *
 * Usage: node --import tsx bench/mailauth.ts [--messages N] [--senders N] [--runs N] [--sign N] [--smoke] [--json]
 * Writes bench/results/mailauth.md (or --out DIR) and prints the table. Exit status 1 when a consistency
 * check fails (a message missing, or one without dkim=pass and dmarc=pass when the checks are on).
 */
import { createPrivateKey } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir, cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createSmtpService } from '../src/delivery/index.js';
import { openServerStore } from '../src/server/store.js';
import { Authenticator } from '../src/auth/index.js';
import type { Store } from '../src/store/handle.js';
import { createResolver } from '../src/lib/dns.js';
import { createMxChecker, dkimRecordValue, generateDkimKey, sealMessage, signMessage, type SigningKey } from '../src/mailauth/index.js';
import { startTestDns, type ZoneRecord } from '../support/dns.js';
import { generateMessage } from './corpus.js';
import { alternate, deliverOver, median, parseBenchFlags, ratios, type Delivery, type Side } from './lib/onoff.js';

const HERE = dirname(fileURLToPath(import.meta.url));

interface Options {
  messages: number;
  senders: number;
  connections: number;
  runs: number;
  sign: number;
  json: boolean;
  out: string;
}

function parseArgs(argv: string[]): Options {
  return parseBenchFlags<Options>(
    argv,
    { messages: 2000, senders: 50, connections: 10, runs: 3, sign: 2000, json: false, out: join(HERE, 'results') },
    { messages: 40, senders: 4, connections: 4, runs: 1, sign: 50 },
  );
}

const USERS = 20;

/** The senders: domain, its RSA key for signing, and its records. */
function senders(n: number): { keys: SigningKey[]; zone: ZoneRecord[] } {
  const keys: SigningKey[] = [];
  const zone: ZoneRecord[] = [];
  for (let i = 0; i < n; i++) {
    const domain = `sender${i}.test`;
    const k = generateDkimKey('rsa');
    keys.push({ domain, selector: 's1', algorithm: 'rsa', key: createPrivateKey(k.privateKey) });
    zone.push([domain, 'TXT', 'v=spf1 ip4:127.0.0.0/8 -all'], [`_dmarc.${domain}`, 'TXT', 'v=DMARC1; p=reject'], [`s1._domainkey.${domain}`, 'TXT', dkimRecordValue({ algorithm: 'rsa', publicKey: k.publicKey })]);
    zone.push([`helo${i}.${domain}`, 'A', '127.0.0.1']);
  }
  return { keys, zone };
}

async function countStored(store: Store): Promise<{ total: number; passing: number }> {
  let total = 0;
  let passing = 0;
  for (let u = 0; u < USERS; u++) {
    const user = (await store.directory.getUser(`user${u}@bench.test`))!;
    const inbox = (await store.mail.getMailbox(user.id, 'INBOX'))!;
    const list = await store.mail.listMessages(inbox.id);
    total += list.length;
    for (const m of list) {
      const head = (await store.mail.readBytes(inbox.id, m.uid, { start: 0, end: 4096 })).toString('latin1');
      if (/dkim=pass/.test(head) && /dmarc=pass/.test(head)) passing++;
    }
  }
  return { total, passing };
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const { keys, zone } = senders(o.senders);
  const dns = await startTestDns({ records: zone });
  const dirs: string[] = [];
  const stores: Store[] = [];
  const lines: string[] = [];
  let failed = false;
  try {
    const services: Array<Side & { svc: { close(): Promise<void> }; store: Store }> = [];
    for (const checks of [false, true]) {
      const dir = await mkdtemp(join(tmpdir(), 'mailroom-bench-auth-'));
      dirs.push(dir);
      const store = await openServerStore({ dataDir: dir });
      stores.push(store);
      await store.directory.addDomain('bench.test');
      for (let u = 0; u < USERS; u++) await store.directory.createUser(`user${u}@bench.test`, '{PLAIN}pw');
      const resolver = createResolver({ servers: [{ host: '127.0.0.1', port: dns.port }] });
      const svc = createSmtpService({ store, auth: new Authenticator(store.directory), hostname: 'mx.bench.test', ...(checks ? { mxChecks: createMxChecker({ hostname: 'mx.bench.test', resolver }) } : {}) });
      const port = (await svc.listen({ host: '127.0.0.1', port: 0, implicitTls: false })).port;
      services.push({ on: checks, svc, port, store, times: [], cpu: [] });
    }
    // One signed message per corpus index, from sender i % senders.
    const msgs = Array.from({ length: o.messages }, (_x, i): Delivery & { helo: string } => {
      const k = keys[i % keys.length]!;
      const g = generateMessage({ seed: 7, domain: k.domain, maxSize: 256 * 1024, bigEvery: 0 }, i).raw;
      return { from: `sender@${k.domain}`, to: [`user${i % USERS}@bench.test`], helo: `helo${i % keys.length}.${k.domain}`, raw: signMessage(g, [k]) };
    });
    const sizes = msgs.map((m) => m.raw.length);
    const helo = (c: number): string => msgs[c % msgs.length]!.helo;
    await alternate(services, o.runs, () => msgs, (s, batch) => deliverOver(s.port, batch, { connections: o.connections, ehlo: true, helo }), 'mailauth bench');
    const off = services[0]!;
    const on = services[1]!;
    for (const s of services) {
      const c = await countStored(s.store);
      const expected = (o.runs + 1) * o.messages;
      if (c.total !== expected || (s.on && c.passing !== expected)) {
        failed = true;
        lines.push(`CHECK FAILED (checks ${s.on ? 'on' : 'off'}): ${c.total} stored of ${expected}, ${c.passing} with dkim=pass and dmarc=pass`);
      }
    }
    for (const s of services) await s.svc.close();
    const rate = (ms: number): number => (o.messages / ms) * 1000;
    const mOff = median(off.times);
    const mOn = median(on.times);
    const { cpuRatio } = ratios(off, on);

    // Signing cost.
    const rsa = generateDkimKey('rsa');
    const ed = generateDkimKey('ed25519');
    const rsaKey: SigningKey = { domain: 'example.org', selector: 'rsa1', algorithm: 'rsa', key: createPrivateKey(rsa.privateKey) };
    const edKey: SigningKey = { domain: 'example.org', selector: 'ed1', algorithm: 'ed25519', key: createPrivateKey(ed.privateKey) };
    const corpus = Array.from({ length: o.sign }, (_x, i) => generateMessage({ seed: 11, domain: 'example.org', maxSize: 256 * 1024, bigEvery: 0 }, i).raw);
    const signCost = (ks: SigningKey[]): number => {
      const per: number[] = [];
      for (let r = 0; r < 3; r++) {
        const t0 = performance.now();
        for (const m of corpus) signMessage(m, ks);
        per.push((performance.now() - t0) / corpus.length);
      }
      return median(per);
    };
    signCost([rsaKey, edKey]); // warm-up
    const sRsa = signCost([rsaKey]);
    const sEd = signCost([edKey]);
    const sBoth = signCost([rsaKey, edKey]);
    // ARC sealing as a forward leaves (arc-seal.ts): one ARC set, RSA 2048, over the corpus.
    const sealPer: number[] = [];
    for (let r = 0; r < 3; r++) {
      const t0 = performance.now();
      for (const m of corpus) sealMessage(m, rsaKey, 'mx.example.org;\r\n dkim=pass header.d=example.org;\r\n spf=pass smtp.mailfrom=a@example.org;\r\n arc=none;\r\n dmarc=pass', 'none');
      sealPer.push((performance.now() - t0) / corpus.length);
    }
    const sArc = median(sealPer);

    const when = new Date().toISOString().replace('T', ' ').slice(0, 16);
    const result = {
      date: when,
      cpus: cpus().length,
      loadavg: loadavg()[0],
      messages: o.messages,
      connections: o.connections,
      senders: o.senders,
      medianSize: median(sizes),
      mx: { offMs: mOff, onMs: mOn, offPerSec: rate(mOff), onPerSec: rate(mOn), ratio: mOff / mOn, cpuRatio, offRuns: off.times, onRuns: on.times, offCpu: off.cpu, onCpu: on.cpu },
      signMsPerMessage: { rsa: sRsa, ed25519: sEd, both: sBoth, arcSeal: sArc },
      failed,
    };
    if (o.json) {
      process.stdout.write(JSON.stringify(result, null, 2) + '\n');
    } else {
      const f = (n: number): string => n.toFixed(n < 1 ? 3 : 0);
      lines.unshift(
        `# Mail authentication bench, ${when} UTC (${cpus().length} CPUs, load ${loadavg()[0]!.toFixed(1)})`,
        '',
        `SMTP MX, ${o.messages} messages (median ${median(sizes)} octets, DKIM-signed by ${o.senders} sender domains), ${o.connections} connections; medians of ${o.runs} runs after a warm-up run each:`,
        '',
        '| checks | time | messages/s |',
        '|---|---:|---:|',
        `| off | ${f(mOff)} ms | ${f(rate(mOff))} |`,
        `| on (SPF x2, DKIM, DMARC, ARC, DNS on loopback) | ${f(mOn)} ms | ${f(rate(mOn))} |`,
        '',
        `Throughput with checks on / off: **${(mOff / mOn).toFixed(2)}x**, CPU per message off / on ${cpuRatio.toFixed(2)}x (runs off: ${off.times.map((t) => t.toFixed(0)).join(', ')} ms; on: ${on.times.map((t) => t.toFixed(0)).join(', ')} ms)`,
        '',
        `DKIM signing, relaxed/relaxed, ${o.sign} corpus messages, median of 3 passes:`,
        '',
        '| keys | per message |',
        '|---|---:|',
        `| RSA 2048 | ${sRsa.toFixed(3)} ms |`,
        `| Ed25519 | ${sEd.toFixed(3)} ms |`,
        `| both (dual signing) | ${sBoth.toFixed(3)} ms |`,
        `| ARC set (AAR, AMS, ARC-Seal; RSA 2048) | ${sArc.toFixed(3)} ms |`,
        '',
      );
      const text = lines.join('\n') + '\n';
      process.stdout.write(text);
      mkdirSync(o.out, { recursive: true });
      writeFileSync(join(o.out, 'mailauth.md'), text);
    }
  } finally {
    for (const s of stores) await s.close();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
    await dns.stop();
  }
  if (failed) process.exitCode = 1;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((e: unknown) => {
    process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
    process.exitCode = 1;
  });
}
