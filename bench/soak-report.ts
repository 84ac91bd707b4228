/**
 * @module bench/soak-report — what `npm run soak` (bench/soak.ts) records and how it is judged: one sample per
 * interval, the warm-up rule, the pass criteria and the text printed at the end. Pure: no I/O but the file write.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Histogram } from 'node:perf_hooks';
import type { Meta } from './load-report.ts';

export const HTTP_KINDS = ['read', 'search-family', 'search-identifier', 'create', 'update'] as const;
export const KINDS = [...HTTP_KINDS, 'adt'] as const;
export type HttpKind = (typeof HTTP_KINDS)[number];
export type Kind = (typeof KINDS)[number];

/** One interval, ending `t` seconds after the load started. Memory in MiB, delays and latencies in ms. */
export type Sample = {
  t: number; seconds: number;
  memoryMiB: { rss: number; heapUsed: number; heapTotal: number; external: number; heapAfterMajorGc: number | null };
  eventLoopMs: Omit<Delay, 'count'>;
  /** The same probe in the orchestrator, idle between samples: the delay the busy machine alone causes. */
  idleNodeLoopMs: Omit<Delay, 'count'>;
  pgConnections: { total: number; active: number; idle: number };
  /** % of one core (gateway, PostgreSQL's processes, load client) and % of the whole machine. */
  cpuPercent: { gateway: number; postgres: number | null; client: number; machine: number };
  /** Successful answers per second, errors in the interval, p99 latency of the successful ones. */
  perSecond: Record<Kind, number>; errors: Record<Kind, number>; p99Ms: Record<Kind, number>;
  /** Operations not sent because too many were already waiting for an answer (the gateway fell behind). */
  shed: number;
};
export type Totals = Record<Kind, { ok: number; errors: number; firstError?: string }>;
export type Criterion = { name: string; value: string; limit: string; pass: boolean };
export type Settings = {
  minutes: number; httpRate: number; mllpRate: number; mix: Record<HttpKind, number>; sampleS: number;
  warmupS: number; mllpConnections: number; maxInFlight: number; seedPatients: number;
};
export type SoakReport = {
  date: string; node: string; postgres: string; database: 'embedded' | 'DATABASE_URL'; machine: Meta['machine'];
  settings: Settings; samples: Sample[]; totals: Totals; shed: number;
  /** Event-loop delay over the whole run after the warm-up (one histogram, not a mean of the intervals). */
  eventLoopAfterWarmupMs: Omit<Delay, 'count'>; idleNodeLoopAfterWarmupMs: Omit<Delay, 'count'>;
  rssMiB: { afterWarmup: number; end: number; growth: number };
  criteria: Criterion[]; pass: boolean;
};

/** Event-loop delay, ms: how late the loop ran a timer that was due. */
export type Delay = { p50: number; p99: number; max: number; count: number };

/** 10 ms, perf_hooks' default: fine enough for a 50 ms limit, cheap enough not to add to what it measures. */
export const LOOP_RESOLUTION_MS = 10;

/**
 * A `monitorEventLoopDelay` histogram as delays. It records the whole time between two runs of its timer, so an
 * idle loop reads 10 ms: the resolution is taken off (as @fastify/under-pressure does), leaving the lateness.
 */
export function delayOf(h: Histogram): Delay {
  const ms = (ns: number): number => Math.max(0, ns / 1e6 - LOOP_RESOLUTION_MS);
  return { p50: ms(h.percentile(50)), p99: ms(h.percentile(99)), max: ms(h.max), count: h.count };
}

export const LIMITS = { rssGrowth: 0.1, eventLoopP99Ms: 50 } as const;

/**
 * The first 20% of the run, but at least a minute (JIT, schema caches, the pool's connections and V8's heap
 * sizing all settle within the first tens of seconds here) and never more than half a short run.
 */
export function warmupSeconds(runS: number): number {
  return Math.min(runS / 2, Math.max(60, runS * 0.2));
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)] ?? NaN;

/**
 * RSS after the warm-up and at the end: the median of three samples each (15 s at the default interval), so one
 * sample taken just before a major GC does not decide the verdict.
 */
export function rssEnds(samples: Sample[], warmupS: number): SoakReport['rssMiB'] {
  const steady = samples.filter((s) => s.t >= warmupS);
  const afterWarmup = median(steady.slice(0, 3).map((s) => s.memoryMiB.rss));
  const end = median(steady.slice(-3).map((s) => s.memoryMiB.rss));
  return { afterWarmup, end, growth: end / afterWarmup - 1 };
}

