/**
 * One store, three protocols, push: an IMAP STORE reaches an open EventSource within 100 ms; an Email/set
 * reaches an IDLEing IMAP client within 100 ms; POP3 DELE+QUIT shows as destroyed in Email/changes; the
 * IMAP, POP3 and JMAP views agree after changes through each; IMAP mailbox list changes reach an EventSource
 * and Mailbox/set changes reach IMAP NOTIFY; JMAP over WebSocket with push; a
 * PushSubscription is verified and then receives StateChanges on a loopback URL.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startJmap, rfc822, inboxId, USER, PASSWORD, USING, type JmapFixture } from './jmap-helpers.js';

type R = Record<string, unknown>;

/** A line-oriented client for IMAP and POP3 transcripts. */
class Lines {
  #buf = '';
  #waiters: Array<() => void> = [];
  constructor(readonly sock: Socket) {
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => {
      this.#buf += d;
      for (const w of this.#waiters.splice(0)) w();
    });
  }
  static async open(port: number): Promise<Lines> {
    const s = connect(port, '127.0.0.1');
    await new Promise<void>((r, j) => s.once('connect', () => r()).once('error', j));
    return new Lines(s);
  }
  send(s: string): void {
    this.sock.write(s + '\r\n');
  }
  async until(re: RegExp, timeoutMs = 5000): Promise<string[]> {
    const deadline = Date.now() + timeoutMs;
    const seen: string[] = [];
    for (;;) {
      let i: number;
      while ((i = this.#buf.indexOf('\r\n')) >= 0) {
        const l = this.#buf.slice(0, i);
        this.#buf = this.#buf.slice(i + 2);
        seen.push(l);
        if (re.test(l)) return seen;
      }
      if (Date.now() > deadline) throw new Error(`timeout waiting for ${re}; saw ${JSON.stringify(seen)}`);
      await new Promise<void>((r) => {
        this.#waiters.push(r);
        setTimeout(r, 50);
      });
    }
  }
  close(): void {
    this.sock.destroy();
  }
}

async function imapSelect(port: number): Promise<Lines> {
  const c = await Lines.open(port);
  await c.until(/^\* OK/);
  c.send(`a1 LOGIN "${USER}" "${PASSWORD}"`);
  await c.until(/^a1 OK/);
  c.send('a2 SELECT INBOX');
  await c.until(/^a2 OK/);
  return c;
}

/** An EventSource over fetch: yields parsed "state" events. */
async function eventSource(f: JmapFixture, query = 'types=*&closeafter=no&ping=0'): Promise<{ next(timeoutMs?: number): Promise<R>; close(): void }> {
  const ac = new AbortController();
  const r = await fetch(`${f.base}/jmap/eventsource?${query}`, { headers: f.auth, signal: ac.signal });
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type') ?? '', /text\/event-stream/);
  const reader = r.body!.getReader();
  let buf = '';
  const dec = new TextDecoder();
  return {
    async next(timeoutMs = 5000): Promise<R> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const i = buf.indexOf('\n\n');
        if (i >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const ev = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (ev === 'state' && data) return JSON.parse(data) as R;
          continue;
        }
        const left = deadline - Date.now();
        if (left <= 0) throw new Error('no event in time');
        const chunk = await Promise.race([reader.read(), new Promise<null>((res) => setTimeout(() => res(null), left))]);
        if (chunk === null) throw new Error('no event in time');
        if (chunk.done) throw new Error('stream ended');
        buf += dec.decode(chunk.value, { stream: true });
      }
    },
    close: () => ac.abort(),
  };
}

