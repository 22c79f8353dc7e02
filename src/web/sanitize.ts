/**
 * HTML mail, made safe to show: sanitize-html with an allow-list (no scripts, event handlers, forms, frames,
 * meta/base/link, style sheets; links only http/https/mailto and opened in a new context; inline styles only
 * from a list of layout-neutral properties without url()). Remote images are dropped unless `remoteImages`,
 * and counted so the reader can offer to show them. The result is one more layer: the webmail shows it in an
 * iframe without scripts (sandbox) under a Content-Security-Policy (renderDocument).
 */
import sanitizeHtml from 'sanitize-html';

export interface SanitizedHtml {
  html: string;
  /** Remote images left out (only when remoteImages is false). */
  blockedImages: number;
}

const TAGS = [
  'a', 'abbr', 'address', 'b', 'bdi', 'bdo', 'blockquote', 'br', 'caption', 'center', 'cite', 'code', 'col', 'colgroup',
  'dd', 'del', 'details', 'dfn', 'div', 'dl', 'dt', 'em', 'figcaption', 'figure', 'font', 'h1', 'h2', 'h3', 'h4', 'h5',
  'h6', 'hr', 'i', 'img', 'ins', 'kbd', 'li', 'mark', 'ol', 'p', 'pre', 'q', 's', 'samp', 'small', 'span', 'strike',
  'strong', 'sub', 'summary', 'sup', 'table', 'tbody', 'td', 'tfoot', 'th', 'thead', 'tr', 'tt', 'u', 'ul', 'var',
];

/** Values of the allowed style properties: no url(), expression(), escapes, comments or at-rules. */
const SAFE_VALUE = /^(?!.*(?:url|expression|image-set|\\|\/\*|@|javascript:))[#\w\s.,%()'"+-]{1,200}$/i;
const STYLE_PROPS = [
  'color', 'background-color', 'font-family', 'font-size', 'font-style', 'font-weight', 'text-align', 'text-decoration',
  'line-height', 'margin', 'margin-left', 'margin-right', 'margin-top', 'margin-bottom', 'padding', 'padding-left',
  'padding-right', 'padding-top', 'padding-bottom', 'border', 'border-collapse', 'border-color', 'border-width',
  'border-style', 'width', 'max-width', 'height', 'vertical-align', 'white-space', 'text-indent', 'list-style-type',
];

const REMOTE = /^(?:https?:)?\/\//i;

/**
 * Most tags (counted as '<') sanitized as HTML. sanitize-html slows down with the square of the nesting depth:
 * a message of a million unclosed <div> held the process for minutes. Beyond this the message is shown as
 * its text, tags removed (real mail, newsletters included, stays far below).
 */
export const MAX_HTML_TAGS = 20_000;
/**
 * Most character references (counted as '&') sanitized as HTML: each costs the parser some 0.5 us, twelve times
 * plain text, so 16 MB of "&#" held the process for 8 s. Beyond this the message is shown as its text.
 */
export const MAX_HTML_ENTITIES = 200_000;

/** Occurrences of `ch` in `s`, counting stops past `max`. */
function countUpTo(s: string, ch: string, max: number): number {
  let n = 0;
  for (let i = s.indexOf(ch); i !== -1 && n <= max; i = s.indexOf(ch, i + 1)) n++;
  return n;
}

function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** The text of `html` with every tag (and an unclosed one to the end) replaced by a space, in linear time. */
function stripTags(html: string): string {
  const parts: string[] = [];
  let pos = 0;
  for (;;) {
    const lt = html.indexOf('<', pos);
    if (lt === -1) break;
    parts.push(html.slice(pos, lt));
    const gt = html.indexOf('>', lt);
    if (gt === -1) return parts.join(' ');
    pos = gt + 1;
  }
  parts.push(html.slice(pos));
  return parts.join(' ');
}

export function sanitizeMailHtml(html: string, opts: { remoteImages?: boolean } = {}): SanitizedHtml {
  if (countUpTo(html, '<', MAX_HTML_TAGS) > MAX_HTML_TAGS || countUpTo(html, '&', MAX_HTML_ENTITIES) > MAX_HTML_ENTITIES) {
    return { html: `<pre style="white-space: pre-wrap">${escapeHtml(stripTags(html))}</pre>`, blockedImages: 0 };
  }
  let blockedImages = 0;
  const remote = opts.remoteImages === true;
  const out = sanitizeHtml(html, {
    allowedTags: TAGS,
    disallowedTagsMode: 'discard',
    allowedAttributes: {
      '*': ['style', 'title', 'dir', 'lang', 'align', 'valign', 'width', 'height', 'colspan', 'rowspan', 'bgcolor', 'color', 'border', 'cellpadding', 'cellspacing'],
      a: ['href', 'name', 'target', 'rel'],
      img: ['src', 'alt'],
      font: ['face', 'size', 'color'],
    },
    allowedStyles: { '*': Object.fromEntries(STYLE_PROPS.map((p) => [p, [SAFE_VALUE]])) },
    allowedSchemes: ['http', 'https', 'mailto'],
    allowedSchemesByTag: { img: remote ? ['http', 'https', 'data'] : ['data'] },
    allowedSchemesAppliedToAttributes: ['href', 'src', 'cite'],
    allowProtocolRelative: false,
    nonTextTags: ['style', 'script', 'textarea', 'option', 'noscript', 'title', 'head', 'template', 'svg', 'math'],
    transformTags: {
      a: (tagName, attribs) => {
        const { target: _t, rel: _r, ...rest } = attribs;
        return { tagName, attribs: { ...rest, target: '_blank', rel: 'noopener noreferrer' } };
      },
      img: (tagName, attribs) => {
        const src = (attribs.src ?? '').trim();
        if (REMOTE.test(src) && !remote) {
          blockedImages++;
          const { src: _s, ...rest } = attribs;
          return { tagName, attribs: { ...rest, alt: attribs.alt ?? '' } };
        }
        if (/^data:/i.test(src) && !/^data:image\/(?:png|gif|jpe?g|webp);/i.test(src)) {
          const { src: _s, ...rest } = attribs;
          return { tagName, attribs: rest };
        }
        return { tagName, attribs };
      },
    },
  });
  return { html: out, blockedImages };
}

/** The Content-Security-Policy of a rendered message: nothing runs, nothing loads but (allowed) images. */
export function messageCsp(remoteImages: boolean): string {
  return `default-src 'none'; style-src 'unsafe-inline'; img-src data:${remoteImages ? ' https: http:' : ''}; form-action 'none'; base-uri 'none'`;
}

/** A complete document for the reading pane's iframe (srcdoc): the policy first, then the sanitized body. */
export function renderDocument(s: SanitizedHtml, remoteImages: boolean): string {
  return (
    '<!doctype html><html><head><meta charset="utf-8">' +
    `<meta http-equiv="Content-Security-Policy" content="${messageCsp(remoteImages)}">` +
    '<style>body{font:14px/1.45 system-ui,sans-serif;color:#1b1b1b;background:#fff;margin:8px;overflow-wrap:anywhere}img{max-width:100%;height:auto}</style>' +
    `</head><body>${s.html}</body></html>`
  );
}
