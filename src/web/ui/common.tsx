/** Pieces shared by the pages: who is signed in, signing out, the top bar, table headers. */
import { useState } from 'preact/hooks';
import type { ComponentChildren } from 'preact';
import { request } from './jmap';

export interface Me {
  address: string;
  admin: boolean;
  /** Where JMAP is, so the webmail's first request needs no session round trip (see Jmap.preset). */
  jmap?: { sessionUrl: string; apiUrl: string; accountId: string };
  /** The INBOX mailbox id, so folders and the first page of INBOX are one request. */
  inboxId?: string | null;
}

export async function signOut(): Promise<void> {
  await request('DELETE', '/api/session').catch(() => undefined);
  location.href = '/';
}

/** The bar at the top of the settings and admin pages. */
export function TopBar({ me, title }: { me: Me; title: string }) {
  return (
    <header class="top">
      <strong class="brand">{title}</strong>
      <a href="/">Mail</a>
      <span class="who">{me.address}</span>
      <button type="button" onClick={() => void signOut()}>
        Sign out
      </button>
    </header>
  );
}

/** A table header row. */
export function Head({ cols }: { cols: string[] }) {
  return (
    <thead>
      <tr>
        {cols.map((c) => (
          <th key={c}>{c}</th>
        ))}
      </tr>
    </thead>
  );
}


/** A titled card of the settings page. */
export function Section({ title, children }: { title: string; children: ComponentChildren }) {
  const id = `s-${title.toLowerCase().replace(/\W+/g, '-')}`;
  return (
    <section aria-labelledby={id} class="card">
      <h2 id={id}>{title}</h2>
      {children}
    </section>
  );
}

/** A status line and a runner that shows `ok` or the error of a promise. */
export function useStatus(): [string, (p: Promise<unknown>, ok: string) => Promise<void>] {
  const [s, setS] = useState('');
  return [
    s,
    async (p, ok) => {
      try {
        await p;
        setS(ok);
      } catch (e) {
        setS((e as Error).message);
      }
    },
  ];
}