test('IMAP STORE reaches an open EventSource within 100 ms; Email/set reaches IMAP IDLE within 100 ms; POP3 DELE shows as destroyed', async (t) => {
  const f = await startJmap({ ports: { imap: 0, pop3: 0 } });
  t.after(() => f.stop());
  const inbox = await inboxId(f);
  const a = await f.m.store.mail.append(inbox, rfc822('pushed'));
  const b = await f.m.store.mail.append(inbox, rfc822('popped'));
  const es = await eventSource(f);
  t.after(() => es.close());
  const initial = await es.next();
  const states = (initial['changed'] as R)[f.accountId] as R;
  assert.ok(states['Email'] && states['Mailbox']);
  const imap = await imapSelect(f.m.ports.imap!);
  t.after(() => imap.close());
  imap.send(`a3 UID STORE ${a.uid} +FLAGS (\\Flagged)`);
  await imap.until(/^a3 OK/);
  const t0 = performance.now();
  const ev = await es.next(2000);
  const elapsed = performance.now() - t0;
  assert.ok(elapsed < 100, `EventSource told after ${elapsed.toFixed(1)} ms`);
  const changed = (ev['changed'] as R)[f.accountId] as R;
  assert.notEqual(changed['Email'], states['Email']);
  const ch = await f.call('Email/changes', { accountId: f.accountId, sinceState: states['Email'] });
  assert.deepEqual(ch['updated'], [a.emailId]);

  // JMAP Email/set -> IMAP IDLE
  imap.send('a4 IDLE');
  await imap.until(/^\+ /);
  await f.call('Email/set', { accountId: f.accountId, update: { [a.emailId]: { 'keywords/$seen': true } } });
  // Measured from the Email/set response (the change is committed then) to the untagged FETCH.
  const t1 = performance.now();
  const lines = await imap.until(/FETCH/, 2000);
  const idleMs = performance.now() - t1;
  assert.ok(idleMs < 100, `IDLE told ${idleMs.toFixed(1)} ms after the Email/set response`);
  assert.match(lines.at(-1)!, /\\Seen/);
  imap.send('DONE');
  await imap.until(/^a4 OK/);

  // POP3 DELE + QUIT -> destroyed
  const before = (await f.call('Email/get', { accountId: f.accountId, ids: [] }))['state'] as string;
  const pop = await Lines.open(f.m.ports.pop3!);
  await pop.until(/^\+OK/);
  pop.send(`USER ${USER}`);
  await pop.until(/^\+OK/);
  pop.send(`PASS ${PASSWORD}`);
  await pop.until(/^\+OK/);
  pop.send('UIDL');
  const uidl = await pop.until(/^\.$/);
  const n = uidl.find((l) => l.endsWith(` ${b.emailId}`))!.split(' ')[0]!;
  pop.send(`DELE ${n}`);
  await pop.until(/^\+OK/);
  pop.send('QUIT');
  await pop.until(/^\+OK/);
  pop.close();
  const ev2 = await es.next(2000);
  assert.ok((ev2['changed'] as R)[f.accountId]);
  const ch2 = await f.call('Email/changes', { accountId: f.accountId, sinceState: before });
  assert.deepEqual(ch2['destroyed'], [b.emailId]);
});

