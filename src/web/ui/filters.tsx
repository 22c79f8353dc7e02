/**
 * Filters on the settings page: the rule editor and forwarding (both written by the server into the active
 * Sieve script, /api/filters) and the raw Sieve script (/api/sieve). The server validates with its Sieve
 * compiler; its message is shown as the status.
 */
import { useEffect, useState } from 'preact/hooks';
import { request } from './jmap';
import { Section, useStatus } from './common';

type Field = 'from' | 'to' | 'subject' | 'header' | 'size';
interface Condition {
  field: Field;
  header?: string;
  op: string;
  value: string;
}
type Action = { type: 'move'; folder: string } | { type: 'forward'; to: string } | { type: 'read' | 'flag' | 'discard' | 'stop' };
interface Rule {
  name: string;
  match: 'all' | 'any';
  conditions: Condition[];
  actions: Action[];
}
interface Forwarding {
  enabled: boolean;
  to: string;
  keepCopy: boolean;
}
interface FilterState {
  rules: Rule[];
  forwarding: Forwarding;
  managed: boolean;
  handEdited: boolean;
  folders: string[];
}

/** The editable form of a rule's actions. */
interface Acts {
  move: string | null;
  forward: string | null;
  read: boolean;
  flag: boolean;
  discard: boolean;
  stop: boolean;
}

function acts(r: Rule): Acts {
  const move = r.actions.find((a) => a.type === 'move') as { folder: string } | undefined;
  const fwd = r.actions.find((a) => a.type === 'forward') as { to: string } | undefined;
  const has = (t: string) => r.actions.some((a) => a.type === t);
  return { move: move?.folder ?? null, forward: fwd?.to ?? null, read: has('read'), flag: has('flag'), discard: has('discard'), stop: has('stop') };
}

function toActions(a: Acts): Action[] {
  const out: Action[] = [];
  if (a.move !== null) out.push({ type: 'move', folder: a.move });
  if (a.read) out.push({ type: 'read' });
  if (a.flag) out.push({ type: 'flag' });
  if (a.forward !== null) out.push({ type: 'forward', to: a.forward });
  if (a.discard) out.push({ type: 'discard' });
  if (a.stop) out.push({ type: 'stop' });
  return out;
}

const FIELDS: Array<[Field, string]> = [['from', 'From'], ['to', 'To or Cc'], ['subject', 'Subject'], ['header', 'Header'], ['size', 'Size']];
const TEXT_OPS: Array<[string, string]> = [['contains', 'contains'], ['not-contains', 'does not contain'], ['is', 'is'], ['matches', 'matches (* and ?)']];
const SIZE_OPS: Array<[string, string]> = [['over', 'is over'], ['under', 'is under']];

function Options({ items }: { items: Array<[string, string]> }) {
  return (
    <>
      {items.map(([v, label]) => (
        <option key={v} value={v}>
          {label}
        </option>
      ))}
    </>
  );
}

function RuleEditor({ n, rule, folders, onChange, onRemove }: { n: number; rule: Rule; folders: string[]; onChange: (r: Rule) => void; onRemove: () => void }) {
  const a = acts(rule);
  const setActs = (patch: Partial<Acts>) => onChange({ ...rule, actions: toActions({ ...a, ...patch }) });
  const setCond = (i: number, c: Condition) => onChange({ ...rule, conditions: rule.conditions.map((x, k) => (k === i ? c : x)) });
  return (
    <fieldset class="rule" aria-label={`Rule ${n}`}>
      <legend>Rule {n}</legend>
      <label>
        Rule name <input value={rule.name} onInput={(e) => onChange({ ...rule, name: e.currentTarget.value })} />
      </label>
      <label>
        Apply when{' '}
        <select value={rule.match} onChange={(e) => onChange({ ...rule, match: e.currentTarget.value as 'all' | 'any' })}>
          <option value="all">all conditions hold</option>
          <option value="any">any condition holds</option>
        </select>
      </label>
      {rule.conditions.map((c, i) => (
        <div class="cond" role="group" aria-label={`Condition ${i + 1}`} key={i}>
          <select aria-label="Field" value={c.field} onChange={(e) => {
            const field = e.currentTarget.value as Field;
            setCond(i, { field, op: field === 'size' ? 'over' : 'contains', value: '', ...(field === 'header' ? { header: '' } : {}) });
          }}>
            <Options items={FIELDS} />
          </select>
          {c.field === 'header' && <input aria-label="Header name" placeholder="X-Mailer" value={c.header ?? ''} onInput={(e) => setCond(i, { ...c, header: e.currentTarget.value })} />}
          <select aria-label="Comparison" value={c.op} onChange={(e) => setCond(i, { ...c, op: e.currentTarget.value })}>
            <Options items={c.field === 'size' ? SIZE_OPS : TEXT_OPS} />
          </select>
          <input aria-label="Value" placeholder={c.field === 'size' ? '100K' : ''} value={c.value} onInput={(e) => setCond(i, { ...c, value: e.currentTarget.value })} />
          {rule.conditions.length > 1 && (
            <button type="button" aria-label={`Remove condition ${i + 1}`} onClick={() => onChange({ ...rule, conditions: rule.conditions.filter((_, k) => k !== i) })}>
              ×
            </button>
          )}
        </div>
      ))}
      <button type="button" onClick={() => onChange({ ...rule, conditions: [...rule.conditions, { field: 'subject', op: 'contains', value: '' }] })}>
        Add condition
      </button>
      <div class="acts">
        <label class="inline">
          <input type="checkbox" checked={a.move !== null} onChange={(e) => setActs({ move: e.currentTarget.checked ? (folders[0] ?? 'INBOX') : null })} /> Move to folder
        </label>
        {a.move !== null && (
          <select aria-label="Folder" value={a.move} onChange={(e) => setActs({ move: e.currentTarget.value })}>
            <Options items={(folders.includes(a.move) ? folders : [a.move, ...folders]).map((f) => [f, f])} />
          </select>
        )}
        <label class="inline">
          <input type="checkbox" checked={a.read} onChange={(e) => setActs({ read: e.currentTarget.checked })} /> Mark as read
        </label>
        <label class="inline">
          <input type="checkbox" checked={a.flag} onChange={(e) => setActs({ flag: e.currentTarget.checked })} /> Flag
        </label>
        <label class="inline">
          <input type="checkbox" checked={a.forward !== null} onChange={(e) => setActs({ forward: e.currentTarget.checked ? '' : null })} /> Forward a copy
        </label>
        {a.forward !== null && <input aria-label="Forward a copy to" type="email" value={a.forward} onInput={(e) => setActs({ forward: e.currentTarget.value })} />}
        <label class="inline">
          <input type="checkbox" checked={a.discard} onChange={(e) => setActs({ discard: e.currentTarget.checked })} /> Discard
        </label>
        <label class="inline">
          <input type="checkbox" checked={a.stop} onChange={(e) => setActs({ stop: e.currentTarget.checked })} /> Stop here (no more rules)
        </label>
      </div>
      <button type="button" onClick={onRemove}>
        Remove rule {n}
      </button>
    </fieldset>
  );
}

