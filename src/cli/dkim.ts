/**
 * `mailroom domain dkim DOMAIN [--selector S] [--algorithm rsa|ed25519] [--rotate] [--remove S] [--json]`
 * creates the domain's DKIM key when it has none of the algorithm (RSA 2048 by default; `--rotate` adds a
 * new selector while the old keys keep signing until removed) and prints the record of every key:
 * `S._domainkey.DOMAIN. IN TXT "v=DKIM1; k=rsa; p=..."`, or with --json one object per key
 * `{"selector", "name", "value"}`. `mailroom domain dns DOMAIN [--hostname NAME] [--json]` prints every record
 * the domain needs (MX, SPF, DKIM, DMARC). Private keys are never printed.
 */
import { hostname as osHostname } from 'node:os';
import type { Command } from 'commander';
import type { Store } from '../store/handle.js';
import { isStoreError } from '../store/types.js';
import type { DkimAlgorithm } from '../store/dkim.js';
// From keys.ts and records.ts, not mailauth/index.ts: `serve` imports this file, and the index brings the MX checks.
import { dkimRecordName, dkimRecordValue, ensureDomainKey } from '../mailauth/keys.js';
import { domainDnsRecords, formatZoneLine } from '../mailauth/records.js';
import { CliError } from './common.js';

function out(line: string): void {
  process.stdout.write(line + '\n');
}

async function localDomain(store: Store, name: string): Promise<string> {
  const d = name.trim().toLowerCase().replace(/\.$/, '');
  if (!(await store.directory.hasDomain(d))) throw new CliError(`${d} is not a local domain (add it with: mailroom domain add ${d})`);
  return d;
}

export function registerDkimCommands(domain: Command, withStore: <T>(fn: (store: Store) => Promise<T>) => Promise<T>): void {
  domain
    .command('dkim <domain>')
    .description('create the DKIM key of DOMAIN when missing and print the DNS records of its keys')
    .option('--selector <s>', 'selector of the key to create (default: algorithm and date, e.g. rsa20261207)')
    .option('--algorithm <alg>', 'rsa (2048 bits, default) or ed25519')
    .option('--rotate', 'add a new key even when one exists; the old one signs until removed')
    .option('--remove <selector>', 'remove the key with this selector (unpublish its record afterwards)')
    .option('--json', 'one JSON object per key: selector, name, value')
    .action(async (name: string, o: { selector?: string; algorithm?: string; rotate?: boolean; remove?: string; json?: boolean }) => {
      const algorithm = (o.algorithm ?? 'rsa').toLowerCase();
      if (algorithm !== 'rsa' && algorithm !== 'ed25519') throw new CliError(`invalid --algorithm: ${o.algorithm} (expected rsa or ed25519)`);
      const keys = await withStore(async (store) => {
        const d = await localDomain(store, name);
        if (o.remove !== undefined) {
          try {
            await store.dkim.remove(d, o.remove);
          } catch (e) {
            if (isStoreError(e, 'NOT_FOUND')) throw new CliError(`no DKIM key ${o.remove} for ${d}`);
            throw e;
          }
          process.stderr.write(`removed DKIM key ${o.remove.toLowerCase()} of ${d}\n`);
          return store.dkim.list(d);
        }
        try {
          const r = await ensureDomainKey(store.dkim, d, {
            algorithm: algorithm as DkimAlgorithm,
            ...(o.selector !== undefined ? { selector: o.selector } : {}),
            ...(o.rotate ? { rotate: true } : {}),
          });
          if (r.created) process.stderr.write(`created ${r.created.algorithm} DKIM key ${r.created.selector} for ${d}\n`);
          return r.keys;
        } catch (e) {
          if (isStoreError(e)) throw e;
          throw new CliError((e as Error).message);
        }
      });
      if (o.json) {
        out(JSON.stringify(keys.map((k) => ({ selector: k.selector, name: dkimRecordName(k), value: dkimRecordValue(k) }))));
        return;
      }
      for (const k of keys) out(formatZoneLine({ name: dkimRecordName(k), type: 'TXT', value: dkimRecordValue(k) }));
    });

  domain
    .command('dns <domain>')
    .description('print the DNS records DOMAIN needs: MX, SPF, DKIM (one per key) and DMARC')
    .option('--hostname <name>', 'the mail server\'s host name, as given to serve --hostname (default: this machine\'s name)')
    .option('--json', 'a JSON array of {kind, name, type, value}')
    .action(async (name: string, o: { hostname?: string; json?: boolean }) => {
      const records = await withStore(async (store) => domainDnsRecords(store, await localDomain(store, name), o.hostname ?? osHostname()));
      if (o.json) {
        out(JSON.stringify(records));
        return;
      }
      for (const r of records) out(formatZoneLine(r));
      if (!records.some((r) => r.kind === 'DKIM')) process.stderr.write(`no DKIM key yet: create one with mailroom domain dkim ${name}\n`);
    });
}