test('mailbox list changes: IMAP CREATE, RENAME and SUBSCRIBE reach an EventSource; Mailbox/set reaches IMAP NOTIFY', async (t) => {
  const f = await startJmap({ ports: { imap: 0 } });
  t.after(() => f.stop());
  const es = await eventSource(f, 'types=Mailbox&closeafter=no&ping=0');
  t.after(() => es.close());
  let state = ((await es.next())['changed'] as Record<string, R>)[f.accountId]!['Mailbox'] as string;
  const imap = await Lines.open(f.m.ports.imap!);
  t.after(() => imap.close());
  await imap.until(/^\* OK/);
  imap.send(`a1 LOGIN "${USER}" "${PASSWORD}"`);
  await imap.until(/^a1 OK/);
  // Each IMAP change wakes no mailbox's change bus; the mailbox list event does.
  const expect = [
    ['a2 CREATE Projects', { created: 1, updated: 0, destroyed: 0 }],
    ['a3 RENAME Projects Plans', { created: 0, updated: 1, destroyed: 0 }],
    ['a4 SUBSCRIBE Plans', { created: 0, updated: 1, destroyed: 0 }],
  ] as const;
  for (const [cmd, counts] of expect) {
    imap.send(cmd);
    await imap.until(new RegExp(`^${cmd.split(' ')[0]} OK`));
    const next = ((await es.next(2000))['changed'] as Record<string, R>)[f.accountId]!['Mailbox'] as string;
    assert.notEqual(next, state, cmd);
    const ch = await f.call('Mailbox/changes', { accountId: f.accountId, sinceState: state });
    assert.deepEqual({ created: (ch['created'] as string[]).length, updated: (ch['updated'] as string[]).length, destroyed: (ch['destroyed'] as string[]).length }, counts, cmd);
    state = next;
  }
  const plans = await f.call('Mailbox/get', { accountId: f.accountId, ids: null, properties: ['name', 'isSubscribed'] });
  assert.ok((plans['list'] as R[]).some((m) => m['name'] === 'Plans' && m['isSubscribed'] === true));

  // JMAP Mailbox/set -> IMAP NOTIFY (in IDLE, at once)
  imap.send('a5 NOTIFY SET (personal (MailboxName SubscriptionChange))');
  await imap.until(/^a5 OK/);
  imap.send('a6 IDLE');
  await imap.until(/^\+ /);
  const made = await f.call('Mailbox/set', { accountId: f.accountId, create: { k: { name: 'FromJmap', parentId: null } } });
  const id = ((made['created'] as Record<string, R>)['k']!['id']) as string;
  // Mailbox/set subscribes what it creates (isSubscribed defaults to true here).
  assert.deepEqual(await imap.until(/Subscribed/, 2000), ['* LIST () "/" "FromJmap"', '* LIST (\\Subscribed) "/" "FromJmap"']);
  await f.call('Mailbox/set', { accountId: f.accountId, update: { [id]: { name: 'Renamed' } } });
  assert.deepEqual(await imap.until(/OLDNAME/, 2000), ['* LIST () "/" "Renamed" ("OLDNAME" ("FromJmap"))']);
  await f.call('Mailbox/set', { accountId: f.accountId, destroy: [id] });
  assert.deepEqual(await imap.until(/\\NonExistent/, 2000), ['* LIST (\\NonExistent) "/" "Renamed"']);
  imap.send('DONE');
  assert.deepEqual(await imap.until(/^a6 /), ['* LIST () "/" "Renamed"', 'a6 OK IDLE terminated']);
});

test('IMAP, POP3 and JMAP views agree after changes through each', async (t) => {
  const f = await startJmap({ ports: { imap: 0, pop3: 0 } });
  t.after(() => f.stop());
  const inbox = await inboxId(f);
  const msgs = [];
  for (let i = 0; i < 4; i++) msgs.push(await f.m.store.mail.append(inbox, rfc822(`m${i}`)));
  const imap = await imapSelect(f.m.ports.imap!);
  t.after(() => imap.close());
  // IMAP: flag m0, move m1 to Archive
  imap.send(`b1 UID STORE ${msgs[0]!.uid} +FLAGS (\\Answered)`);
  await imap.until(/^b1 OK/);
  imap.send(`b2 UID MOVE ${msgs[1]!.uid} Archive`);
  await imap.until(/^b2 OK/);
  // JMAP: mark m2 seen, destroy m3
  await f.call('Email/set', { accountId: f.accountId, update: { [msgs[2]!.emailId]: { 'keywords/$seen': true } }, destroy: [msgs[3]!.emailId] });
  // POP3: list what it sees
  const pop = await Lines.open(f.m.ports.pop3!);
  await pop.until(/^\+OK/);
  pop.send(`USER ${USER}`);
  await pop.until(/^\+OK/);
  pop.send(`PASS ${PASSWORD}`);
  await pop.until(/^\+OK/);
  pop.send('UIDL');
  const popIds = (await pop.until(/^\.$/)).slice(1, -1).map((l) => l.split(' ')[1]).sort();
  pop.send('QUIT');
  await pop.until(/^\+OK/);
  pop.close();
  // IMAP: what INBOX holds now, with EMAILIDs and flags
  imap.send('b2a NOOP');
  await imap.until(/^b2a OK/);
  imap.send('b3 UID FETCH 1:* (FLAGS EMAILID)');
  const fetched = (await imap.until(/^b3 OK/)).filter((l) => l.includes('EMAILID'));
  const imapView = new Map(fetched.map((l) => [/EMAILID \(([^)]+)\)/.exec(l)![1]!, /FLAGS \(([^)]*)\)/.exec(l)![1]!]));
  // JMAP view of INBOX
  const role = await f.call('Mailbox/query', { accountId: f.accountId, filter: { role: 'inbox' } });
  const q = await f.call('Email/query', { accountId: f.accountId, filter: { inMailbox: (role['ids'] as string[])[0] } });
  const g = await f.call('Email/get', { accountId: f.accountId, ids: q['ids'], properties: ['keywords'] });
  const jmapView = new Map((g['list'] as R[]).map((e) => [e['id'] as string, Object.keys(e['keywords'] as R).sort()]));
  assert.deepEqual([...jmapView.keys()].sort(), [msgs[0]!.emailId, msgs[2]!.emailId].sort());
  assert.deepEqual([...imapView.keys()].sort(), [...jmapView.keys()].sort());
  assert.deepEqual(popIds, [...jmapView.keys()].sort());
  assert.deepEqual(jmapView.get(msgs[0]!.emailId), ['$answered']);
  assert.match(imapView.get(msgs[0]!.emailId)!, /\\Answered/);
  assert.deepEqual(jmapView.get(msgs[2]!.emailId), ['$seen']);
  assert.match(imapView.get(msgs[2]!.emailId)!, /\\Seen/);
  // the moved message keeps its id and is in Archive for JMAP
  const moved = await f.call('Email/get', { accountId: f.accountId, ids: [msgs[1]!.emailId], properties: ['mailboxIds'] });
  const archive = (await f.call('Mailbox/query', { accountId: f.accountId, filter: { role: 'archive' } }))['ids'] as string[];
  assert.deepEqual((moved['list'] as R[])[0]!['mailboxIds'], { [archive[0]!]: true });
});

