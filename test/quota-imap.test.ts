/**
 * Quotas through real IMAP clients. Python's imaplib runs the flow Thunderbird follows: SELECT INBOX then
 * GETQUOTAROOT INBOX, an APPEND (a Sent or Drafts copy) over quota answered NO [OVERQUOTA], EXPUNGE of
 * \Deleted mail bringing the usage down, then the APPEND succeeding. imapflow's getQuota() reads the same
 * numbers (it converts STORAGE from 1024-octet units back to octets).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ImapFlow } from 'imapflow';
import { message, startImap, USER, PASSWORD, type ImapFixture } from './imap-helpers.js';
import { runPython } from './delivery/helpers.js';

const FLOW = `
import imaplib, json, sys
a = json.loads(sys.argv[1])
M = imaplib.IMAP4('127.0.0.1', a['port'])
out = {'caps': sorted(M.capabilities)}
M.login(a['user'], a['pw'])
typ, data = M.select('INBOX')
out['exists'] = int(data[0])
typ, data = M.getquotaroot('INBOX')
out['root1'] = [typ, [d.decode() for d in data[0]], [d.decode() for d in data[1]]]
msg = a['msg'].encode()
try:
    typ, data = M.append('Sent', '(\\\\Seen)', None, msg)
    out['append1'] = [typ, data[0].decode()]
except M.error as e:
    out['append1'] = ['NO', str(e)]
M.store('1:2', '+FLAGS', '\\\\Deleted')
typ, data = M.expunge()
out['expunged'] = [d.decode() for d in data]
typ, data = M.getquotaroot('INBOX')
out['root2'] = [typ, [d.decode() for d in data[0]], [d.decode() for d in data[1]]]
typ, data = M.append('Sent', '(\\\\Seen)', None, msg)
out['append2'] = [typ, data[0].decode()]
typ, data = M.getquota('""')
out['quota'] = [typ, [d.decode() for d in data]]
M.logout()
print(json.dumps(out))
`;

interface FlowOut {
  caps: string[];
  exists: number;
  root1: [string, string[], string[]];
  append1: [string, string];
  expunged: string[];
  root2: [string, string[], string[]];
  append2: [string, string];
  quota: [string, string[]];
}

describe('quotas through IMAP clients', () => {
  let f: ImapFixture;
  const big = message('Big one', 'b'.repeat(6000));
  const small = message('Small one', 's'.repeat(100));
  const sent = message('My sent copy', 'c'.repeat(1500));

  before(async () => {
    f = await startImap();
    await f.append(big);
    await f.append(small);
    await f.append(message('Keep', 'k'));
  });
  after(async () => {
    await f?.close();
  });

  test('imaplib, as Thunderbird: GETQUOTAROOT after SELECT, APPEND over quota NO [OVERQUOTA], EXPUNGE, APPEND again', async () => {
    const used = (await f.store.quota.usage(f.user.id)).storage;
    // Room for less than the Sent copy; 20 messages allowed.
    await f.store.quota.setLimits(f.user.id, { storage: used + 1000, messages: 20 });
    const r = await runPython<FlowOut>(FLOW, { port: f.port, user: USER, pw: PASSWORD, msg: sent });
    assert.ok(r.caps.includes('QUOTA') && r.caps.includes('QUOTA=RES-STORAGE') && r.caps.includes('QUOTA=RES-MESSAGE'));
    assert.equal(r.exists, 3);
    const kib = (n: number): number => Math.ceil(n / 1024);
    const limitKib = Math.floor((used + 1000) / 1024);
    assert.deepEqual(r.root1, ['OK', ['INBOX ""'], [`"" (STORAGE ${kib(used)} ${limitKib} MESSAGE 3 20)`]]);
    assert.equal(r.append1[0], 'NO');
    assert.match(r.append1[1], /\[OVERQUOTA\]/);
    assert.deepEqual(r.expunged, ['1', '1']);
    // After the EXPUNGE only "Keep" is left (the flow's second APPEND came later).
    const keep = used - big.length - small.length;
    assert.deepEqual(r.root2[2], [`"" (STORAGE ${kib(keep)} ${limitKib} MESSAGE 1 20)`]);
    assert.equal(r.append2[0], 'OK');
    assert.match(r.append2[1], /^\[APPENDUID \d+ 1\]/);
    const final = await f.store.quota.usage(f.user.id);
    assert.deepEqual(final, { storage: keep + sent.length, messages: 2 });
    assert.deepEqual(r.quota, ['OK', [`"" (STORAGE ${kib(final.storage)} ${limitKib} MESSAGE 2 20)`]]);
  });

  test('imapflow getQuota reads usage and limits; over quota its append rejects with OVERQUOTA', async () => {
    const client = new ImapFlow({ host: '127.0.0.1', port: f.port, secure: false, auth: { user: USER, pass: PASSWORD }, logger: false });
    await client.connect();
    try {
      const usage = await f.store.quota.usage(f.user.id);
      await f.store.quota.setLimits(f.user.id, { storage: 1024 * 1024, messages: 2 });
      const q = await client.getQuota('INBOX');
      assert.ok(q);
      assert.equal(q.path, 'INBOX');
      assert.deepEqual(q.storage, { usage: Math.ceil(usage.storage / 1024) * 1024, limit: 1024 * 1024, status: q.storage?.status });
      // imapflow keys each resource by its lower-cased name: MESSAGE is "message".
      const messages = (q as unknown as Record<string, { usage?: number; limit?: number } | undefined>)['message'];
      assert.deepEqual({ usage: messages?.usage, limit: messages?.limit }, { usage: 2, limit: 2 });
      await assert.rejects(client.append('INBOX', Buffer.from(message('one more', 'x'))), (e: unknown) => {
        const err = e as { serverResponseCode?: string; response?: string; message?: string };
        assert.ok(err.serverResponseCode === 'OVERQUOTA' || /OVERQUOTA/.test(err.response ?? err.message ?? ''), JSON.stringify(err));
        return true;
      });
    } finally {
      await client.logout();
    }
  });
});
