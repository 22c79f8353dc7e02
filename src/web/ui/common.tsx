/** Pieces shared by the pages: who is signed in, signing out, the top bar, table headers. */
import { request } from './jmap';

export interface Me {
  address: string;
  admin: boolean;
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

