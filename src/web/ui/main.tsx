/** The web interface's entry: sign-in, then the webmail (/), settings (/settings) or administration (/admin). */
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { HttpError, request } from './jmap';
import { MailApp, startMail, type MailStart } from './mail';
import { Settings } from './settings';
import { Admin } from './admin';
import { type Me } from './common';
import './app.css';


function SignIn({ onSignedIn }: { onSignedIn: (me: Me) => void }) {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError('');
    try {
      onSignedIn(await request<Me>('POST', '/api/session', { email, password }));
    } catch (err) {
      setError(err instanceof HttpError && err.status === 401 ? 'Wrong email address or password.' : (err as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="signin">
      <form onSubmit={submit} aria-labelledby="signin-title">
        <h1 id="signin-title">mailroom</h1>
        <label>
          Email address
          <input type="email" name="email" autoComplete="username" required value={email} onInput={(e) => setEmail(e.currentTarget.value)} />
        </label>
        <label>
          Password
          <input type="password" name="password" autoComplete="current-password" required value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
        </label>
        {error && (
          <p role="alert" class="error">
            {error}
          </p>
        )}
        <button type="submit" disabled={busy}>
          Sign in
        </button>
      </form>
    </main>
  );
}

/** On the webmail page, the mail requests start with the sign-in answer, before the webmail renders. */
function isMailPage(): boolean {
  return location.pathname !== '/admin' && !location.pathname.startsWith('/settings');
}

function App() {
  const [me, setMeOnly] = useState<Me | null | undefined>(undefined);
  const [start, setStart] = useState<MailStart | undefined>(undefined);
  const setMe = (m: Me | null) => {
    setStart(m && isMailPage() ? startMail(m) : undefined);
    setMeOnly(m);
  };
  useEffect(() => {
    request<Me>('GET', '/api/session').then(setMe, () => setMe(null));
  }, []);
  // Any API call answering 401 (the session expired) brings the sign-in form back.
  useEffect(() => {
    const onExpired = () => setMe(null);
    addEventListener('mr-session-expired', onExpired);
    return () => removeEventListener('mr-session-expired', onExpired);
  }, []);
  if (me === undefined) return <p class="loading">Loading…</p>;
  if (me === null) return <SignIn onSignedIn={setMe} />;
  const path = location.pathname;
  if (path === '/admin') return me.admin ? <Admin me={me} /> : <p role="alert">Administrators only.</p>;
  if (path.startsWith('/settings')) return <Settings me={me} />;
  return <MailApp me={me} start={start} />;
}

render(<App />, document.getElementById('app')!);
