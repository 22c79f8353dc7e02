/**
 * A small JMAP client (RFC 8620 core, RFC 8621 mail) for the webmail. Authentication is the session cookie;
 * every POST carries X-CSRF-Token from the mr_csrf cookie (the listener's double-submit check).
 */
export const MAIL = 'urn:ietf:params:jmap:mail';
export const SUBMISSION = 'urn:ietf:params:jmap:submission';
export const CORE = 'urn:ietf:params:jmap:core';

export interface JmapSession {
  apiUrl: string;
  downloadUrl: string;
  uploadUrl: string;
  eventSourceUrl: string;
  username: string;
  primaryAccounts: Record<string, string>;
  state: string;
}

export type Invocation = [string, Record<string, unknown>, string];

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export function csrfToken(): string {
  for (const part of document.cookie.split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === 'mr_csrf') return decodeURIComponent(v.join('='));
  }
  return '';
}

/** fetch with the CSRF header and JSON in/out; throws HttpError for non-2xx. */
export async function request<T>(method: string, url: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { 'X-CSRF-Token': csrfToken(), Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(url, { method, headers, credentials: 'same-origin', ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  const text = await res.text();
  let data: unknown = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (res.status === 401 && url !== '/api/session') dispatchEvent(new Event('mr-session-expired'));
  if (!res.ok) {
    const d = data as { error?: string; detail?: string } | null;
    throw new HttpError(res.status, d?.error ?? d?.detail ?? `HTTP ${res.status}`);
  }
  return data as T;
}

export class Jmap {
  session: JmapSession | null = null;
  accountId = '';
  #apiUrl = '';
  #sessionUrl = '/.well-known/jmap';
  #connecting: Promise<JmapSession> | null = null;
  /** The Mailbox and Email states the page shows (push compares with them). */
  readonly states: Record<string, string> = {};

  /** Known API URL and account (from the sign-in answer): calls need not wait for the session object. */
  preset(p: { sessionUrl: string; apiUrl: string; accountId: string }): void {
    this.#apiUrl = p.apiUrl;
    this.#sessionUrl = p.sessionUrl;
    this.accountId = p.accountId;
  }

  connect(): Promise<JmapSession> {
    this.#connecting ??= request<JmapSession>('GET', this.#sessionUrl).then((s) => {
      this.session = s;
      this.#apiUrl = s.apiUrl;
      this.accountId = s.primaryAccounts[MAIL] ?? Object.values(s.primaryAccounts)[0] ?? '';
      return s;
    });
    return this.#connecting;
  }

  /** One request with several method calls; answers in order. A method-level error throws. */
  async call(calls: Invocation[], using: string[] = [CORE, MAIL, SUBMISSION]): Promise<Array<Record<string, any>>> {
    if (!this.#apiUrl) await this.connect();
    const r = await request<{ methodResponses: Invocation[] }>('POST', this.#apiUrl, { using, methodCalls: calls });
    return r.methodResponses.map(([name, args]) => {
      if (name === 'error') throw new Error(`JMAP ${String(args.type)}${args.description ? `: ${String(args.description)}` : ''}`);
      // What the page shows: the folders as of Mailbox/get, the list as of Email/query. (Not Email/get: a
      // change committed after the list's query would then pass for one already shown.)
      if (name === 'Mailbox/get' && typeof args.state === 'string') this.states.Mailbox = args.state;
      if (name === 'Email/query' && typeof args.queryState === 'string') this.states.Email = args.queryState;
      return args;
    });
  }

  downloadUrl(blobId: string, name: string, type: string): string {
    return this.session!.downloadUrl.replace('{accountId}', encodeURIComponent(this.accountId))
      .replace('{blobId}', encodeURIComponent(blobId))
      .replace('{name}', encodeURIComponent(name))
      .replace('{type}', encodeURIComponent(type));
  }

  /** Uploads a file (RFC 8620 6.1) with progress; resolves to its blobId. */
  upload(file: Blob, onProgress?: (fraction: number) => void): Promise<{ blobId: string; size: number; type: string }> {
    const url = this.session!.uploadUrl.replace('{accountId}', encodeURIComponent(this.accountId));
    return new Promise((resolve, reject) => {
      const x = new XMLHttpRequest();
      x.open('POST', url);
      x.setRequestHeader('X-CSRF-Token', csrfToken());
      x.setRequestHeader('Content-Type', file.type || 'application/octet-stream');
      x.upload.onprogress = (e) => e.lengthComputable && onProgress?.(e.loaded / e.total);
      x.onload = () => (x.status >= 200 && x.status < 300 ? resolve(JSON.parse(x.responseText)) : reject(new HttpError(x.status, 'upload failed')));
      x.onerror = () => reject(new Error('upload failed'));
      x.send(file);
    });
  }

  /**
   * Push (RFC 8620 7.3): calls onChange when a StateChange carries a Mailbox or Email state other than the
   * one the page shows (the server sends the current states when the stream opens, which usually are the
   * ones the page just read). Returns a function that closes it.
   */
  listen(onChange: () => void): () => void {
    const url = this.session!.eventSourceUrl.replace('{types}', 'Mailbox,Email').replace('{closeafter}', 'no').replace('{ping}', '30');
    const es = new EventSource(url, { withCredentials: true });
    es.addEventListener('state', (ev) => {
      let changed: Record<string, string> = {};
      try {
        changed = (JSON.parse((ev as MessageEvent<string>).data) as { changed: Record<string, Record<string, string>> }).changed[this.accountId] ?? {};
      } catch {
        return onChange();
      }
      const news = ['Mailbox', 'Email'].filter((t) => changed[t] !== undefined && changed[t] !== this.states[t]);
      if (news.length) onChange();
    });
    return () => es.close();
  }
}

export interface Mailbox {
  id: string;
  name: string;
  parentId: string | null;
  role: string | null;
  sortOrder: number;
  totalEmails: number;
  unreadEmails: number;
}

export interface EmailAddress {
  name: string | null;
  email: string;
}

export interface EmailSummary {
  id: string;
  threadId: string;
  mailboxIds: Record<string, boolean>;
  keywords: Record<string, boolean>;
  from: EmailAddress[] | null;
  to: EmailAddress[] | null;
  subject: string | null;
  receivedAt: string;
  hasAttachment: boolean;
  size: number;
}

export interface BodyPart {
  partId: string;
  blobId: string;
  size: number;
  name: string | null;
  type: string;
  disposition: string | null;
  cid: string | null;
}

export interface EmailFull extends EmailSummary {
  preview: string;
  cc: EmailAddress[] | null;
  replyTo: EmailAddress[] | null;
  messageId: string[] | null;
  references: string[] | null;
  sentAt: string | null;
  textBody: BodyPart[];
  htmlBody: BodyPart[];
  attachments: BodyPart[];
  bodyValues: Record<string, { value: string; isTruncated?: boolean }>;
}

/** What a list row shows (no preview: the server would extract it from every message body). */
export const SUMMARY_PROPS = ['id', 'threadId', 'mailboxIds', 'keywords', 'from', 'to', 'subject', 'receivedAt', 'hasAttachment', 'size'];
export const FULL_PROPS = [...SUMMARY_PROPS, 'preview', 'cc', 'replyTo', 'messageId', 'references', 'sentAt', 'textBody', 'htmlBody', 'attachments', 'bodyValues'];

export function formatAddress(a: EmailAddress): string {
  return a.name ? `${a.name} <${a.email}>` : a.email;
}

/** "Ann <a@x>, b@y" -> addresses; tolerant of spaces and missing names. */
export function parseAddresses(s: string): EmailAddress[] {
  const out: EmailAddress[] = [];
  for (const raw of s.split(/[,;](?=(?:[^"]*"[^"]*")*[^"]*$)/)) {
    const t = raw.trim();
    if (!t) continue;
    const m = /^(.*)<([^<>\s]+@[^<>\s]+)>$/.exec(t);
    if (m) out.push({ name: m[1]!.trim().replace(/^"|"$/g, '') || null, email: m[2]! });
    else out.push({ name: null, email: t });
  }
  return out;
}
