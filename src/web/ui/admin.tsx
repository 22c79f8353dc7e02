/** Administration (/admin): status, users, domains with their DNS records, aliases, the outbound queue. */
import { useEffect, useState } from 'preact/hooks';
import { request } from './jmap';
import { Head, TopBar, type Me } from './common';
import { LineChart } from './charts';

interface UserRow {
  address: string;
  admin: boolean;
  quota: { usage: { storage: number; messages: number } } | null;
}
interface Domain {
  name: string;
  records: Array<{ kind: string; zone: string }>;
}
interface Queued {
  id: string;
  sender: string;
  recipients: string[];
  attempts: number;
  lastError: string | null;
  nextAttemptAt: string;
}
interface Status {
  hostname: string;
  uptimeSeconds: number;
  listeners: Array<{ name: string; port: number; tls: string }>;
  connections: Record<string, number>;
  queueLength: number;
  users: number;
  storageUsed: number;
  deliveriesPerMinute: number;
  history: { intervalSeconds: number; samples: Array<{ t: number; connections: Record<string, number>; deliveries: number; queue: number; storage: number }> };
}

/** The last hour: connections per protocol, deliveries, queue length and storage. */
function StatusCharts({ s }: { s: Status }) {
  const h = s.history.samples;
  const protocols = [...new Set(h.flatMap((x) => Object.keys(x.connections)))].sort();
  const mb = (n: number) => `${(n / 1048576).toFixed(1)} MB`;
  return (
    <div class="charts">
      <LineChart title="Open connections" series={protocols.map((p) => ({ name: p, values: h.map((x) => x.connections[p] ?? 0) }))} />
      <LineChart title={`Deliveries per ${s.history.intervalSeconds} s`} series={[{ name: 'delivered', values: h.map((x) => x.deliveries) }]} />
      <LineChart title="Queue length" series={[{ name: 'queued', values: h.map((x) => x.queue) }]} />
      <LineChart title="Storage" series={[{ name: 'stored', values: h.map((x) => x.storage) }]} format={mb} />
    </div>
  );
}

