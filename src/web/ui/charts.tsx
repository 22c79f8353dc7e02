/** Small SVG line charts for the admin status page: the last hour of samples, one line per series. */

export interface Series {
  name: string;
  values: number[];
}

const COLOURS = ['#0b57d0', '#b3261e', '#146c2e', '#7d5260', '#8c5000', '#006a6a'];
const W = 320;
const H = 90;

/** One chart; its accessible name says what it shows and the latest value of each series. */
export function LineChart({ title, series, format = String }: { title: string; series: Series[]; format?: (n: number) => string }) {
  const max = Math.max(1, ...series.flatMap((s) => s.values));
  const n = Math.max(2, ...series.map((s) => s.values.length));
  const point = (v: number, i: number) => `${((i / (n - 1)) * W).toFixed(1)},${(H - (v / max) * (H - 4) - 2).toFixed(1)}`;
  const latest = series.map((s) => `${s.name} ${format(s.values[s.values.length - 1] ?? 0)}`).join(', ');
  return (
    <figure class="chart">
      <svg role="img" aria-label={`${title}: ${latest || 'no data'}`} viewBox={`0 0 ${W} ${H}`} width={W} height={H}>
        <rect x="0" y="0" width={W} height={H} fill="none" stroke="#d0d0d0" />
        {series.map((s, k) => (
          <polyline key={s.name} fill="none" stroke={COLOURS[k % COLOURS.length]} stroke-width="1.5" points={s.values.map(point).join(' ')} />
        ))}
      </svg>
      <figcaption>
        {title} (max {format(max)}): {series.map((s, k) => (
          <span key={s.name} style={{ color: COLOURS[k % COLOURS.length] }}>
            {s.name} {format(s.values[s.values.length - 1] ?? 0)}{' '}
          </span>
        ))}
      </figcaption>
    </figure>
  );
}