const pct = (x: number): string => `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)}%`;

/** The verdict: no error answers (nor operations shed), RSS not growing past 10%, event-loop p99 under 50 ms. */
export function judge(r: Pick<SoakReport, 'totals' | 'shed' | 'rssMiB' | 'eventLoopAfterWarmupMs'>): Criterion[] {
  const errors = KINDS.reduce((n, k) => n + r.totals[k].errors, 0);
  const first = KINDS.filter((k) => r.totals[k].firstError).map((k) => `${k}: ${r.totals[k].firstError}`);
  const { growth } = r.rssMiB;
  return [
    {
      name: 'no error answers', value: `${errors} errors, ${r.shed} shed${first.length ? ` (${first[0]})` : ''}`,
      limit: '0', pass: errors === 0 && r.shed === 0,
    },
    {
      // A smaller RSS at the end is memory handed back, not a leak: only growth fails.
      name: 'RSS at the end vs after warm-up', value: Number.isFinite(growth) ? pct(growth) : 'no samples',
      limit: `≤ ${pct(LIMITS.rssGrowth)}`, pass: growth <= LIMITS.rssGrowth,
    },
    {
      name: 'event-loop delay p99 after warm-up', value: `${r.eventLoopAfterWarmupMs.p99.toFixed(1)} ms`,
      limit: `< ${LIMITS.eventLoopP99Ms} ms`, pass: r.eventLoopAfterWarmupMs.p99 < LIMITS.eventLoopP99Ms,
    },
  ];
}

export function summaryText(r: SoakReport): string {
  const s = r.settings;
  const m = r.machine;
  const steady = r.samples.filter((x) => x.t >= s.warmupS);
  const range = (f: (x: Sample) => number): string => {
    const v = steady.map(f);
    return v.length ? `${Math.min(...v).toFixed(0)}–${Math.max(...v).toFixed(0)}` : 'n/a';
  };
  const runS = r.samples.at(-1)?.t ?? 0;
  const floors = steady.flatMap((x) => x.memoryMiB.heapAfterMajorGc ?? []);
  const gcFloor = floors.length
    ? `just after a major GC ${floors[0]!.toFixed(0)} → ${floors.at(-1)!.toFixed(0)} MiB (first reading → last)`
    : 'no major GC after warm-up';
  const lines = [
    `Soak ${s.minutes} min (warm-up ${s.warmupS.toFixed(0)} s): ${s.httpRate} req/s HTTP + ${s.mllpRate} msg/s ` +
      `MLLP; ${m.cpus} × ${m.model}, ${m.memoryGiB} GiB, load average ${m.loadAverage.join(' ')}; Node ${r.node}, ` +
      `PostgreSQL ${r.postgres} (${r.database}); ${r.date}`,
    '',
    '| kind | answered | per s | errors | worst interval p99 ms |',
    '| --- | --- | --- | --- | --- |',
    ...KINDS.map((k) => `| ${k} | ${r.totals[k].ok} | ${(r.totals[k].ok / Math.max(1, runS)).toFixed(1)} | ` +
      `${r.totals[k].errors} | ${Math.max(0, ...r.samples.map((x) => x.p99Ms[k])).toFixed(0)} |`),
    '',
    `RSS ${r.rssMiB.afterWarmup.toFixed(0)} MiB after warm-up, ${r.rssMiB.end.toFixed(0)} MiB at the end; heap used ` +
      `${range((x) => x.memoryMiB.heapUsed)} MiB after warm-up; ${gcFloor}`,
    `Event-loop delay after warm-up: p50 ${r.eventLoopAfterWarmupMs.p50.toFixed(1)} ms, p99 ` +
      `${r.eventLoopAfterWarmupMs.p99.toFixed(1)} ms, max ${r.eventLoopAfterWarmupMs.max.toFixed(0)} ms ` +
      `(an idle Node process beside it: p99 ${r.idleNodeLoopAfterWarmupMs.p99.toFixed(1)} ms)`,
    `PostgreSQL client connections: ${range((x) => x.pgConnections.total)}; gateway CPU ` +
      `${range((x) => x.cpuPercent.gateway)}% of a core, machine ${range((x) => x.cpuPercent.machine)}% busy`,
    '',
    ...r.criteria.map((c) => `${c.pass ? 'PASS' : 'FAIL'}  ${c.name}: ${c.value} (limit ${c.limit})`),
  ];
  return lines.join('\n');
}

export async function writeReport(file: string, r: SoakReport): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, JSON.stringify(r, null, 2) + '\n');
}
