/**
 * Sending through an account's SMTP submission server (RFC 6409) and keeping a copy in Sent.
 *
 * Contract: the envelope comes from the From/To/Cc/Bcc fields (RFC 5322 section 3.6.3); Bcc is removed from
 * the transmitted header, the rest of the message goes out byte for byte. The copy is saved only after
 * the server accepted the message: POP3 accounts into the local Sent folder (indexed, \Seen), IMAP accounts
 * by APPEND to the server's \Sent folder (RFC 6154; "Sent", created if missing). Throws ClientError CONFIG
 * (no SMTP settings, no From, no recipients) or the classified network/server failure.
 */
import nodemailer from 'nodemailer';
import type { ImapFlow } from 'imapflow';
import { parseAddressList } from '../mime/index.js';
import { ClientError, classifyError } from './errors.js';
import type { AccountConfig } from './store/state.js';
import { openImap } from './imap/connect.js';
import { summaryFromRaw, parseDate } from './summary.js';
import { accountCa, accountPassword, type EngineContext } from './context.js';

export interface SendResult {
  accepted: string[];
  rejected: string[];
  savedTo: string;
  messageId: string | null;
}

export async function sendMessage(ctx: EngineContext, a: AccountConfig, message: Buffer): Promise<SendResult> {
  if (!a.smtp) throw new ClientError('CONFIG', `account ${a.name} has no SMTP settings: add it with --smtp-host H [--smtp-port N] [--smtp-tls|--smtp-starttls]`);
  const { header, body } = splitHeader(message);
  const fields = headerFields(header);
  const addrs = (name: string): string[] =>
    fields
      .filter((f) => f.name === name)
      .flatMap((f) => parseAddressList(f.value) ?? [])
      .filter((x) => x.mailbox && x.host)
      .map((x) => `${x.mailbox}@${x.host}`);
  const from = addrs('from')[0];
  const rcpts = [...new Set([...addrs('to'), ...addrs('cc'), ...addrs('bcc')])];
  if (!from) throw new ClientError('CONFIG', 'the message has no From: address');
  if (!rcpts.length) throw new ClientError('CONFIG', 'the message has no To:, Cc: or Bcc: recipients');
  const transmitted = Buffer.concat([stripHeader(header, 'bcc'), body]);
  const password = await accountPassword(ctx, a);
  const ca = accountCa(a);
  const transport = nodemailer.createTransport({
    host: a.smtp.host,
    port: a.smtp.port,
    secure: a.smtp.security === 'tls',
    requireTLS: a.smtp.security === 'starttls',
    ignoreTLS: a.smtp.security === 'plain',
    auth: { user: a.user, pass: password },
    tls: { ...(ca ? { ca: [ca] } : {}) },
    connectionTimeout: 30_000,
  });
  let info: { accepted: Array<string | { address: string }>; rejected: Array<string | { address: string }> };
  try {
    info = (await transport.sendMail({ envelope: { from, to: rcpts }, raw: transmitted })) as typeof info;
  } catch (e) {
    throw classifyError(e, `${a.smtp.host}:${a.smtp.port}`);
  } finally {
    transport.close();
  }
  const norm = (l: Array<string | { address: string }>): string[] => l.map((x) => (typeof x === 'string' ? x : x.address));
  const savedTo = await saveSent(ctx, a, password, transmitted);
  const { summary } = summaryFromRaw(transmitted);
  return { accepted: norm(info.accepted), rejected: norm(info.rejected), savedTo, messageId: summary.messageId };
}

/** Saves the sent copy; returns where it went ("Sent (local)" or the server folder's path). */
async function saveSent(ctx: EngineContext, a: AccountConfig, password: string, raw: Buffer): Promise<string> {
  if (a.protocol === 'pop3') {
    const dir = ctx.localFolder('Sent');
    const file = dir.deliver(raw, { flags: ['\\Seen'] });
    const { summary } = summaryFromRaw(raw);
    ctx.state.insertMessage({
      account: a.name,
      folder: 'Sent',
      uid: null,
      uidl: null,
      messageId: summary.messageId,
      flags: ['\\Seen'],
      summary,
      internalDate: parseDate(summary.date, ctx.now()),
      size: raw.length,
      maildir: dir.root,
      fileKey: file.key,
      filePath: file.path,
      bodyCached: true,
      cachedAt: ctx.now(),
    });
    return 'Sent (local)';
  }
  const ca = accountCa(a);
  const client: ImapFlow = await openImap({ account: a, password, ...(ca ? { ca } : {}) });
  try {
    const listed = await client.list();
    const sent = listed.find((l) => l.specialUse === '\\Sent')?.path ?? 'Sent';
    if (!listed.some((l) => l.path === sent)) await client.mailboxCreate(sent);
    await client.append(sent, raw, ['\\Seen']);
    await client.logout().catch(() => undefined);
    return sent;
  } catch (e) {
    client.close();
    throw classifyError(e, `${a.host}:${a.port}`);
  }
}

function splitHeader(raw: Buffer): { header: Buffer; body: Buffer } {
  const crlf = raw.indexOf('\r\n\r\n');
  const lf = raw.indexOf('\n\n');
  if (crlf >= 0 && (lf < 0 || crlf < lf)) return { header: raw.subarray(0, crlf + 2), body: raw.subarray(crlf + 2) };
  if (lf >= 0) return { header: raw.subarray(0, lf + 1), body: raw.subarray(lf + 1) };
  return { header: raw, body: Buffer.alloc(0) };
}

function headerFields(header: Buffer): Array<{ name: string; value: string }> {
  const out: Array<{ name: string; value: string }> = [];
  for (const line of header.toString('utf8').split(/\r?\n/)) {
    if (/^[ \t]/.test(line) && out.length) (out[out.length - 1] as { value: string }).value += ' ' + line.trim();
    else {
      const i = line.indexOf(':');
      if (i > 0) out.push({ name: line.slice(0, i).trim().toLowerCase(), value: line.slice(i + 1).trim() });
    }
  }
  return out;
}

/** Removes every occurrence of one header field (with its continuation lines). */
function stripHeader(header: Buffer, name: string): Buffer {
  const lines = header.toString('latin1').split(/(?<=\n)/);
  const out: string[] = [];
  let skipping = false;
  for (const l of lines) {
    if (/^[ \t]/.test(l)) {
      if (!skipping) out.push(l);
      continue;
    }
    skipping = l.toLowerCase().startsWith(name + ':');
    if (!skipping) out.push(l);
  }
  return Buffer.from(out.join(''), 'latin1');
}
