import { test } from 'node:test';
import assert from 'node:assert/strict';
import { capabilityList, plaintextAllowed } from './capabilities.js';
import type { ServiceContext } from './session.js';

function svc(tls: boolean, allowPlain = false): ServiceContext {
  return {
    secureContext: tls ? ({} as ServiceContext['secureContext']) : null,
    limits: { appendLimit: 1000, maxLineLength: 100, idleTimeoutMs: 1, loginTimeoutMs: 1, maxConnectionsPerIp: 1, maxConnectionsPerUser: 1, allowPlaintextAuthOffLoopback: allowPlain },
  } as ServiceContext;
}

test('LOGINDISABLED off loopback without TLS; AUTH= and STARTTLS otherwise', () => {
  const remote = capabilityList(svc(true), { authenticated: false, secure: false, loopback: false, compressed: false });
  assert.ok(remote.includes('LOGINDISABLED') && remote.includes('STARTTLS'));
  assert.ok(!remote.some((c) => c.startsWith('AUTH=')));
  const tlsd = capabilityList(svc(true), { authenticated: false, secure: true, loopback: false, compressed: false });
  assert.ok(tlsd.includes('AUTH=PLAIN') && !tlsd.includes('STARTTLS') && !tlsd.includes('LOGINDISABLED'));
  const local = capabilityList(svc(false), { authenticated: false, secure: false, loopback: true, compressed: false });
  assert.ok(local.includes('AUTH=LOGIN') && !local.includes('STARTTLS'));
  assert.equal(plaintextAllowed(svc(false, true), { secure: false, loopback: false }), true);
  assert.equal(plaintextAllowed(svc(false), { secure: false, loopback: false }), false);
});

test('after login: no AUTH=/STARTTLS; COMPRESS only until active; both revisions always', () => {
  const caps = capabilityList(svc(true), { authenticated: true, secure: false, loopback: true, compressed: true });
  assert.deepEqual(caps.slice(0, 2), ['IMAP4rev1', 'IMAP4rev2']);
  assert.ok(!caps.some((c) => c.startsWith('AUTH=') || c === 'STARTTLS' || c === 'COMPRESS=DEFLATE'));
  assert.ok(caps.includes('APPENDLIMIT=1000'));
});
