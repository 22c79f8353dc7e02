/**
 * deploy/: the systemd unit passes `systemd-analyze verify` (when systemd-analyze is installed), and the
 * example config for the standard ports loads with serve's own config parser and uses only serve's keys.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { buildServeConfig, registerServeCommand } from '../src/cli/serve.js';
import { ROOT } from './helpers/cli.js';

const DEPLOY = join(ROOT, 'deploy');

function systemdAnalyze(): string | null {
  const r = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' });
  return r.status === 0 ? null : 'systemd-analyze is not installed (Debian package systemd)';
}

test('deploy/mailroom.service passes systemd-analyze verify', { skip: systemdAnalyze() ?? false }, () => {
  const unit = readFileSync(join(DEPLOY, 'mailroom.service'), 'utf8');
  for (const line of ['User=mailroom', 'StateDirectory=mailroom', 'ProtectSystem=strict', 'ProtectHome=yes', 'PrivateTmp=yes', 'NoNewPrivileges=yes',
    'CapabilityBoundingSet=CAP_NET_BIND_SERVICE', 'AmbientCapabilities=CAP_NET_BIND_SERVICE', 'ExecReload=/bin/kill -HUP $MAINPID', 'UMask=0077']) {
    assert.ok(unit.split('\n').includes(line), `unit has ${line}`);
  }
  // verify checks that ExecStart's program exists: point the install path at this checkout.
  const dir = mkdtempSync(join(tmpdir(), 'mailroom-unit-'));
  try {
    const file = join(dir, 'mailroom.service');
    writeFileSync(file, unit.replaceAll('/opt/mailroom', ROOT));
    const r = spawnSync('systemd-analyze', ['verify', '--man=no', file], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr + r.stdout);
    assert.equal(r.stderr.trim(), '', 'no warnings');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('deploy/mailroom.json loads with the serve config parser: standard ports, TLS files, LMTP on loopback', () => {
  const file = JSON.parse(readFileSync(join(DEPLOY, 'mailroom.json'), 'utf8')) as Record<string, unknown>;
  const program = new Command();
  registerServeCommand(program);
  const serve = program.commands.find((c) => c.name() === 'serve')!;
  const known = new Set(serve.options.map((o) => o.long!.replace(/^--/, '')));
  for (const k of Object.keys(file)) assert.ok(known.has(k), `config key ${k} is a serve option`);
  const cfg = buildServeConfig({}, file);
  assert.deepEqual(cfg.ports, { imap: 143, imaps: 993, pop3: 110, pop3s: 995, lmtp: 24, smtp: 25, submission: 587, submissions: 465, managesieve: 4190, http: 80, https: 443 });
  assert.equal(cfg.host, '0.0.0.0');
  assert.equal(cfg.lmtpHost, '127.0.0.1');
  assert.equal(cfg.tlsCert, '/etc/mailroom/tls/fullchain.pem');
  assert.equal(cfg.tlsKey, '/etc/mailroom/tls/privkey.pem');
  assert.equal(cfg.logFormat, 'json');
  assert.equal(cfg.limits.maxConnectionsPerIp, 50);
  assert.equal(cfg.limits.imapIdleTimeoutMs, 30 * 60 * 1000);
});

test('deploy/Containerfile runs as a non-root user with the data on a volume', () => {
  const c = readFileSync(join(DEPLOY, 'Containerfile'), 'utf8');
  assert.match(c, /^FROM node:20-slim\s*$/m);
  assert.match(c, /^USER mailroom$/m);
  assert.match(c, /^VOLUME \["\/var\/lib\/mailroom"\]$/m);
  assert.doesNotMatch(c, /^USER root$/m);
});
