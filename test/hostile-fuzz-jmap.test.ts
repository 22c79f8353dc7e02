/**
 * Mutation fuzzing of JMAP requests (fast-check, fixed seed): valid requests with an argument replaced by a
 * hostile value (numbers near 2^53 and 2^63, negative, fractional, deep arrays, long strings, prototype
 * keys, wrong types), or the body's bytes flipped or cut, or sent with another content type. Every answer
 * is a well-formed 200 or 4xx (never 5xx, never a serverFail), nothing is logged as an error, and a known
 * message still downloads byte-identical. FUZZ_RUNS=n runs more requests and FUZZ_SEED=n others, when run by hand.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { createMailroom, type Mailroom } from '../src/server/mailroom.js';
import { memoryLogger, type LogLine } from '../src/lib/logger.js';
import { USER, PASSWORD, USING } from './jmap-helpers.js';

const KNOWN = Buffer.from('From: a@example.net\r\nTo: alice@example.org\r\nSubject: known\r\nMessage-ID: <known@example.net>\r\n\r\nthe known body\r\n');

let m: Mailroom;
let base = '';
let auth: Record<string, string> = {};
let accountId = '';
let knownBlob = '';
let inbox = '';
const lines: LogLine[] = [];

before(async () => {
  m = createMailroom({ ports: { http: 0 }, hostname: 'mail.test', logger: memoryLogger(lines), auth: { failureDelayMs: 0, maxDelayMs: 0 } });
  await m.start();
  const user = await m.addUser(USER, PASSWORD);
  const t = await m.store.tokens.create(user.id, { name: 'fuzz', kind: 'app' });
  base = `http://127.0.0.1:${m.ports.http}`;
  auth = { Authorization: `Bearer ${t.secret}` };
  accountId = `a${user.id}`;
  const mb = (await m.store.mail.getMailbox(user.id, 'INBOX'))!;
  await m.store.mail.append(mb.id, KNOWN, {});
  const r = await post(JSON.stringify({ using: USING, methodCalls: [['Email/query', { accountId }, 'q'], ['Email/get', { accountId, '#ids': { resultOf: 'q', name: 'Email/query', path: '/ids' }, properties: ['blobId', 'mailboxIds'] }, 'g']] }));
  const got = (r.body!['methodResponses'] as Array<[string, { list: Array<{ blobId: string; mailboxIds: Record<string, boolean> }> }]>)[1]![1].list[0]!;
  knownBlob = got.blobId;
  inbox = Object.keys(got.mailboxIds)[0]!;
});
after(async () => {
  await m.stop();
});

async function post(body: string | Buffer, type = 'application/json'): Promise<{ status: number; body: Record<string, unknown> | null }> {
  const r = await fetch(`${base}/jmap/api`, { method: 'POST', headers: { ...auth, 'Content-Type': type }, body });
  const text = await r.text();
  let parsed: Record<string, unknown> | null = null;
  try {
    parsed = JSON.parse(text) as Record<string, unknown>;
  } catch {
    parsed = null;
  }
  return { status: r.status, body: parsed };
}

/** Valid method calls; `$A` stands for the account, `$I` for INBOX's id. */
const CALLS: Array<[string, Record<string, unknown>]> = [
  ['Mailbox/get', { accountId: '$A', ids: null }],
  ['Mailbox/query', { accountId: '$A', filter: { role: 'inbox' }, sort: [{ property: 'name' }] }],
  ['Mailbox/changes', { accountId: '$A', sinceState: '0', maxChanges: 10 }],
  ['Mailbox/set', { accountId: '$A', create: { n: { name: 'fuzz', parentId: null } }, destroy: ['nope'] }],
  ['Email/query', { accountId: '$A', filter: { inMailbox: '$I', text: 'known', before: '2100-01-01T00:00:00Z' }, sort: [{ property: 'receivedAt', isAscending: false }], position: 0, limit: 10, calculateTotal: true }],
  ['Email/get', { accountId: '$A', ids: null, properties: ['subject', 'from', 'bodyValues', 'textBody', 'preview'], fetchAllBodyValues: true, maxBodyValueBytes: 100 }],
  ['Email/changes', { accountId: '$A', sinceState: '0', maxChanges: 5 }],
  ['Email/queryChanges', { accountId: '$A', sinceQueryState: '0', filter: null, maxChanges: 5 }],
  ['Email/set', { accountId: '$A', create: { e: { mailboxIds: { $I: true }, subject: 'fuzz', bodyValues: { b: { value: 'x' } }, textBody: [{ partId: 'b', type: 'text/plain' }] } } }],
  ['Email/set', { accountId: '$A', update: { nope: { 'keywords/$seen': true } }, destroy: ['nope'] }],
  ['Email/parse', { accountId: '$A', blobIds: ['nope'] }],
  ['Thread/get', { accountId: '$A', ids: ['nope'] }],
  ['SearchSnippet/get', { accountId: '$A', filter: { text: 'known' }, emailIds: ['nope'] }],
  ['Identity/get', { accountId: '$A' }],
  ['VacationResponse/get', { accountId: '$A' }],
  ['Core/echo', { hello: [1, 2, 3] }],
];
const HOSTILE: unknown[] = [
  null, true, -1, 0, 1.5, 2 ** 53 + 2, 2 ** 63, -(2 ** 63), 1e308, '', 'x'.repeat(20_000), '\u0000\uffff\ud800', '#nope', '__proto__', 'constructor',
  [], JSON.parse('['.repeat(300) + ']'.repeat(300)) as unknown, JSON.parse('{"__proto__": {"polluted": true}}') as unknown, { constructor: { prototype: { x: 1 } } }, Array(2000).fill('id'), { '/': null },
  { resultOf: 'zz', name: 'Email/query', path: '/ids/*' },
];

