/**
 * The webmail in Debian's Chromium (playwright-core): sign-in, folders and the message list, reading plain
 * text and HTML, a corpus of hostile HTML that must neither run nor load anything (every request the page
 * makes is counted, and a loopback "tracker" server counts what reaches it), attachments, compose and send
 * through JMAP EmailSubmission from a chosen identity (an alias), a live update caused by an IMAP client, the
 * conversation view, a filter rule made in the rule editor that files a message delivered over LMTP, forwarding
 * that reaches a (fake) remote server, the admin charts, CSRF rejection and an ended session.
 * Saves screenshots of the main pages (to docs/screenshots/ with WEB_SCREENSHOTS=docs).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { chromium, type Browser, type Page } from 'playwright-core';
import { ImapFlow } from 'imapflow';
import { SMTPServer } from 'smtp-server';
import { lmtpDeliver } from './web-helpers.js';
import { createMailroom, memoryLogger } from '../src/index.js';
import { jmapPlugin } from '../src/jmap/index.js';
import { webPlugin } from '../src/web/index.js';

const ALICE = 'alice@example.org';
const PASS = 'alice-secret-1';
// Screenshots go to a temporary folder; WEB_SCREENSHOTS=docs writes the README's copies in docs/screenshots.
const SHOTS = process.env.WEB_SCREENSHOTS === 'docs' ? join(new URL('..', import.meta.url).pathname, 'docs', 'screenshots') : join(tmpdir(), 'mailroom-web-screenshots');

function message(n: number, subject: string, body: string, extra = ''): Buffer {
  return Buffer.from(
    `From: Sender ${n} <sender${n}@example.net>\r\nTo: ${ALICE}\r\nSubject: ${subject}\r\nDate: Mon, 7 Dec 2026 0${n % 10}:00:00 +0000\r\n` +
      `Message-ID: <m${n}@example.net>\r\nMIME-Version: 1.0\r\n${extra || 'Content-Type: text/plain; charset=utf-8\r\n'}\r\n${body}\r\n`,
  );
}

/** Hostile HTML: each line tries to run script or to load something from the tracker. */
function hostileHtml(t: string): string {
  return [
    `<html><head><meta http-equiv="refresh" content="0;url=${t}/refresh"><link rel="stylesheet" href="${t}/css"><base href="${t}/base/">`,
    `<style>@import url(${t}/import); body { background: url(${t}/bg) }</style><script src="${t}/script.js"></script></head>`,
    `<body onload="top.__pwned='onload'"><p>Hostile corpus</p><script>top.__pwned='script';alert(1)</script>`,
    `<img src="${t}/pixel.gif" width="1" height="1"><img src="x" onerror="top.__pwned='onerror'"><img srcset="${t}/srcset 2x">`,
    `<a href="javascript:top.__pwned='js-url'" id="jl">click</a><div style="background-image:url(${t}/style-bg);width:10px;height:10px"></div>`,
    `<table background="${t}/table-bg"><tr><td background="${t}/td-bg">x</td></tr></table>`,
    `<form action="${t}/form" method="post"><input name="q" value="1" autofocus onfocus="this.form.submit()"><button>go</button></form>`,
    `<iframe src="${t}/iframe"></iframe><object data="${t}/object"></object><embed src="${t}/embed"><video poster="${t}/poster" src="${t}/video"></video>`,
    `<svg><image href="${t}/svg-image"/><script>top.__pwned='svg'</script></svg><math><mtext><img src="${t}/math"></mtext></math>`,
    `<div style="position:fixed;top:0;left:0;width:100%;height:100%;background:red">overlay</div>`,
    `<a href="${t}/link" style="behavior:url(${t}/htc)">a normal link</a></body></html>`,
  ].join('\n');
}

async function newBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

async function signIn(page: Page, url: string): Promise<void> {
  await page.goto(url);
  await page.getByLabel('Email address').fill(ALICE);
  await page.getByLabel('Password').fill(PASS);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('navigation', { name: 'Folders' }).waitFor();
}