export function Admin({ me }: { me: Me }) {
  const [status, setStatus] = useState<Status | null>(null);
  const [users, setUsers] = useState<UserRow[]>([]);
  const [domains, setDomains] = useState<Domain[]>([]);
  const [aliases, setAliases] = useState<Array<{ from: string; to: string }>>([]);
  const [queue, setQueue] = useState<Queued[]>([]);
  const [msg, setMsg] = useState('');
  const [newUser, setNewUser] = useState('');
  const [newDomain, setNewDomain] = useState('');
  const [alias, setAlias] = useState({ from: '', to: '' });
  const [logFilter, setLogFilter] = useState('');
  const [log, setLog] = useState<Array<{ time: string; level: string; msg: string; fields: string }>>([]);
  const loadLog = (filter: string) =>
    request<{ lines: typeof log }>('GET', `/api/admin/log?limit=100&filter=${encodeURIComponent(filter)}`).then((r) => setLog(r.lines), () => undefined);
  useEffect(() => void loadLog(''), []);

  const load = async () => {
    const [s, u, d, a, q] = await Promise.all([
      request<Status>('GET', '/api/admin/status'),
      request<{ users: UserRow[] }>('GET', '/api/admin/users'),
      request<{ domains: Domain[] }>('GET', '/api/admin/domains'),
      request<{ aliases: Array<{ from: string; to: string }> }>('GET', '/api/admin/aliases'),
      request<{ queue: Queued[] }>('GET', '/api/admin/queue'),
    ]);
    setStatus(s);
    setUsers(u.users);
    setDomains(d.domains);
    setAliases(a.aliases);
    setQueue(q.queue);
  };
  useEffect(() => {
    void load().catch((e: Error) => setMsg(e.message));
    const t = setInterval(() => void load().catch(() => undefined), 10_000);
    return () => clearInterval(t);
  }, []);
  const act = async (p: Promise<unknown>, ok: (r: any) => string) => {
    try {
      setMsg(ok(await p));
      await load();
    } catch (e) {
      setMsg((e as Error).message);
    }
  };
  const u = (a: string) => `/api/admin/users/${encodeURIComponent(a)}`;

  return (
    <div class="page">
      <TopBar me={me} title="mailroom admin" />
      <main>
        <h1>Administration</h1>
        <p role="status">{msg}</p>
        {status && (
          <section class="card" aria-labelledby="a-status">
            <h2 id="a-status">Status</h2>
            <p>
              {status.hostname}: up {Math.round(status.uptimeSeconds / 60)} min, {status.users} users, {status.queueLength} queued,{' '}
              {(status.storageUsed / 1048576).toFixed(1)} MB stored.
            </p>
            <p>
              Listeners: {status.listeners.map((l) => `${l.name} ${l.port} (${l.tls})`).join(', ')}. Open connections:{' '}
              {Object.entries(status.connections).map(([k, v]) => `${k} ${v}`).join(', ') || 'none'}. Deliveries in the last minute:{' '}
              {status.deliveriesPerMinute}.
            </p>
            <StatusCharts s={status} />
          </section>
        )}
        <section class="card" aria-labelledby="a-users">
          <h2 id="a-users">Users</h2>
          <form
            onSubmit={(e) => {
              e.preventDefault();
              void act(request('POST', '/api/admin/users', { address: newUser }), (r) => `Created ${r.address}; password: ${r.password}`);
            }}
          >
            <label>
              New user address <input type="email" value={newUser} onInput={(e) => setNewUser(e.currentTarget.value)} />
            </label>
            <button type="submit">Create user</button>
          </form>
          <table>
            <Head cols={['Address', 'Storage', 'Role', 'Actions']} />
            <tbody>
              {users.map((x) => (
                <tr key={x.address}>
                  <td>{x.address}</td>
                  <td>{x.quota ? `${(x.quota.usage.storage / 1048576).toFixed(1)} MB, ${x.quota.usage.messages} msgs` : ''}</td>
                  <td>{x.admin ? 'admin' : 'user'}</td>
                  <td>
                    <button type="button" onClick={() => void act(request('POST', `${u(x.address)}/password`, {}), (r) => `New password for ${x.address}: ${r.password}`)}>
                      Reset password
                    </button>{' '}
                    <button type="button" onClick={() => void act(request('POST', `${u(x.address)}/admin`, { admin: !x.admin }), () => 'Role changed.')}>
                      {x.admin ? 'Revoke admin' : 'Make admin'}
                    </button>{' '}
                    <button type="button" onClick={() => confirm(`Delete ${x.address} and all their mail?`) && void act(request('DELETE', u(x.address)), () => `Deleted ${x.address}.`)}>
                      Delete user
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
        <section class="card" aria-labelledby="a-domains">
          <h2 id="a-domains">Domains</h2>
          <form
            onSubmit={(e) => {
              e.preventDefault();
              void act(request('POST', '/api/admin/domains', { name: newDomain }), () => `Added ${newDomain}.`);
            }}
          >
            <label>
              New domain <input value={newDomain} onInput={(e) => setNewDomain(e.currentTarget.value)} />
            </label>
            <button type="submit">Add domain</button>
          </form>
          {domains.map((d) => (
            <details key={d.name}>
              <summary>{d.name}</summary>
              <pre>{d.records.map((r) => r.zone).join('\n')}</pre>
            </details>
          ))}
        </section>
        <section class="card" aria-labelledby="a-aliases">
          <h2 id="a-aliases">Aliases</h2>
          <form
            onSubmit={(e) => {
              e.preventDefault();
              void act(request('POST', '/api/admin/aliases', alias), () => 'Alias saved.');
            }}
          >
            <label>
              Alias <input value={alias.from} onInput={(e) => setAlias({ ...alias, from: e.currentTarget.value })} />
            </label>
            <label>
              Delivers to <input value={alias.to} onInput={(e) => setAlias({ ...alias, to: e.currentTarget.value })} />
            </label>
            <button type="submit">Add alias</button>
          </form>
          <ul>
            {aliases.map((a) => (
              <li key={a.from}>
                {a.from} → {a.to}{' '}
                <button type="button" onClick={() => void act(request('DELETE', `/api/admin/aliases/${encodeURIComponent(a.from)}`), () => 'Alias removed.')}>
                  Remove {a.from}
                </button>
              </li>
            ))}
          </ul>
        </section>
        <section class="card" aria-labelledby="a-queue">
          <h2 id="a-queue">Outbound queue</h2>
          {queue.length === 0 ? (
            <p>Empty.</p>
          ) : (
            <table>
              <Head cols={['From', 'To', 'Attempts', 'Last error', 'Actions']} />
              <tbody>
                {queue.map((m) => (
                  <tr key={m.id}>
                    <td>{m.sender || '<>'}</td>
                    <td>{m.recipients.join(', ')}</td>
                    <td>{m.attempts}</td>
                    <td>{m.lastError ?? ''}</td>
                    <td>
                      <button type="button" onClick={() => void act(request('POST', `/api/admin/queue/${m.id}/retry`), () => 'Retrying.')}>Retry</button>{' '}
                      <button type="button" onClick={() => void act(request('POST', `/api/admin/queue/${m.id}/bounce`), () => 'Bounced.')}>Bounce</button>{' '}
                      <button type="button" onClick={() => void act(request('DELETE', `/api/admin/queue/${m.id}`), () => 'Deleted.')}>Delete</button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </section>
        <section class="card" aria-labelledby="a-log">
          <h2 id="a-log">Recent log</h2>
          <form
            role="search"
            onSubmit={(e) => {
              e.preventDefault();
              void loadLog(logFilter);
            }}
          >
            <input type="search" aria-label="Filter log lines" value={logFilter} onInput={(e) => setLogFilter(e.currentTarget.value)} />
          </form>
          <pre class="log">{log.map((l) => `${l.time} ${l.level.toUpperCase()} ${l.msg} ${l.fields}`).join('\n')}</pre>
        </section>
      </main>
    </div>
  );
}
