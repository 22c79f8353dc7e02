/**
 * The reading pane. HTML mail is sanitized by the server (/api/render) and shown in an iframe with an empty
 * sandbox (no scripts, no same-origin, no forms) whose document starts with its own Content-Security-Policy;
 * remote images stay out until the reader allows them for this message or for the sender.
 */
import { useEffect, useState } from 'preact/hooks';
import { formatAddress, request, type EmailFull, type Jmap } from './jmap';

const ALLOWED_KEY = 'mr-images-allowed';

function allowedSenders(): string[] {
  try {
    return JSON.parse(localStorage.getItem(ALLOWED_KEY) ?? '[]') as string[];
  } catch {
    return [];
  }
}

function size(n: number): string {
  return n < 1024 ? `${n} B` : n < 1048576 ? `${(n / 1024).toFixed(1)} KB` : `${(n / 1048576).toFixed(1)} MB`;
}

export function Reader({ j, email }: { j: Jmap; email: EmailFull }) {
  const sender = email.from?.[0]?.email ?? '';
  const [images, setImages] = useState(false);
  const [doc, setDoc] = useState<{ document: string; blockedImages: number } | null>(null);
  const html = email.htmlBody.find((p) => p.type === 'text/html');
  const htmlValue = html ? email.bodyValues[html.partId]?.value : undefined;
  const text = email.textBody
    .filter((p) => p.type.startsWith('text/'))
    .map((p) => email.bodyValues[p.partId]?.value ?? '')
    .join('\n');
  const remote = images || allowedSenders().includes(sender);

  useEffect(() => setImages(false), [email.id]);
  useEffect(() => {
    setDoc(null);
    if (htmlValue === undefined) return;
    let live = true;
    request<{ document: string; blockedImages: number }>('POST', '/api/render', { html: htmlValue, remoteImages: remote }).then(
      (d) => live && setDoc(d),
      () => live && setDoc({ document: '', blockedImages: 0 }),
    );
    return () => {
      live = false;
    };
  }, [email.id, htmlValue, remote]);

  return (
    <article class="reader" aria-labelledby="reader-subject">
      <h2 id="reader-subject">{email.subject ?? '(no subject)'}</h2>
      <dl class="headers">
        <dt>From</dt>
        <dd>{(email.from ?? []).map(formatAddress).join(', ')}</dd>
        <dt>To</dt>
        <dd>{(email.to ?? []).map(formatAddress).join(', ')}</dd>
        {email.cc?.length ? (
          <>
            <dt>Cc</dt>
            <dd>{email.cc.map(formatAddress).join(', ')}</dd>
          </>
        ) : null}
        <dt>Date</dt>
        <dd>{new Date(email.sentAt ?? email.receivedAt).toLocaleString()}</dd>
      </dl>
      {doc && doc.blockedImages > 0 && !remote && (
        <p class="notice">
          Remote images were blocked.{' '}
          <button type="button" onClick={() => setImages(true)}>
            Show images
          </button>{' '}
          <button
            type="button"
            onClick={() => {
              localStorage.setItem(ALLOWED_KEY, JSON.stringify([...allowedSenders(), sender]));
              setImages(true);
            }}
          >
            Always show images from {sender}
          </button>
        </p>
      )}
      {htmlValue !== undefined ? (
        doc ? (
          <iframe class="body" title="Message body" sandbox="allow-popups allow-popups-to-escape-sandbox" referrerpolicy="no-referrer" srcDoc={doc.document} />
        ) : (
          <p class="loading">Loading…</p>
        )
      ) : (
        <pre class="body text">{text}</pre>
      )}
      {email.attachments.length > 0 && (
        <section aria-label="Attachments" class="attachments">
          <h3>Attachments</h3>
          <ul>
            {email.attachments.map((a) => {
              const name = a.name ?? 'attachment';
              const url = j.downloadUrl(a.blobId, name, a.type);
              return (
                <li key={a.partId}>
                  {a.type.startsWith('image/') && <img src={url} alt="" class="preview" />}
                  <a href={url} download={name}>
                    {name}
                  </a>{' '}
                  <span class="size">({size(a.size)})</span>
                </li>
              );
            })}
          </ul>
        </section>
      )}
    </article>
  );
}

function plainText(e: EmailFull): string {
  return e.textBody
    .filter((p) => p.type.startsWith('text/'))
    .map((p) => e.bodyValues[p.partId]?.value ?? '')
    .join('\n');
}

/** A message of the conversation other than the open one: a one-line summary that opens to its text. */
function Earlier({ e }: { e: EmailFull }) {
  const from = e.from?.[0] ? (e.from[0].name ?? e.from[0].email) : '(no sender)';
  return (
    <details class="conv-item">
      <summary>
        <strong>{from}</strong> <span class="when">{new Date(e.sentAt ?? e.receivedAt).toLocaleString()}</span> <span class="preview">{e.preview}</span>
      </summary>
      <pre class="body text">{plainText(e) || e.preview}</pre>
    </details>
  );
}

/**
 * The reading pane for a conversation: the other messages of the thread as summaries in date order, and the
 * open message in full where it falls among them.
 */
export function Conversation({ j, email, conversation }: { j: Jmap; email: EmailFull; conversation: EmailFull[] }) {
  const all = conversation.some((e) => e.id === email.id) ? conversation : [email];
  if (all.length === 1) return <Reader j={j} email={email} />;
  return (
    <section class="conversation" aria-label="Conversation">
      <p class="conv-size">{all.length} messages in this conversation</p>
      {all.map((e) => (e.id === email.id ? <Reader key={e.id} j={j} email={email} /> : <Earlier key={e.id} e={e} />))}
    </section>
  );
}