function fill(v: unknown): unknown {
  if (v === '$A') return accountId;
  if (v === '$I') return inbox;
  if (Array.isArray(v)) return v.map(fill);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k === '$I' ? inbox : k, fill(x)]));
  return v;
}

/** Replaces the value at one path (by index into the object's keys, depth-first) with `h`. */
function mutateArgs(args: Record<string, unknown>, pick: number, h: unknown, newKey: boolean): Record<string, unknown> {
  const out = structuredClone(args);
  const slots: Array<[Record<string, unknown>, string]> = [];
  const walk = (o: Record<string, unknown>): void => {
    for (const k of Object.keys(o)) {
      slots.push([o, k]);
      const x = o[k];
      if (x && typeof x === 'object' && !Array.isArray(x)) walk(x as Record<string, unknown>);
    }
  };
  walk(out);
  if (newKey || slots.length === 0) {
    const keys = ['ids', 'limit', 'position', 'anchor', 'anchorOffset', 'properties', 'filter', 'sort', 'maxChanges', 'sinceState', 'collapseThreads', 'bodyProperties', 'maxBodyValueBytes', 'onDestroyRemoveEmails', '#ids', 'ifInState'];
    out[keys[pick % keys.length]!] = h;
  } else {
    const [o, k] = slots[pick % slots.length]!;
    o[k] = h;
  }
  return out;
}

const request = fc.oneof(
  { weight: 6, arbitrary: fc.array(fc.tuple(fc.nat({ max: CALLS.length - 1 }), fc.nat(), fc.nat({ max: HOSTILE.length - 1 }), fc.boolean()), { minLength: 1, maxLength: 4 }).map((calls) => ({ kind: 'args' as const, calls })) },
  { weight: 3, arbitrary: fc.tuple(fc.nat({ max: CALLS.length - 1 }), fc.array(fc.tuple(fc.nat(), fc.nat({ max: 255 }), fc.nat({ max: 2 })), { minLength: 1, maxLength: 4 })).map(([call, flips]) => ({ kind: 'bytes' as const, call, flips })) },
  { weight: 1, arbitrary: fc.constantFrom('text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/json; charset=utf-16').map((type) => ({ kind: 'type' as const, type })) },
);

test('mutated JMAP requests get a well-formed 200 or 4xx answer and leave the store intact', async () => {
  await fc.assert(
    fc.asyncProperty(request, async (r) => {
      let res: Awaited<ReturnType<typeof post>>;
      if (r.kind === 'args') {
        const methodCalls = r.calls.map(([c, pick, h, newKey], i) => [CALLS[c]![0], mutateArgs(fill(CALLS[c]![1]) as Record<string, unknown>, pick, HOSTILE[h], newKey), `c${i}`]);
        res = await post(JSON.stringify({ using: USING, methodCalls }));
      } else if (r.kind === 'bytes') {
        const body = Buffer.from(JSON.stringify({ using: USING, methodCalls: [[CALLS[r.call]![0], fill(CALLS[r.call]![1]), 'c']] }));
        let b = body;
        for (const [pos, byte, how] of r.flips) {
          const p = pos % b.length;
          if (how === 0) b[p] = byte;
          else if (how === 1) b = b.subarray(0, p);
          else b = Buffer.concat([b.subarray(0, p), b.subarray(p, p + 16), b.subarray(p)]);
        }
        res = await post(b);
      } else {
        res = await post(JSON.stringify({ using: USING, methodCalls: [['Core/echo', {}, 'c']] }), r.type);
      }
      assert.ok(res.status === 200 || (res.status >= 400 && res.status < 500), `status ${res.status}`);
      assert.ok(res.body, 'the answer is JSON');
      if (res.status === 200) {
        const responses = res.body['methodResponses'] as Array<[string, Record<string, unknown>]>;
        assert.ok(Array.isArray(responses));
        for (const [name, args] of responses) assert.ok(!(name === 'error' && args['type'] === 'serverFail'), JSON.stringify(args));
      }
      assert.deepEqual(lines.filter((l) => l.level === 'error').map((l) => [l.msg, l.fields]), []);
    }),
    { numRuns: Number(process.env['FUZZ_RUNS'] ?? 150), seed: Number(process.env['FUZZ_SEED'] ?? 20261208) },
  );
  const d = await fetch(`${base}/jmap/download/${accountId}/${knownBlob}/known.eml`, { headers: auth });
  assert.equal(d.status, 200);
  assert.ok(Buffer.from(await d.arrayBuffer()).equals(KNOWN));
  assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
});
