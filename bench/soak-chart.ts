/**
 * @module bench/soak-chart — the SVG chart of `npm run soak` (bench/results/soak.svg): memory, throughput and
 * event-loop delay over time, one panel each, sharing the time axis, with the end of the warm-up marked.
 *
 * Hand-written SVG rather than a charting library: three line panels need a hundred lines, and the file must
 * render on GitHub (no scripts, no external fonts or styles) where the README shows it.
 */
import { HTTP_KINDS, LIMITS, type SoakReport } from './soak-report.ts';

export type Series = { label: string; color: string; values: number[]; dashed?: boolean };
export type Panel = { title: string; unit: string; series: Series[]; limit?: { value: number; label: string } };
export type Chart = { title: string; subtitle: string; times: number[]; marker?: { t: number; label: string };
  panels: Panel[] };

const W = 820;
const LEFT = 64;
const RIGHT = 170; // room for the legend
const PANEL_H = 150;
const GAP = 56;
const TOP = 80;

export function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** 1, 2 or 5 × 10^k: the step that cuts `span` into about `parts` readable ticks. */
export function niceStep(span: number, parts: number): number {
  if (!(span > 0)) return 1;
  const raw = span / parts;
  const mag = 10 ** Math.floor(Math.log10(raw));
  return ([1, 2, 5, 10].find((m) => m * mag >= raw) ?? 10) * mag;
}

const fmt = (v: number): string => String(Number(v.toPrecision(6)));
const r1 = (v: number): string => v.toFixed(1);

function panel(p: Panel, top: number, x: (t: number) => number, xTicks: number[], chart: Chart): string[] {
  const finite = p.series.flatMap((s) => s.values).filter(Number.isFinite);
  const max = Math.max(1e-9, ...finite, p.limit?.value ?? 0);
  const step = niceStep(max, 4);
  const yMax = Math.ceil(max / step) * step;
  const y = (v: number): number => top + PANEL_H - (v / yMax) * PANEL_H;
  const right = W - RIGHT;
  const out = [`<g class="panel"><text x="${LEFT}" y="${top - 10}" font-weight="bold">${escapeXml(p.title)}</text>`];
  for (let v = 0; v <= yMax + step / 2; v += step) {
    out.push(`<line x1="${LEFT}" x2="${right}" y1="${r1(y(v))}" y2="${r1(y(v))}" stroke="#e5e5e5"/>`,
      `<text x="${LEFT - 6}" y="${r1(y(v) + 4)}" text-anchor="end">${fmt(v)}</text>`);
  }
  for (const t of xTicks) {
    out.push(`<line x1="${r1(x(t))}" x2="${r1(x(t))}" y1="${top + PANEL_H}" y2="${top + PANEL_H + 4}" stroke="#333"/>`,
      `<text x="${r1(x(t))}" y="${top + PANEL_H + 16}" text-anchor="middle">${fmt(t / 60)}</text>`);
  }
  const mid = top + PANEL_H / 2;
  out.push(
    `<line x1="${LEFT}" x2="${LEFT}" y1="${top}" y2="${top + PANEL_H}" stroke="#333"/>`,
    `<line x1="${LEFT}" x2="${right}" y1="${top + PANEL_H}" y2="${top + PANEL_H}" stroke="#333"/>`,
    `<text class="y-label" transform="translate(${LEFT - 44} ${mid}) rotate(-90)" text-anchor="middle">` +
      `${escapeXml(p.unit)}</text>`,
    `<text class="x-label" x="${(LEFT + right) / 2}" y="${top + PANEL_H + 32}" text-anchor="middle">time (min)</text>`
  );
  if (chart.marker) {
    const mx = r1(x(chart.marker.t));
    out.push(`<line x1="${mx}" x2="${mx}" y1="${top}" y2="${top + PANEL_H}" stroke="#999" stroke-dasharray="4 3"/>`,
      `<text x="${r1(x(chart.marker.t) + 4)}" y="${top + 12}" fill="#777">${escapeXml(chart.marker.label)}</text>`);
  }
  if (p.limit) {
    const ly = r1(y(p.limit.value));
    out.push(`<line x1="${LEFT}" x2="${right}" y1="${ly}" y2="${ly}" stroke="#d62728" stroke-dasharray="6 4"/>`,
      `<text x="${right - 4}" y="${r1(y(p.limit.value) - 4)}" text-anchor="end" fill="#d62728">` +
        `${escapeXml(p.limit.label)}</text>`);
  }
  p.series.forEach((s, i) => {
    // A missing value (NaN) breaks the line rather than drawing it to zero.
    const cmds: string[] = [];
    let pen = 'M';
    s.values.forEach((v, j) => {
      if (!Number.isFinite(v)) pen = 'M';
      else {
        cmds.push(`${pen}${r1(x(chart.times[j]!))} ${r1(y(v))}`);
        pen = 'L';
      }
    });
    const d = cmds.join(' ');
    const dash = s.dashed ? ' stroke-dasharray="5 3"' : '';
    out.push(`<path class="series" data-label="${escapeXml(s.label)}" d="${d}" fill="none" stroke="${s.color}" ` +
      `stroke-width="1.8"${dash}/>`);
    const ly = top + 8 + i * 18;
    out.push(`<line x1="${right + 14}" x2="${right + 34}" y1="${ly}" y2="${ly}" stroke="${s.color}" ` +
      `stroke-width="2"${dash}/>`, `<text x="${right + 40}" y="${ly + 4}">${escapeXml(s.label)}</text>`);
  });
  out.push('</g>');
  return out;
}