export function Filters() {
  const [f, setF] = useState<FilterState | null>(null);
  const [raw, setRaw] = useState('');
  const [ruleStatus, runRules] = useStatus();
  const [fwdStatus, runFwd] = useStatus();
  const [rawStatus, runRaw] = useStatus();
  const load = async () => {
    const [state, script] = await Promise.all([request<FilterState>('GET', '/api/filters'), request<{ content: string }>('GET', '/api/sieve')]);
    setF(state);
    setRaw(script.content);
  };
  useEffect(() => void load().catch(() => undefined), []);
  const save = (next: FilterState) => request<{ script: string }>('PUT', '/api/filters', { rules: next.rules, forwarding: next.forwarding }).then((r) => {
    setRaw(r.script);
    setF({ ...next, managed: true, handEdited: false });
  });
  if (!f) return null;
  const setRule = (i: number, r: Rule) => setF({ ...f, rules: f.rules.map((x, k) => (k === i ? r : x)) });
  return (
    <>
      <Section title="Filters">
        {f.handEdited && <p class="notice">The Sieve script was edited by hand; saving rules here replaces it.</p>}
        <form
          onSubmit={(e) => {
            e.preventDefault();
            void runRules(save(f), 'Rules saved.');
          }}
        >
          {f.rules.length === 0 && <p>No rules yet.</p>}
          {f.rules.map((r, i) => (
            <RuleEditor key={i} n={i + 1} rule={r} folders={f.folders} onChange={(x) => setRule(i, x)} onRemove={() => setF({ ...f, rules: f.rules.filter((_, k) => k !== i) })} />
          ))}
          <div class="buttons">
            <button type="button" onClick={() => setF({ ...f, rules: [...f.rules, { name: '', match: 'all', conditions: [{ field: 'from', op: 'contains', value: '' }], actions: [{ type: 'move', folder: f.folders[0] ?? 'INBOX' }] }] })}>
              Add rule
            </button>
            <button type="submit" class="primary">
              Save rules
            </button>
          </div>
          <p role="status">{ruleStatus}</p>
        </form>
        <details open={!f.managed && raw.trim() !== ''}>
          <summary>Sieve script (raw mode)</summary>
          <form
            onSubmit={(e) => {
              e.preventDefault();
              void runRaw(request('PUT', '/api/sieve', { content: raw }).then(load), 'Filters saved.');
            }}
          >
            <label>
              Sieve script <textarea rows={10} spellcheck={false} value={raw} onInput={(e) => setRaw(e.currentTarget.value)} />
            </label>
            <button type="submit">Save filters</button>
            <p role="status">{rawStatus}</p>
          </form>
        </details>
      </Section>
      <Section title="Forwarding">
        <form
          onSubmit={(e) => {
            e.preventDefault();
            void runFwd(save(f), 'Forwarding saved.');
          }}
        >
          <label class="inline">
            <input type="checkbox" checked={f.forwarding.enabled} onChange={(e) => setF({ ...f, forwarding: { ...f.forwarding, enabled: e.currentTarget.checked } })} /> Forward my mail
          </label>
          <label>
            Forward to address <input type="email" value={f.forwarding.to} onInput={(e) => setF({ ...f, forwarding: { ...f.forwarding, to: e.currentTarget.value } })} />
          </label>
          <label class="inline">
            <input type="checkbox" checked={f.forwarding.keepCopy} onChange={(e) => setF({ ...f, forwarding: { ...f.forwarding, keepCopy: e.currentTarget.checked } })} /> Keep a copy here
          </label>
          <button type="submit">Save forwarding</button>
          <p role="status">{fwdStatus}</p>
        </form>
      </Section>
    </>
  );
}
