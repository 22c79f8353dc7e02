/**
 * Settings: password, app tokens, filters (rule editor, forwarding and raw Sieve: filters.tsx), vacation reply, quota, mail client settings and the
 * "POP3 or IMAP?" adviser (the same rules as `mailroom client advise`).
 */
import { useEffect, useState } from 'preact/hooks';
import { request } from './jmap';
import { Head, Section, TopBar, useStatus, type Me } from './common';
import { Filters } from './filters';
import { advise, type AdviceAnswers } from '../../client/advise';

function Password() {
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [status, run] = useStatus();
  return (
    <Section title="Password">
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void run(request('POST', '/api/password', { current, next }), 'Password changed.');
        }}
      >
        <label>
          Current password <input type="password" autoComplete="current-password" value={current} onInput={(e) => setCurrent(e.currentTarget.value)} />
        </label>
        <label>
          New password <input type="password" autoComplete="new-password" minLength={8} value={next} onInput={(e) => setNext(e.currentTarget.value)} />
        </label>
        <button type="submit">Change password</button>
        <p role="status">{status}</p>
      </form>
    </Section>
  );
}

interface Token {
  id: string;
  name: string;
  createdAt: string | null;
}

function Tokens() {
  const [tokens, setTokens] = useState<Token[]>([]);
  const [name, setName] = useState('');
  const [secret, setSecret] = useState('');
  const [status, run] = useStatus();
  const load = () => request<{ tokens: Token[] }>('GET', '/api/tokens').then((r) => setTokens(r.tokens), () => undefined);
  useEffect(() => void load(), []);
  return (
    <Section title="App tokens">
      <p>An app token is a password for one mail client (IMAP, POP3, SMTP or JMAP). Revoke it when the device is gone.</p>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void run(
            request<{ secret: string }>('POST', '/api/tokens', { name }).then((r) => {
              setSecret(r.secret);
              setName('');
              return load();
            }),
            'Token created; copy it now, it is shown once.',
          );
        }}
      >
        <label>
          Token name <input value={name} onInput={(e) => setName(e.currentTarget.value)} />
        </label>
        <button type="submit">Create token</button>
      </form>
      {secret && <pre class="secret">{secret}</pre>}
      <p role="status">{status}</p>
      <ul>
        {tokens.map((t) => (
          <li key={t.id}>
            {t.name} <button type="button" onClick={() => void run(request('DELETE', `/api/tokens/${encodeURIComponent(t.id)}`).then(load), 'Token revoked.')}>Revoke {t.name}</button>
          </li>
        ))}
      </ul>
    </Section>
  );
}

function Vacation() {
  const [v, setV] = useState({ enabled: false, subject: '', textBody: '', fromDate: '', toDate: '' });
  const [status, run] = useStatus();
  useEffect(
    () =>
      void request<{ enabled: boolean; subject: string; textBody: string; fromDate?: string | null; toDate?: string | null }>('GET', '/api/vacation').then(
        (r) => setV({ enabled: r.enabled, subject: r.subject, textBody: r.textBody, fromDate: r.fromDate?.slice(0, 10) ?? '', toDate: r.toDate?.slice(0, 10) ?? '' }),
        () => undefined,
      ),
    [],
  );
  return (
    <Section title="Vacation reply">
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void run(request('PUT', '/api/vacation', { ...v, fromDate: v.fromDate || null, toDate: v.toDate || null }), 'Vacation reply saved.');
        }}
      >
        <label class="inline">
          <input type="checkbox" checked={v.enabled} onChange={(e) => setV({ ...v, enabled: e.currentTarget.checked })} /> Send a vacation reply
        </label>
        <label>
          From <input type="date" value={v.fromDate} onInput={(e) => setV({ ...v, fromDate: e.currentTarget.value })} />
        </label>
        <label>
          Until <input type="date" value={v.toDate} onInput={(e) => setV({ ...v, toDate: e.currentTarget.value })} />
        </label>
        <label>
          Reply subject <input value={v.subject} onInput={(e) => setV({ ...v, subject: e.currentTarget.value })} />
        </label>
        <label>
          Reply text <textarea rows={5} value={v.textBody} onInput={(e) => setV({ ...v, textBody: e.currentTarget.value })} />
        </label>
        <button type="submit">Save vacation reply</button>
        <p role="status">{status}</p>
      </form>
    </Section>
  );
}

