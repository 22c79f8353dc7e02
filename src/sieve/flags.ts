/** RFC 5232 imap4flags: flag lists are space-separated strings; duplicates (case-insensitive) collapse. */

const SYSTEM = ['\\Seen', '\\Answered', '\\Flagged', '\\Deleted', '\\Draft', '\\Recent'];

function canonical(flag: string): string {
  if (flag.startsWith('\\')) return SYSTEM.find((s) => s.toLowerCase() === flag.toLowerCase()) ?? flag;
  return flag;
}

/** Split strings into individual flags, dropping duplicates (first spelling wins, system flags canonical). */
export function flagList(items: readonly string[]): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  for (const item of items) {
    for (const raw of item.split(/[ \t\r\n]+/)) {
      if (raw === '') continue;
      const f = canonical(raw);
      const key = f.toLowerCase();
      if (seen.has(key)) continue;
      seen.add(key);
      out.push(f);
    }
  }
  return out;
}

export function addFlags(current: string, add: readonly string[]): string {
  return flagList([current, ...add]).join(' ');
}

export function removeFlags(current: string, remove: readonly string[]): string {
  const gone = new Set(flagList(remove).map((f) => f.toLowerCase()));
  return flagList([current]).filter((f) => !gone.has(f.toLowerCase())).join(' ');
}
