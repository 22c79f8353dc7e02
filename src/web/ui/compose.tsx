/** Compose, reply, reply all and forward; attachments upload with progress; the draft is saved as one types. */
import { useEffect, useRef, useState } from 'preact/hooks';
import { formatAddress, parseAddresses, type EmailFull, type Jmap, type Mailbox } from './jmap';
import { byRole, loadIdentities, saveDraft, send, type Draft, type Identity, type Sender } from './mail-ops';
import type { Me } from './common';

export type ComposeStart = { mode: 'new' } | { mode: 'reply' | 'all' | 'forward'; email: EmailFull };

function quote(e: EmailFull): string {
  const text = e.textBody.map((p) => e.bodyValues[p.partId]?.value ?? '').join('\n');
  const who = e.from?.[0] ? formatAddress(e.from[0]) : 'someone';
  return `\n\nOn ${new Date(e.sentAt ?? e.receivedAt).toUTCString()}, ${who} wrote:\n` + text.split('\n').map((l) => `> ${l}`).join('\n');
}

function prefixed(prefix: string, subject: string | null): string {
  const s = subject ?? '';
  return new RegExp(`^${prefix}:`, 'i').test(s) ? s : `${prefix}: ${s}`;
}

export function initialDraft(start: ComposeStart, me: string): Draft {
  const empty: Draft = { to: '', cc: '', subject: '', body: '', inReplyTo: null, references: null, attachments: [] };
  if (start.mode === 'new') return empty;
  const e = start.email;
  if (start.mode === 'forward') {
    const body = `\n\n---------- Forwarded message ----------\nFrom: ${(e.from ?? []).map(formatAddress).join(', ')}\nSubject: ${e.subject ?? ''}\n\n` + e.textBody.map((p) => e.bodyValues[p.partId]?.value ?? '').join('\n');
    return { ...empty, subject: prefixed('Fwd', e.subject), body, attachments: e.attachments.map((a) => ({ blobId: a.blobId, name: a.name ?? 'attachment', type: a.type, size: a.size })) };
  }
  const replyTo = (e.replyTo?.length ? e.replyTo : e.from) ?? [];
  const others = start.mode === 'all' ? [...(e.to ?? []), ...(e.cc ?? [])].filter((a) => a.email.toLowerCase() !== me && !replyTo.some((r) => r.email === a.email)) : [];
  return {
    ...empty,
    to: replyTo.map(formatAddress).join(', '),
    cc: others.map(formatAddress).join(', '),
    subject: prefixed('Re', e.subject),
    body: quote(e),
    inReplyTo: e.messageId,
    references: [...(e.references ?? []), ...(e.messageId ?? [])],
  };
}