test('JMAP over WebSocket: requests, request errors and push', async (t) => {
  const f = await startJmap();
  t.after(() => f.stop());
  const session = (await (await fetch(`${f.base}/jmap/session`, { headers: f.auth })).json()) as R;
  const wsUrl = ((session['capabilities'] as R)['urn:ietf:params:jmap:websocket'] as R)['url'] as string;
  const specifier: string = 'ws';
  const { WebSocket } = (await import(specifier)) as { WebSocket: new (url: string, proto: string, o: { headers: Record<string, string> }) => { on(e: string, fn: (d: Buffer) => void): void; send(s: string): void; close(): void; once(e: string, fn: () => void): void } };
  const ws = new WebSocket(wsUrl, 'jmap', { headers: f.auth });
  t.after(() => ws.close());
  const inbox: R[] = [];
  const waiters: Array<() => void> = [];
  ws.on('message', (d) => {
    inbox.push(JSON.parse(d.toString()) as R);
    for (const w of waiters.splice(0)) w();
  });
  await new Promise<void>((r) => ws.once('open', r));
  const next = async (): Promise<R> => {
    for (let i = 0; i < 100 && inbox.length === 0; i++) await new Promise<void>((r) => (waiters.push(r), setTimeout(r, 50)));
    const m = inbox.shift();
    assert.ok(m, 'a message');
    return m;
  };
  ws.send(JSON.stringify({ '@type': 'Request', id: 'r1', using: USING, methodCalls: [['Mailbox/query', { accountId: f.accountId, filter: { role: 'inbox' } }, '0']] }));
  const res = await next();
  assert.equal(res['@type'], 'Response');
  assert.equal(res['requestId'], 'r1');
  ws.send('{bad');
  const bad = await next();
  assert.equal(bad['@type'], 'RequestError');
  assert.equal(bad['type'], 'urn:ietf:params:jmap:error:notJSON');
  ws.send(JSON.stringify({ '@type': 'WebSocketPushEnable', dataTypes: ['Email'] }));
  await new Promise((r) => setTimeout(r, 50));
  await f.m.store.mail.append(await inboxId(f), rfc822('ws push'));
  const push = await next();
  assert.equal(push['@type'], 'StateChange');
  assert.ok(((push['changed'] as R)[f.accountId] as R)['Email']);
});