function Quota() {
  const [q, setQ] = useState<{ usage: { storage: number; messages: number }; limits: { storage: number | null; messages: number | null } } | null>(null);
  useEffect(() => void request<NonNullable<typeof q>>('GET', '/api/quota').then(setQ, () => undefined), []);
  if (!q) return null;
  const mb = (n: number) => `${(n / 1048576).toFixed(1)} MB`;
  return (
    <Section title="Storage">
      <p>
        {mb(q.usage.storage)} used{q.limits.storage !== null ? ` of ${mb(q.limits.storage)}` : ''}; {q.usage.messages} messages
        {q.limits.messages !== null ? ` of ${q.limits.messages}` : ''}.
      </p>
      {q.limits.storage ? <progress aria-label="Storage used" value={q.usage.storage} max={q.limits.storage} /> : null}
    </Section>
  );
}

interface Listener {
  name: string;
  port: number;
  tls: string;
}

function Clients({ me }: { me: Me }) {
  const [s, setS] = useState<{ hostname: string; listeners: Listener[] } | null>(null);
  useEffect(() => void request<NonNullable<typeof s>>('GET', '/api/client-settings').then(setS, () => undefined), []);
  if (!s) return null;
  const tls = (t: string) => (t === 'implicit' ? 'SSL/TLS' : t === 'starttls' ? 'STARTTLS' : 'none');
  return (
    <Section title="Mail clients">
      <p>
        Thunderbird and most phones set themselves up from your address. Otherwise use server <strong>{s.hostname}</strong>, user name{' '}
        <strong>{me.address}</strong> and your password (or an app token):
      </p>
      <table>
        <Head cols={['Service', 'Port', 'Security']} />
        <tbody>
          {s.listeners
            .filter((l) => l.name !== 'lmtp' && l.name !== 'smtp')
            .map((l) => (
              <tr key={l.name}>
                <td>{l.name}</td>
                <td>{l.port}</td>
                <td>{tls(l.tls)}</td>
              </tr>
            ))}
        </tbody>
      </table>
      <p>
        <a href={`/apple/mobileconfig?email=${encodeURIComponent(me.address)}`}>Apple Mail profile (iPhone, iPad, Mac)</a>
      </p>
    </Section>
  );
}

function Adviser() {
  const [a, setA] = useState<AdviceAnswers>({ devices: 2, reliable: true, limitedServerStorage: false, limitedLocalStorage: false, serverBackups: true });
  const r = advise(a);
  const box = (key: keyof AdviceAnswers, label: string) => (
    <label class="inline">
      <input type="checkbox" checked={a[key] as boolean} onChange={(e) => setA({ ...a, [key]: e.currentTarget.checked })} /> {label}
    </label>
  );
  return (
    <Section title="POP3 or IMAP?">
      <label>
        Devices that read this mailbox <input type="number" min={1} max={50} value={a.devices} onInput={(e) => setA({ ...a, devices: Math.max(1, Number(e.currentTarget.value) || 1) })} />
      </label>
      {box('reliable', 'My connection is reliable')}
      {box('limitedServerStorage', 'Storage on the server is limited')}
      {box('limitedLocalStorage', 'Storage on my device is limited')}
      {box('serverBackups', 'The server mailbox is backed up')}
      <p role="status">
        Use <strong>{r.protocol === 'imap' ? 'IMAP' : 'POP3'}</strong>.
      </p>
      <ul>
        {r.reasons.map((x) => (
          <li key={x}>{x}</li>
        ))}
      </ul>
    </Section>
  );
}

export function Settings({ me }: { me: Me }) {
  return (
    <div class="page">
      <TopBar me={me} title="mailroom" />
      <main>
        <h1>Settings</h1>
        <Password />
        <Tokens />
        <Filters />
        <Vacation />
        <Quota />
        <Clients me={me} />
        <Adviser />
      </main>
    </div>
  );
}