/** Panels stacked over one time axis (`times` in seconds, shown in minutes). */
export function lineChart(c: Chart): string {
  const last = Math.max(1, ...c.times);
  const step = niceStep(last / 60, 6) * 60;
  // The axis ends on a tick: a run that stopped a few ms short of 2 min still reads as 2 min.
  const end = Math.ceil(last / step - 0.01) * step;
  const x = (t: number): number => LEFT + (t / end) * (W - LEFT - RIGHT);
  const xTicks = Array.from({ length: Math.round(end / step) + 1 }, (_, i) => i * step);
  const h = TOP + c.panels.length * (PANEL_H + GAP);
  const body = c.panels.flatMap((p, i) => panel(p, TOP + i * (PANEL_H + GAP), x, xTicks, c));
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${h}" viewBox="0 0 ${W} ${h}" role="img" ` +
      'font-family="Helvetica, Arial, sans-serif" font-size="11" fill="#222">',
    `<title>${escapeXml(c.title)}</title>`,
    `<rect width="${W}" height="${h}" fill="#fff"/>`,
    `<text x="${LEFT}" y="22" font-size="14" font-weight="bold">${escapeXml(c.title)}</text>`,
    `<text x="${LEFT}" y="40" fill="#555">${escapeXml(c.subtitle)}</text>`,
    ...body,
    '</svg>',
    '',
  ].join('\n');
}

/**
 * The soak report as three panels: memory (RSS, V8 heap), throughput (HTTP, MLLP), event-loop delay — the
 * gateway's, and an idle Node process's on the same machine (how much of it the machine's other work explains).
 */
export function soakChart(r: SoakReport): string {
  const s = r.samples;
  const http = s.map((x) => HTTP_KINDS.reduce((n, k) => n + x.perSecond[k], 0));
  const errors = s.map((x) => Object.values(x.errors).reduce((n, e) => n + e, 0) / x.seconds);
  const m = r.machine;
  return lineChart({
    title: `Frontdesk soak: ${r.settings.httpRate} req/s FHIR + ${r.settings.mllpRate} msg/s MLLP, ` +
      `${r.settings.minutes} min — ${r.pass ? 'pass' : 'FAIL'}`,
    subtitle: `${r.date.slice(0, 10)}, ${m.cpus} × ${m.model}, Node ${r.node}, PostgreSQL ${r.postgres} ` +
      `(${r.database}); one point per ${r.settings.sampleS} s`,
    times: s.map((x) => x.t),
    marker: { t: r.settings.warmupS, label: 'end of warm-up' },
    panels: [
      {
        title: 'Gateway memory', unit: 'MiB', series: [
          { label: 'RSS', color: '#1f77b4', values: s.map((x) => x.memoryMiB.rss) },
          { label: 'V8 heap total', color: '#ff7f0e', values: s.map((x) => x.memoryMiB.heapTotal), dashed: true },
          { label: 'V8 heap used', color: '#ff7f0e', values: s.map((x) => x.memoryMiB.heapUsed) },
          { label: 'heap after major GC', color: '#8c564b',
            values: s.map((x) => x.memoryMiB.heapAfterMajorGc ?? NaN) },
        ],
      },
      {
        title: 'Throughput (answered)', unit: 'per second', series: [
          { label: 'FHIR HTTP req/s', color: '#2ca02c', values: http },
          { label: 'MLLP ADT^A04 msg/s', color: '#9467bd', values: s.map((x) => x.perSecond.adt) },
          ...(errors.some((e) => e > 0) ? [{ label: 'errors/s', color: '#d62728', values: errors }] : []),
        ],
      },
      {
        title: 'Event-loop delay (per interval)', unit: 'ms',
        limit: { value: LIMITS.eventLoopP99Ms, label: 'p99 limit' },
        series: [
          { label: 'p99', color: '#d62728', values: s.map((x) => x.eventLoopMs.p99) },
          { label: 'p50', color: '#8c564b', values: s.map((x) => x.eventLoopMs.p50) },
          { label: 'idle Node p99', color: '#999', values: s.map((x) => x.idleNodeLoopMs.p99), dashed: true },
        ],
      },
    ],
  });
}