test('PushSubscription: verification to a loopback URL, then StateChanges; bad URLs refused', async (t) => {
  const f = await startJmap();
  t.after(() => f.stop());
  const got: R[] = [];
  const waiters: Array<() => void> = [];
  const srv = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      got.push(JSON.parse(body) as R);
      res.writeHead(201).end();
      for (const w of waiters.splice(0)) w();
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  t.after(() => srv.close());
  const url = `http://127.0.0.1:${(srv.address() as AddressInfo).port}/push`;
  const wait = async (): Promise<R> => {
    for (let i = 0; i < 100 && got.length === 0; i++) await new Promise<void>((r) => (waiters.push(r), setTimeout(r, 50)));
    const m = got.shift();
    assert.ok(m, 'a push');
    return m;
  };
  const c = await f.call('PushSubscription/set', { create: { p: { deviceClientId: 'dev1', url, types: ['Email', 'Mailbox'] } }, notAnArg: undefined });
  const id = ((c['created'] as R)['p'] as R)['id'] as string;
  const ver = await wait();
  assert.equal(ver['@type'], 'PushVerification');
  assert.equal(ver['pushSubscriptionId'], id);
  const wrong = await f.call('PushSubscription/set', { update: { [id]: { verificationCode: 'wrong' } } });
  assert.equal(((wrong['notUpdated'] as R)[id] as R)['type'], 'invalidProperties');
  await f.call('PushSubscription/set', { update: { [id]: { verificationCode: ver['verificationCode'] } } });
  const g = await f.call('PushSubscription/get', { ids: null });
  const sub = (g['list'] as R[])[0]!;
  assert.equal(sub['verificationCode'], ver['verificationCode']);
  assert.equal(sub['url'], undefined);
  await f.m.store.mail.append(await inboxId(f), rfc822('push me'));
  const sc = await wait();
  assert.equal(sc['@type'], 'StateChange');
  assert.ok(((sc['changed'] as R)[f.accountId] as R)['Email']);
  const bad = await f.call('PushSubscription/set', { create: { x: { deviceClientId: 'd', url: 'http://example.com/push' }, y: { deviceClientId: 'd', url } , z: { deviceClientId: 'd', url: 'https://example.com/p', keys: { p256dh: 'a', auth: 'b' } } } });
  assert.equal(((bad['notCreated'] as R)['x'] as R)['type'], 'invalidProperties');
  assert.equal(((bad['notCreated'] as R)['z'] as R)['type'], 'invalidProperties');
  const d = await f.call('PushSubscription/set', { destroy: [id] });
  assert.deepEqual(d['destroyed'], [id]);
});

test('a WebSocket upgrade with the session cookie needs the server origin', async (t) => {
  const f = await startJmap();
  t.after(() => f.stop());
  const session = await f.m.store.tokens.create(f.user.id, { name: 'web', kind: 'session' });
  const specifier: string = 'ws';
  const { WebSocket } = (await import(specifier)) as { WebSocket: new (url: string, proto: string, o: { headers: Record<string, string> }) => { on(e: string, fn: (...a: unknown[]) => void): void; send(s: string): void; close(): void } };
  const attempt = (origin: string): Promise<{ code: number; messages: number }> =>
    new Promise((resolve) => {
      const ws = new WebSocket(`ws://127.0.0.1:${f.m.ports.http}/jmap/ws`, 'jmap', { headers: { Cookie: `mr_session=${session.secret}`, Origin: origin } });
      let messages = 0;
      ws.on('open', () => ws.send(JSON.stringify({ '@type': 'Request', using: USING, methodCalls: [['Core/echo', {}, '0']] })));
      ws.on('message', () => {
        messages++;
        ws.close();
      });
      ws.on('close', (code) => resolve({ code: code as number, messages }));
      ws.on('error', () => undefined);
    });
  const evil = await attempt('https://evil.example');
  assert.equal(evil.code, 1008);
  assert.equal(evil.messages, 0);
  const own = await attempt(`http://127.0.0.1:${f.m.ports.http}`);
  assert.equal(own.messages, 1);
});