test('webmail in Chromium: sign-in, list, read, hostile HTML, attachment, compose and send, live IMAP update, CSRF, ended session', async (t) => {
  const trackerHits: string[] = [];
  const tracker: Server = createServer((req, res) => {
    trackerHits.push(req.url ?? '');
    res.end('x');
  });
  await new Promise<void>((r) => tracker.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => tracker.close(() => r())));
  const trackerUrl = `http://127.0.0.1:${(tracker.address() as AddressInfo).port}`;

  // The "remote" server forwarded mail goes to (an outbound route for forward.test).
  const forwarded: string[] = [];
  const remote = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData(stream, _session, done) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        forwarded.push(Buffer.concat(chunks).toString());
        done();
      });
    },
  });
  await new Promise<void>((r) => remote.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => remote.close(() => r())));
  const remotePort = (remote.server.address() as AddressInfo).port;

  const m = createMailroom({
    ports: { http: 0, imap: 0, lmtp: 0 },
    outbound: { routes: { 'forward.test': { host: '127.0.0.1', port: remotePort } } },
    auth: { failureDelayMs: 0 },
    hostname: 'mail.example.org',
    logger: memoryLogger([]),
    http: { plugins: [jmapPlugin, webPlugin] },
  });
  await m.start();
  t.after(() => m.stop());
  const alice = await m.addUser(ALICE, PASS);
  await m.store.directory.addAlias('sales@example.org', ALICE);
  const inbox = (await m.store.mail.getMailbox(alice.id, 'INBOX'))!;
  for (let i = 1; i <= 30; i++) await m.store.mail.append(inbox.id, message(i, `Plain message ${i}`, `Hello number ${i}.\r\nSecond line.`));
  await m.store.mail.append(inbox.id, message(40, 'Hostile HTML', hostileHtml(trackerUrl), 'Content-Type: text/html; charset=utf-8\r\n'));
  const boundary = 'b0undary';
  await m.store.mail.append(
    inbox.id,
    message(
      41,
      'With attachment',
      `--${boundary}\r\nContent-Type: text/plain\r\n\r\nSee the attached file.\r\n--${boundary}\r\nContent-Type: text/plain; name="notes.txt"\r\nContent-Disposition: attachment; filename="notes.txt"\r\n\r\nattached notes 12345\r\n--${boundary}--`,
      `Content-Type: multipart/mixed; boundary="${boundary}"\r\n`,
    ),
  );
  const url = `http://127.0.0.1:${m.ports.http}`;

  const browser = await newBrowser();
  let pageForDebug: Page | null = null;
  t.after(async () => {
    if (process.env.WEB_DEBUG && pageForDebug) await pageForDebug.screenshot({ path: '/tmp/web-debug.png' }).catch(() => undefined);
    await browser.close();
  });
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, acceptDownloads: true });
  const page = await context.newPage();
  pageForDebug = page;
  const requests: string[] = [];
  page.on('request', (r) => requests.push(r.url()));
  const dialogs: string[] = [];
  page.on('dialog', (d) => {
    dialogs.push(d.message());
    void d.dismiss();
  });
  await mkdir(SHOTS, { recursive: true });
  const consoleLines: string[] = [];
  page.on('console', (msg) => consoleLines.push(`${msg.type()}: ${msg.text()}`));
  page.on('pageerror', (e) => consoleLines.push(`pageerror: ${e.message}`));

  // Sign-in: a wrong password is refused, the right one opens the webmail.
  await page.goto(url);
  await page.getByLabel('Email address').fill(ALICE);
  await page.getByLabel('Password').fill('wrong');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('alert').filter({ hasText: 'Wrong email address or password' }).waitFor();
  await page.getByLabel('Password').fill(PASS);
  await page.screenshot({ path: join(SHOTS, 'sign-in.png') });
  await page.getByRole('button', { name: 'Sign in' }).click();

  const folders = page.getByRole('navigation', { name: 'Folders' });
  await folders.getByRole('link', { name: 'INBOX' }).waitFor();
  for (const name of ['Sent', 'Drafts', 'Trash', 'Junk', 'Archive']) await folders.getByRole('link', { name }).waitFor();
  assert.match((await folders.getByRole('link', { name: 'INBOX' }).textContent()) ?? '', /32/, 'unread count of INBOX');
  const list = page.getByRole('listbox', { name: 'Messages' });
  await list.getByText('With attachment').waitFor();
  // Newest first (server-side sort): the attachment message is the first row; rows carry sender and subject.
  const firstRow = list.getByRole('option').first();
  assert.match((await firstRow.textContent()) ?? '', /Sender 41.*With attachment/);
  // Virtual scrolling: far fewer rows in the DOM than messages.
  assert.ok((await list.getByRole('option').count()) < 32);

  // Plain text.
  await list.getByText('Plain message 30', { exact: true }).click();
  await page.getByRole('heading', { name: 'Plain message 30' }).waitFor();
  await page.getByText('Hello number 30.').waitFor();
  await page.getByRole('button', { name: 'Mark as unread' }).waitFor();

  // Attachment: listed with its size and downloadable.
  await list.getByText('With attachment').click();
  const att = page.getByRole('region', { name: 'Attachments' });
  await att.getByRole('link', { name: 'notes.txt' }).waitFor();
  const [download] = await Promise.all([page.waitForEvent('download'), att.getByRole('link', { name: 'notes.txt' }).click()]);
  const chunks: Buffer[] = [];
  for await (const c of (await download.createReadStream()) as AsyncIterable<Buffer>) chunks.push(c);
  assert.match(Buffer.concat(chunks).toString(), /attached notes 12345/);

  // Hostile HTML: shown sanitized in a sandboxed frame; nothing runs, nothing loads.
  await list.getByText('Hostile HTML').click();
  const frame = page.frameLocator('iframe[title="Message body"]');
  await frame.getByText('Hostile corpus').waitFor();
  await page.getByText('Remote images were blocked.').waitFor();
  await frame.getByText('a normal link').waitFor();
  await page.waitForTimeout(1500);
  await page.screenshot({ path: join(SHOTS, 'webmail-reading.png') });
  assert.equal(await page.evaluate(() => (globalThis as unknown as { __pwned?: string }).__pwned), undefined, 'no script ran');
  assert.deepEqual(dialogs, []);
  const sandbox = await page.locator('iframe[title="Message body"]').getAttribute('sandbox');
  assert.ok(sandbox !== null && !sandbox.includes('allow-scripts') && !sandbox.includes('allow-same-origin'));
  assert.deepEqual(trackerHits, [], 'nothing reached the tracker');
  assert.deepEqual(requests.filter((r) => !r.startsWith(url)), [], 'the page requested nothing outside its origin');

  // Compose and send to herself; the message arrives in INBOX and a copy is in Sent.
  await page.getByRole('button', { name: 'Compose' }).click();
  const dialog = page.getByRole('dialog');
  // Identity/get offers the alias as a sender; the message goes out from it.
  await dialog.getByLabel('From').locator('option', { hasText: 'sales@example.org' }).waitFor({ state: 'attached' });
  await dialog.getByLabel('From').selectOption({ label: 'sales@example.org' });
  await dialog.getByLabel('To').fill(ALICE);
  await dialog.getByLabel('Subject').fill('Sent from the browser');
  await dialog.getByLabel('Message').fill('Typed in Chromium.');
  await page.screenshot({ path: join(SHOTS, 'webmail-compose.png') });
  await dialog.getByRole('button', { name: 'Send' }).click();
  await dialog.waitFor({ state: 'detached' });
  await list.getByText('Sent from the browser').waitFor({ timeout: 15000 });
  assert.match((await list.getByRole('option').filter({ hasText: 'Sent from the browser' }).textContent()) ?? '', /sales@example\.org/, 'sent from the chosen identity');
  await folders.getByRole('link', { name: 'Sent' }).click();
  await list.getByText('Sent from the browser').waitFor();
  await folders.getByRole('link', { name: 'INBOX' }).click();
  await list.getByText('Plain message 29', { exact: true }).waitFor();

  // Live: an IMAP client appends a message; it shows within a second, without reloading.
  const imap = new ImapFlow({ host: '127.0.0.1', port: m.ports.imap!, secure: false, auth: { user: ALICE, pass: PASS }, logger: false, tls: { rejectUnauthorized: false } });
  await imap.connect();
  t.after(() => imap.logout().catch(() => undefined));
  const scraped = await (await fetch(`${url}/metrics`)).text();
  assert.ok(Number(/^mailroom_open_connections\{protocol="imap"\} (\d+)/m.exec(scraped)?.[1] ?? 0) >= 1, 'the open IMAP connection is counted');
  assert.match(scraped, /^mailroom_commands_total\{protocol="imap",command="CAPABILITY",result="OK"\} [1-9]/m, 'IMAP commands are counted');
  assert.match(scraped, /^mailroom_store_latency_seconds_count\{op="sqlite"\} [1-9]/m, 'store operations are timed');
  const started = Date.now();
  await imap.append('INBOX', message(50, 'Arrived over IMAP', 'live'));
  await list.getByText('Arrived over IMAP').waitFor({ timeout: 5000 });
  const liveMs = Date.now() - started;
  assert.ok(liveMs < 1000, `live update took ${liveMs} ms`);
  await page.screenshot({ path: join(SHOTS, 'webmail.png') });

  // Keyboard: j moves the selection, o opens, # deletes (moves to Trash).
  await page.locator('body').click({ position: { x: 5, y: 790 } });
  await page.keyboard.press('j');
  await page.keyboard.press('o');
  await page.getByRole('heading', { name: 'Arrived over IMAP' }).waitFor();
  await page.keyboard.press('j');
  await page.keyboard.press('o');
  await page.getByRole('heading', { name: 'Sent from the browser' }).waitFor();
  await page.keyboard.press('#');
  await list.getByText('Sent from the browser').waitFor({ state: 'detached' });
  await folders.getByRole('link', { name: 'Trash' }).click();
  await list.getByText('Sent from the browser').waitFor();
  await folders.getByRole('link', { name: 'INBOX' }).click();

  // Reply: the dialog starts with the sender, "Re:" and the quoted text.
  await list.getByText('Plain message 29', { exact: true }).click();
  await page.getByRole('heading', { name: 'Plain message 29' }).waitFor();
  await page.getByRole('button', { name: 'Reply', exact: true }).click();
  assert.equal(await dialog.getByLabel('To').inputValue(), 'Sender 29 <sender29@example.net>');
  assert.equal(await dialog.getByLabel('Subject').inputValue(), 'Re: Plain message 29');
  assert.match(await dialog.getByLabel('Message').inputValue(), /^> Hello number 29\.$/m);
  await dialog.getByRole('button', { name: 'Close' }).click();

  // Drag a message onto a folder: it moves there.
  await list.getByText('Plain message 28', { exact: true }).dragTo(folders.getByRole('link', { name: 'Archive' }));
  await list.getByText('Plain message 28', { exact: true }).waitFor({ state: 'detached' });
  const archive = (await m.store.mail.getMailbox(alice.id, 'Archive'))!;
  assert.equal((await m.store.mail.listMessages(archive.id)).length, 1);

  // Multi-select: two checked messages marked as spam at once go to Junk.
  await list.getByRole('checkbox', { name: 'Select Plain message 25' }).check();
  await list.getByRole('checkbox', { name: 'Select Plain message 26' }).check();
  await page.getByRole('button', { name: 'Mark as spam' }).click();
  await list.getByText('Plain message 25', { exact: true }).waitFor({ state: 'detached' });
  await list.getByText('Plain message 26', { exact: true }).waitFor({ state: 'detached' });
  const junk = (await m.store.mail.getMailbox(alice.id, 'Junk'))!;
  assert.equal((await m.store.mail.listMessages(junk.id)).length, 2);

  // Search (server-side, Email/query text filter).
  await page.getByRole('searchbox', { name: 'Search' }).fill('Hostile');
  await page.getByRole('searchbox', { name: 'Search' }).press('Enter');
  await list.getByText('Plain message 27', { exact: true }).waitFor({ state: 'detached' });
  // The list empties while the query runs: count the rows once the result is painted.
  await list.getByText('Hostile HTML').waitFor();
  assert.equal(await list.getByRole('option').count(), 1);
  await folders.getByRole('link', { name: 'INBOX' }).click();
  await list.getByText('Plain message 27', { exact: true }).waitFor();

  // Conversations: three messages of one thread are one row when grouped; the reading pane shows all three.
  const reply = (n: number, parent: number[]) =>
    message(n, 'Re: Thread start', `Reply number ${n}.`, `In-Reply-To: <m${parent.at(-1)}@example.net>\r\nReferences: ${parent.map((p) => `<m${p}@example.net>`).join(' ')}\r\nContent-Type: text/plain\r\n`);
  await m.store.mail.append(inbox.id, message(60, 'Thread start', 'First in thread.'));
  await m.store.mail.append(inbox.id, reply(61, [60]));
  await m.store.mail.append(inbox.id, reply(62, [60, 61]));
  await list.getByText('Thread start', { exact: true }).waitFor();
  assert.equal(await list.getByRole('option').filter({ hasText: 'Thread start' }).count(), 3, 'one row per message before grouping');
  await page.getByRole('button', { name: 'Group by conversation' }).click();
  const threadRow = list.getByRole('option').filter({ has: page.getByLabel('3 messages in the conversation') });
  await threadRow.waitFor();
  assert.equal(await list.getByRole('option').filter({ hasText: 'Thread start' }).count(), 1, 'one row for the conversation');
  await threadRow.click();
  const conversation = page.getByRole('region', { name: 'Conversation' });
  await conversation.getByText('3 messages in this conversation').waitFor();
  await conversation.getByText('Reply number 62.').waitFor();
  await conversation.getByText('Sender 60', { exact: true }).click();
  await conversation.locator('pre').filter({ hasText: 'First in thread.' }).waitFor();
  await page.screenshot({ path: join(SHOTS, 'webmail-conversation.png') });
  await page.getByRole('button', { name: 'Group by conversation' }).click();
  await list.getByText('Thread start', { exact: true }).waitFor();

  // CSRF: the session cookie alone does not make an unsafe request.
  const status = await page.evaluate(async () => (await fetch('/api/tokens', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"name":"x"}' })).status);
  assert.equal(status, 403);

  // Settings page with the adviser.
  await page.goto(`${url}/settings`);
  await page.getByRole('heading', { name: 'POP3 or IMAP?' }).waitFor();

  // Rule editor: mail from the vendor goes to Archive, marked read; forwarding keeps a copy here.
  const filters = page.getByRole('region', { name: 'Filters' });
  await filters.getByRole('button', { name: 'Add rule' }).click();
  const rule = filters.getByRole('group', { name: 'Rule 1' });
  await rule.getByLabel('Rule name').fill('Vendor bills');
  await rule.getByRole('group', { name: 'Condition 1' }).getByLabel('Value').fill('billing@vendor.test');
  await rule.getByLabel('Folder', { exact: true }).selectOption('Archive');
  await rule.getByLabel('Mark as read').check();
  await filters.getByRole('button', { name: 'Save rules' }).click();
  await filters.getByText('Rules saved.').waitFor();
  const forwarding = page.getByRole('region', { name: 'Forwarding' });
  await forwarding.getByLabel('Forward my mail').check();
  await forwarding.getByLabel('Forward to address').fill('alice@forward.test');
  await forwarding.getByRole('button', { name: 'Save forwarding' }).click();
  await forwarding.getByText('Forwarding saved.').waitFor();
  await page.screenshot({ path: join(SHOTS, 'settings.png'), fullPage: true });
  // The rules read back from the script after a reload.
  await page.reload();
  assert.equal(await filters.getByRole('group', { name: 'Rule 1' }).getByLabel('Rule name').inputValue(), 'Vendor bills');
  assert.equal(await forwarding.getByLabel('Forward to address').inputValue(), 'alice@forward.test');
  const bill = Buffer.from(`From: Billing <billing@vendor.test>\r\nTo: ${ALICE}\r\nSubject: Invoice 42\r\nMessage-ID: <inv42@vendor.test>\r\n\r\nPlease pay.\r\n`);
  assert.match(await lmtpDeliver(m.ports.lmtp!, 'billing@vendor.test', ALICE, bill), /^250 /);
  const filed = (await m.store.mail.listMessages(archive.id)).length;
  assert.equal(filed, 2, 'the rule filed the delivered message into Archive');
  const deadline = Date.now() + 15000;
  while (!forwarded.some((f) => f.includes('Subject: Invoice 42')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  assert.ok(forwarded.some((f) => f.includes('Subject: Invoice 42')), 'forwarded to the remote address');

  // Administration, for an administrator.
  await m.store.directory.setAdmin(ALICE, true);
  await page.goto(`${url}/admin`);
  await page.getByRole('heading', { name: 'Users' }).waitFor();
  await page.getByRole('cell', { name: ALICE }).waitFor();
  await page.getByRole('img', { name: /^Open connections: / }).waitFor();
  await page.getByRole('img', { name: /^Deliveries per 5 s/ }).waitFor();
  await page.screenshot({ path: join(SHOTS, 'admin.png'), fullPage: true });

  // The session ends on the server (revoked as at expiry): the next action brings back the sign-in form.
  // The page is settled first: its push stream opens only after its start-up requests have answered.
  const streamOpen = page.waitForResponse((r) => r.url().includes('/eventsource') && r.status() === 200);
  await page.goto(url);
  await list.getByText('Arrived over IMAP').waitFor();
  await streamOpen;
  for (const tok of await m.store.tokens.list(alice.id)) await m.store.tokens.revoke(alice.id, tok.id);
  const answers: string[] = [];
  page.on('response', (r) => answers.push(`${r.status()} ${r.request().method()} ${new URL(r.url()).pathname}`));
  await folders.getByRole('link', { name: 'Sent' }).click();
  await page
    .getByRole('button', { name: 'Sign in' })
    .waitFor()
    .catch((e: Error) => {
      throw new Error(`${e.message}\nanswers after the revocation: ${answers.join(', ') || 'none'}\nconsole: ${consoleLines.slice(-10).join(' | ')}`);
    });
  assert.ok(answers.some((a) => a.startsWith('401 POST')), `the folder's request was refused: ${answers.join(', ')}`);
  t.diagnostic(`live update ${liveMs} ms`);
});
