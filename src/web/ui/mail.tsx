/** The webmail: folders, the message list (virtual scrolling over server-side pages), the reader, compose. */
import { useCallback, useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { Jmap, formatAddress, type EmailFull, type EmailSummary, type Mailbox } from './jmap';
import { PAGE, byRole, destroy, loadConversation, loadEmail, loadMailboxes, loadPage, loadStart, moveTo, setKeyword, type ListPage } from './mail-ops';
import { Conversation } from './reader';
import { Compose, type ComposeStart } from './compose';
import { signOut, type Me } from './common';

const ROW = 56;
/** Special-use icons, from glyphs the common system fonts (DejaVu) have. */
const ICONS: Record<string, string> = { inbox: '✉', sent: '➤', drafts: '✎', trash: '✖', junk: '⚠', archive: '▤' };

function FolderNav({ boxes, current, onPick, onDrop }: { boxes: Mailbox[]; current: string; onPick: (id: string) => void; onDrop: (mailboxId: string, emailId: string) => void }) {
  const depth = (b: Mailbox): number => {
    let d = 0;
    for (let p = b.parentId; p; p = boxes.find((x) => x.id === p)?.parentId ?? null) d++;
    return d;
  };
  return (
    <nav aria-label="Folders" class="folders">
      <ul>
        {boxes.map((b) => (
          <li key={b.id} style={{ paddingLeft: `${depth(b) * 12}px` }}>
            <a
              href={`#${encodeURIComponent(b.id)}`}
              aria-current={b.id === current ? 'page' : undefined}
              aria-label={b.name}
              onClick={(e) => {
                e.preventDefault();
                onPick(b.id);
              }}
              onDragOver={(e) => e.dataTransfer?.types.includes('text/x-mailroom-email') && e.preventDefault()}
              onDrop={(e) => {
                const id = e.dataTransfer?.getData('text/x-mailroom-email');
                if (!id) return;
                e.preventDefault();
                onDrop(b.id, id);
              }}
            >
              <span aria-hidden="true" class="icon">
                {ICONS[b.role ?? ''] ?? '▸'}
              </span>
              <span class="name">{b.name}</span>
              {b.unreadEmails > 0 && (
                <span class="count" aria-hidden="true">
                  {b.unreadEmails}
                </span>
              )}
            </a>
          </li>
        ))}
      </ul>
    </nav>
  );
}

function Row({ e, count, selected, checked, onOpen, onCheck }: { e: EmailSummary; count: number; selected: boolean; checked: boolean; onOpen: () => void; onCheck: (on: boolean) => void }) {
  const from = e.from?.[0] ? (e.from[0].name ?? e.from[0].email) : '(no sender)';
  const unread = !e.keywords.$seen;
  return (
    <div
      role="option"
      aria-selected={selected}
      class={`row${unread ? ' unread' : ''}${selected ? ' selected' : ''}`}
      onClick={onOpen}
      data-id={e.id}
      draggable
      onDragStart={(ev) => ev.dataTransfer?.setData('text/x-mailroom-email', e.id)}
    >
      <input
        type="checkbox"
        class="check"
        aria-label={`Select ${e.subject ?? '(no subject)'}`}
        checked={checked}
        onClick={(ev) => ev.stopPropagation()}
        onChange={(ev) => onCheck(ev.currentTarget.checked)}
      />
      <span class="from">
        {from}
        {count > 1 && (
          <span class="thread-count" aria-label={`${count} messages in the conversation`}>
            {' '}
            {count}
          </span>
        )}
      </span>
      <span class="subject">{e.subject ?? '(no subject)'}</span>
      <span class="meta">
        {e.keywords.$flagged ? <span aria-label="flagged">★ </span> : null}
        {e.hasAttachment ? <span class="att" aria-label="has attachments">att </span> : null}
        {new Date(e.receivedAt).toLocaleString()}
      </span>
    </div>
  );
}

/** Whether the list is grouped by conversation (remembered in this browser). */
function threadsPref(): boolean {
  return localStorage.getItem('mr-threads') === '1';
}

/** The webmail's first requests, started by the caller as soon as it knows who signed in. */
export interface MailStart {
  j: Jmap;
  /** The JMAP session object (download, upload and push URLs). */
  connected: Promise<unknown>;
  /** The folders and, when the sign-in answer named INBOX, its first page: one request. */
  first: Promise<{ boxes: Mailbox[]; page: ListPage | null; mailboxId: string | null }>;
}

export function startMail(me: Me): MailStart {
  const j = new Jmap();
  if (me.jmap) j.preset(me.jmap);
  const connected = j.connect();
  const inbox = me.inboxId;
  const first =
    me.jmap && inbox
      ? loadStart(j, inbox, threadsPref()).then((r) => ({ ...r, mailboxId: inbox }))
      : connected.then(() => loadMailboxes(j)).then((boxes) => ({ boxes, page: null, mailboxId: null }));
  // Handled where it is awaited; this keeps an early failure from being reported as unhandled.
  first.catch(() => undefined);
  connected.catch(() => undefined);
  return { j, connected, first };
}

export function MailApp({ me, start }: { me: Me; start?: MailStart }) {
  const s = useMemo(() => start ?? startMail(me), []);
  const j = s.j;
  const [boxes, setBoxes] = useState<Mailbox[]>([]);
  const [current, setCurrent] = useState('');
  const [search, setSearch] = useState('');
  const [query, setQuery] = useState('');
  const [total, setTotal] = useState(0);
  const [rows, setRows] = useState<Map<number, EmailSummary>>(new Map());
  const [selected, setSelected] = useState<number>(-1);
  const [open, setOpen] = useState<EmailFull | null>(null);
  // The open message's conversation, oldest first (the reading pane shows all of it).
  const [conversation, setConversation] = useState<EmailFull[]>([]);
  // Group the list by conversation (Email/query collapseThreads); remembered in this browser.
  const [threads, setThreads] = useState(threadsPref);
  const [sizes, setSizes] = useState<Map<string, number>>(new Map());
  const [compose, setCompose] = useState<ComposeStart | null>(null);
  const [error, setError] = useState('');
  const [scrollTop, setScrollTop] = useState(0);
  const [checked, setChecked] = useState<Set<string>>(new Set());
  // The selection as the key handler sees it: keys typed faster than a render (j then o) act on the latest.
  const selRef = useRef(-1);
  useEffect(() => {
    selRef.current = selected;
  }, [selected]);
  const listRef = useRef<HTMLDivElement>(null);
  const searchRef = useRef<HTMLInputElement>(null);
  const loading = useRef(new Set<number>());
  const generation = useRef(0);

  const fail = (e: unknown) => setError((e as Error).message);

  const refreshBoxes = useCallback(async () => setBoxes(await loadMailboxes(j)), [j]);

  const fetchPage = useCallback(
    async (position: number, reset = false) => {
      const start = Math.floor(position / PAGE) * PAGE;
      if (!current || (!reset && loading.current.has(start))) return;
      loading.current.add(start);
      const gen = generation.current;
      try {
        const p = await loadPage(j, current, query, start, threads);
        if (gen !== generation.current) return;
        setTotal(p.total);
        if (p.threadSizes.size) setSizes((old) => new Map([...(reset ? [] : old), ...p.threadSizes]));
        setRows((old) => {
          const next = reset ? new Map<number, EmailSummary>() : new Map(old);
          p.emails.forEach((e, i) => next.set(p.position + i, e));
          return next;
        });
      } catch (e) {
        fail(e);
      } finally {
        loading.current.delete(start);
      }
    },
    [j, current, query, threads],
  );

  // The first paint: folders and the first page of INBOX, asked for as soon as the sign-in answered.
  const skipReset = useRef<string | null>(null);
  // Push starts once the session object is there and the first list is shown.
  const [live, setLive] = useState(false);
  useEffect(() => {
    s.first
      .then((f) => {
        if (f.page && f.mailboxId) {
          skipReset.current = f.mailboxId;
          setTotal(f.page.total);
          setRows(new Map(f.page.emails.map((e, i) => [i, e])));
          setSizes(f.page.threadSizes);
        }
        setBoxes(f.boxes);
        if (f.mailboxId) setCurrent(f.mailboxId);
      })
      .catch(fail);
    Promise.all([s.connected, s.first]).then(() => setLive(true), fail);
  }, [s]);

  useEffect(() => {
    if (!current && boxes.length) setCurrent((byRole(boxes, 'inbox') ?? boxes[0]!).id);
  }, [boxes, current]);

  // A new folder or search: start over at the top (not for the first page, which came with the folders).
  useEffect(() => {
    if (skipReset.current !== null && skipReset.current === current && !query) {
      skipReset.current = null;
      return;
    }
    generation.current++;
    loading.current.clear();
    setRows(new Map());
    setSelected(-1);
    setOpen(null);
    setChecked(new Set());
    listRef.current?.scrollTo(0, 0);
    setScrollTop(0);
    void fetchPage(0, true);
  }, [current, query, threads]);

  // Live updates: a state change re-reads the folders and the visible page. Changes arriving while that runs
  // are coalesced into one more pass (a burst of deliveries must not exceed the server's concurrent requests).
  const fetchRef = useRef(fetchPage);
  fetchRef.current = fetchPage;
  const refresh = useRef<{ running: boolean; again: boolean }>({ running: false, again: false });
  useEffect(() => {
    if (!live || !j.session) return;
    return j.listen(() => {
      const r = refresh.current;
      if (r.running) return void (r.again = true);
      r.running = true;
      void (async () => {
        do {
          r.again = false;
          const first = Math.floor((listRef.current?.scrollTop ?? 0) / ROW);
          generation.current++;
          loading.current.clear();
          await Promise.all([refreshBoxes().catch(fail), fetchRef.current(first, true)]);
        } while (r.again);
      })().finally(() => (r.running = false));
    });
  }, [live, refreshBoxes]);

  // Virtual scrolling: only the rows in view (plus a margin) exist in the DOM; missing pages load on demand.
  const height = listRef.current?.clientHeight ?? 600;
  const first = Math.max(0, Math.floor(scrollTop / ROW) - 5);
  const last = Math.min(total, Math.ceil((scrollTop + height) / ROW) + 5);
  useEffect(() => {
    for (let i = first; i < last; i += PAGE) if (!rows.has(i)) void fetchPage(i);
    if (last > 0 && !rows.has(last - 1)) void fetchPage(last - 1);
  }, [first, last, rows, fetchPage]);

  const openAt = async (i: number) => {
    const e = rows.get(i);
    if (!e) return;
    setSelected(i);
    try {
      const conv = await loadConversation(j, e.id).catch(() => []);
      const full = conv.find((x) => x.id === e.id) ?? (await loadEmail(j, e.id));
      setConversation(conv);
      setOpen(full);
      if (full && !full.keywords.$seen) {
        await setKeyword(j, [full.id], '$seen', true);
        setOpen({ ...full, keywords: { ...full.keywords, $seen: true } });
        setRows((old) => new Map(old).set(i, { ...e, keywords: { ...e.keywords, $seen: true } }));
        void refreshBoxes();
      }
    } catch (err) {
      fail(err);
    }
  };

  const target = (): EmailSummary | null => open ?? (selected >= 0 ? (rows.get(selected) ?? null) : null);
  const after = async (work: Promise<void>) => {
    try {
      await work;
      setOpen(null);
      generation.current++;
      loading.current.clear();
      await Promise.all([refreshBoxes(), fetchPage(Math.max(0, selected), true)]);
    } catch (e) {
      fail(e);
    }
  };
  // Multi-select: the checked rows, else the open or selected message.
  const targets = (): EmailSummary[] => {
    if (checked.size) return [...rows.values()].filter((e) => checked.has(e.id));
    const t = target();
    return t ? [t] : [];
  };
  const moveToRole = (role: string) => {
    const ts = targets();
    const box = byRole(boxes, role);
    if (!ts.length || !box) return;
    setChecked(new Set());
    if (role === 'trash' && ts.every((t) => t.mailboxIds[box.id])) return void after(destroy(j, ts.map((t) => t.id)));
    void after(moveTo(j, ts, box.id));
  };
  const toggle = async (keyword: string) => {
    const ts = targets();
    const t = ts[0];
    if (!t) return;
    const on = !t.keywords[keyword];
    try {
      await setKeyword(j, ts.map((x) => x.id), keyword, on);
      if (ts.length > 1) {
        setChecked(new Set());
        return void after(Promise.resolve());
      }
      const keywords = { ...t.keywords, [keyword]: on };
      if (open?.id === t.id) setOpen({ ...open, keywords });
      if (selected >= 0) setRows((old) => new Map(old).set(selected, { ...rows.get(selected)!, keywords }));
      void refreshBoxes();
    } catch (e) {
      fail(e);
    }
  };

  const reply = (mode: 'reply' | 'all' | 'forward') => open && setCompose({ mode, email: open });

  // Keyboard shortcuts (not while typing): j/k next/previous, o open, r reply, a reply all, f forward,
  // e archive, # delete, / search, c compose.
  useEffect(() => {
    const onKey = (ev: KeyboardEvent) => {
      const t = ev.target as HTMLElement | null;
      if (compose || ev.ctrlKey || ev.metaKey || ev.altKey || (t && /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName))) return;
      const k = ev.key;
      if (k === 'j' || k === 'k') {
        const next = Math.max(0, Math.min(total - 1, selRef.current + (k === 'j' ? 1 : -1)));
        selRef.current = next;
        setSelected(next);
        listRef.current?.querySelector(`[data-id="${rows.get(next)?.id ?? ''}"]`)?.scrollIntoView({ block: 'nearest' });
        if (listRef.current && (next * ROW < listRef.current.scrollTop || (next + 1) * ROW > listRef.current.scrollTop + listRef.current.clientHeight)) {
          listRef.current.scrollTop = next * ROW;
        }
      } else if (k === 'o' || k === 'Enter') void openAt(selRef.current);
      else if (k === 'r') reply('reply');
      else if (k === 'a') reply('all');
      else if (k === 'f') reply('forward');
      else if (k === 'e') moveToRole('archive');
      else if (k === '#') moveToRole('trash');
      else if (k === '/') searchRef.current?.focus();
      else if (k === 'c') setCompose({ mode: 'new' });
      else return;
      ev.preventDefault();
    };
    addEventListener('keydown', onKey);
    return () => removeEventListener('keydown', onKey);
  });

  const items = [];
  for (let i = first; i < last; i++) {
    const e = rows.get(i);
    items.push(
      <div key={i} style={{ position: 'absolute', top: `${i * ROW}px`, left: 0, right: 0, height: `${ROW}px` }}>
        {e ? <Row
            e={e}
            count={threads ? (sizes.get(e.threadId) ?? 1) : 1}
            selected={i === selected}
            checked={checked.has(e.id)}
            onOpen={() => void openAt(i)}
            onCheck={(on) =>
              setChecked((old) => {
                const next = new Set(old);
                if (on) next.add(e.id);
                else next.delete(e.id);
                return next;
              })
            }
          /> : <div class="row placeholder" aria-hidden="true" />}
      </div>,
    );
  }
  const t = checked.size ? (targets()[0] ?? null) : target();
  return (
    <div class="mail">
      <header class="top">
        <strong class="brand">mailroom</strong>
        <form
          role="search"
          onSubmit={(e) => {
            e.preventDefault();
            setQuery(search);
          }}
        >
          <input ref={searchRef} type="search" aria-label="Search" placeholder="Search mail" value={search} onInput={(e) => setSearch(e.currentTarget.value)} />
        </form>
        <span class="who">{me.address}</span>
        <a href="/settings">Settings</a>
        {me.admin && <a href="/admin">Admin</a>}
        <button type="button" onClick={() => void signOut()}>
          Sign out
        </button>
      </header>
      <aside class="side">
        <button type="button" class="primary" onClick={() => setCompose({ mode: 'new' })}>
          Compose
        </button>
        <FolderNav
          boxes={boxes}
          current={current}
          onPick={(id) => {
            setSearch('');
            setQuery('');
            setCurrent(id);
          }}
          onDrop={(mailboxId, emailId) => {
            const e = [...rows.values()].find((x) => x.id === emailId);
            if (e && !e.mailboxIds[mailboxId]) void after(moveTo(j, [e], mailboxId));
          }}
        />
      </aside>
      <section class="listpane">
        <div class="toolbar" role="toolbar" aria-label="Message actions">
          <button type="button" disabled={!open} onClick={() => reply('reply')}>Reply</button>
          <button type="button" disabled={!open} onClick={() => reply('all')}>Reply all</button>
          <button type="button" disabled={!open} onClick={() => reply('forward')}>Forward</button>
          <button type="button" disabled={!t} onClick={() => moveToRole('trash')}>Delete</button>
          <button type="button" disabled={!t} onClick={() => moveToRole('archive')}>Archive</button>
          <button type="button" disabled={!t} onClick={() => moveToRole('junk')}>Mark as spam</button>
          <button type="button" disabled={!t} onClick={() => void toggle('$seen')}>{t?.keywords.$seen ? 'Mark as unread' : 'Mark as read'}</button>
          <button type="button" disabled={!t} aria-pressed={t ? !!t.keywords.$flagged : undefined} onClick={() => void toggle('$flagged')}>Flag</button>
          <button
            type="button"
            aria-pressed={threads}
            onClick={() => {
              localStorage.setItem('mr-threads', threads ? '0' : '1');
              setThreads(!threads);
            }}
          >
            Group by conversation
          </button>
        </div>
        {error && (
          <p role="alert" class="error" onClick={() => setError('')}>
            {error}
          </p>
        )}
        <div
          ref={listRef}
          class="list"
          role="listbox"
          aria-label="Messages"
          tabIndex={0}
          onScroll={(e) => setScrollTop(e.currentTarget.scrollTop)}
        >
          <div style={{ position: 'relative', height: `${total * ROW}px` }}>{items}</div>
          {total === 0 && <p class="empty">No messages</p>}
        </div>
      </section>
      <section class="readpane" aria-label="Message">
        {open ? <Conversation j={j} email={open} conversation={conversation} /> : <p class="empty">Select a message to read it.</p>}
      </section>
      {compose && (
        <Compose
          j={j}
          me={me}
          boxes={boxes}
          start={compose}
          onClose={() => {
            setCompose(null);
            void refreshBoxes();
          }}
        />
      )}
    </div>
  );
}

export function senderOf(e: EmailSummary): string {
  return e.from?.[0] ? formatAddress(e.from[0]) : '';
}