export function Compose({ j, me, boxes, start, onClose }: { j: Jmap; me: Me; boxes: Mailbox[]; start: ComposeStart; onClose: () => void }) {
  const [d, setD] = useState<Draft>(() => initialDraft(start, me.address));
  const [status, setStatus] = useState('');
  const [progress, setProgress] = useState<number | null>(null);
  const [busy, setBusy] = useState(false);
  const draftId = useRef<string | null>(null);
  const dirty = useRef(false);
  const saving = useRef<Promise<void>>(Promise.resolve());
  const drafts = byRole(boxes, 'drafts');
  const [identities, setIdentities] = useState<Identity[]>([]);
  const [fromId, setFromId] = useState<string | null>(null);
  // Identity/get: the addresses this user may send from (own address, aliases). A reply starts from the
  // identity the message was sent to.
  useEffect(() => {
    loadIdentities(j).then((list) => {
      setIdentities(list);
      const to = start.mode === 'new' ? [] : [...(start.email.to ?? []), ...(start.email.cc ?? [])].map((a) => a.email.toLowerCase());
      setFromId((list.find((i) => to.includes(i.email.toLowerCase())) ?? list.find((i) => i.email === me.address) ?? list[0])?.id ?? null);
    }, () => undefined);
  }, [j]);
  const sender = (): Sender => identities.find((i) => i.id === fromId) ?? { id: null, name: '', email: me.address };

  const set = (patch: Partial<Draft>) => {
    dirty.current = true;
    setD((old) => ({ ...old, ...patch }));
  };

  // Drafts are saved to Drafts two seconds after the last change.
  useEffect(() => {
    if (!dirty.current || !drafts) return;
    const t = setTimeout(() => {
      saving.current = saving.current.then(async () => {
        try {
          draftId.current = await saveDraft(j, d, sender(), drafts.id, draftId.current, parseAddresses);
          setStatus('Draft saved');
        } catch (e) {
          setStatus(`Draft not saved: ${(e as Error).message}`);
        }
      });
    }, 2000);
    return () => clearTimeout(t);
  }, [d]);

  const attach = async (files: FileList | null) => {
    for (const f of Array.from(files ?? [])) {
      setProgress(0);
      try {
        const up = await j.upload(f, setProgress);
        set({ attachments: [...d.attachments, { blobId: up.blobId, name: f.name, type: f.type || 'application/octet-stream', size: f.size }] });
      } catch (e) {
        setStatus(`Upload failed: ${(e as Error).message}`);
      } finally {
        setProgress(null);
      }
    }
  };

  const submit = async (ev: Event) => {
    ev.preventDefault();
    if (!parseAddresses(d.to).length) return setStatus('Add at least one recipient.');
    setBusy(true);
    try {
      await saving.current;
      await send(j, d, sender(), boxes, draftId.current, parseAddresses);
      onClose();
    } catch (e) {
      setStatus(`Not sent: ${(e as Error).message}`);
    } finally {
      setBusy(false);
    }
  };

  return (
    <div class="compose" role="dialog" aria-modal="true" aria-labelledby="compose-title">
      <form onSubmit={submit}>
        <h2 id="compose-title">{start.mode === 'new' ? 'New message' : start.mode === 'forward' ? 'Forward' : 'Reply'}</h2>
        <label>
          From{' '}
          <select name="from" value={fromId ?? ''} onChange={(e) => setFromId(e.currentTarget.value)}>
            {identities.length === 0 && <option value="">{me.address}</option>}
            {identities.map((i) => (
              <option key={i.id} value={i.id}>
                {i.name ? `${i.name} <${i.email}>` : i.email}
              </option>
            ))}
          </select>
        </label>
        <label>
          To <input name="to" value={d.to} onInput={(e) => set({ to: e.currentTarget.value })} autoFocus={start.mode !== 'reply' && start.mode !== 'all'} />
        </label>
        <label>
          Cc <input name="cc" value={d.cc} onInput={(e) => set({ cc: e.currentTarget.value })} />
        </label>
        <label>
          Subject <input name="subject" value={d.subject} onInput={(e) => set({ subject: e.currentTarget.value })} />
        </label>
        <label class="body">
          Message
          <textarea name="body" rows={14} value={d.body} onInput={(e) => set({ body: e.currentTarget.value })} autoFocus={start.mode === 'reply' || start.mode === 'all'} />
        </label>
        <label>
          Attach files <input type="file" multiple onChange={(e) => void attach(e.currentTarget.files)} />
        </label>
        {progress !== null && <progress aria-label="Upload progress" value={progress} max={1} />}
        {d.attachments.length > 0 && (
          <ul class="attached" aria-label="Attached files">
            {d.attachments.map((a, i) => (
              <li key={a.blobId + i}>
                {a.name}{' '}
                <button type="button" aria-label={`Remove ${a.name}`} onClick={() => set({ attachments: d.attachments.filter((_, k) => k !== i) })}>
                  ×
                </button>
              </li>
            ))}
          </ul>
        )}
        <p role="status" class="status">
          {status}
        </p>
        <div class="buttons">
          <button type="submit" class="primary" disabled={busy}>
            Send
          </button>
          <button type="button" onClick={onClose}>
            Close
          </button>
        </div>
      </form>
    </div>
  );
}
