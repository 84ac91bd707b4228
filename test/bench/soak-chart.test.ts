import { describe, expect, it } from 'vitest';
import { lineChart, niceStep, soakChart } from '../../bench/soak-chart.ts';
import { judge, KINDS, rssEnds, type Kind, type Sample, type SoakReport } from '../../bench/soak-report.ts';

const per = (v: number) => Object.fromEntries(KINDS.map((k) => [k, v])) as Record<Kind, number>;

function sample(t: number, rss: number, loopP99 = 4): Sample {
  return {
    t, seconds: 5,
    memoryMiB: { rss, heapUsed: rss / 3, heapTotal: rss / 2, external: 4, heapAfterMajorGc: t < 30 ? null : 50 },
    eventLoopMs: { p50: 1, p99: loopP99, max: loopP99 * 2 }, idleNodeLoopMs: { p50: 0.1, p99: 2, max: 3 },
    pgConnections: { total: 10, active: 1, idle: 9 },
    cpuPercent: { gateway: 40, postgres: 20, client: 5, machine: 50 },
    perSecond: { ...per(10), adt: 10 }, errors: per(0), p99Ms: per(12), shed: 0,
  };
}

function report(samples: Sample[]): SoakReport {
  const totals = Object.fromEntries(KINDS.map((k) => [k, { ok: 100, errors: 0 }])) as SoakReport['totals'];
  return {
    date: '2026-01-05T12:00:00.000Z', node: 'v24.0.0', postgres: '18.4', database: 'embedded',
    machine: { cpus: 2, model: 'Test <CPU> & co', memoryGiB: 8, kernel: '6.0', loadAverage: [1, 1, 1] },
    settings: {
      minutes: 2, httpRate: 50, mllpRate: 10, sampleS: 5, warmupS: 60, mllpConnections: 2, maxInFlight: 200,
      seedPatients: 500, mix: { read: 40, 'search-family': 15, 'search-identifier': 15, create: 15, update: 15 },
    },
    samples, totals, shed: 0, eventLoopAfterWarmupMs: { p50: 1, p99: 4, max: 9 },
    idleNodeLoopAfterWarmupMs: { p50: 0.1, p99: 2, max: 3 },
    rssMiB: rssEnds(samples, 60), criteria: [], pass: true,
  };
}

/** Every element closed, in order: what an XML parser would accept of the tags (attributes are not checked). */
function balanced(svg: string): boolean {
  const open: string[] = [];
  for (const [, close, name, self] of svg.matchAll(/<(\/?)([a-zA-Z]+)[^>]*?(\/?)>/g)) {
    if (self) continue;
    if (!close) open.push(name!);
    else if (open.pop() !== name) return false;
  }
  return open.length === 0;
}

// The last sample a few ms short of 2 min, as a run's last one often is.
const samples = Array.from({ length: 24 }, (_, i) => sample(5 * (i + 1) - (i === 23 ? 0.006 : 0), 180 + (i % 3)));

describe('soak chart (bench/results/soak.svg)', () => {
  const svg = soakChart(report(samples));

  it('is one well-formed SVG document with its namespace and a title', () => {
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trim().endsWith('</svg>')).toBe(true);
    expect(balanced(svg)).toBe(true);
    expect(svg).toMatch(/<title>Frontdesk soak: 50 req\/s FHIR \+ 10 msg\/s MLLP, 2 min — pass<\/title>/);
    expect(svg).not.toMatch(/NaN|undefined|Infinity/);
  });

  it('draws memory, throughput and event-loop delay, one line per series with a point per sample', () => {
    const paths = [...svg.matchAll(/<path class="series" data-label="([^"]+)" d="([^"]+)"/g)];
    expect(paths.map((p) => p[1])).toEqual([
      'RSS', 'V8 heap total', 'V8 heap used', 'heap after major GC', 'FHIR HTTP req/s', 'MLLP ADT^A04 msg/s',
      'p99', 'p50', 'idle Node p99',
    ]);
    const points = (d: string) => d.split(/[ML]/).filter((c) => c.trim()).length;
    for (const [, label, d] of paths) expect(points(d!)).toBe(label === 'heap after major GC' ? 19 : 24);
    expect(svg).toContain('>Gateway memory<');
    expect(svg).toContain('>p99 limit<');
  });

  it('labels both axes of every panel, with time in minutes', () => {
    expect(svg.match(/class="x-label"[^>]*>time \(min\)</g)).toHaveLength(3);
    const yLabels = [...svg.matchAll(/class="y-label"[^>]*>([^<]+)</g)].map((m) => m[1]);
    expect(yLabels).toEqual(['MiB', 'per second', 'ms']);
    for (const minute of ['0', '0.5', '1', '1.5', '2']) expect(svg).toContain(`text-anchor="middle">${minute}</text>`);
    expect(svg).toContain('>end of warm-up<');
  });

  it('escapes text it did not write itself', () => {
    expect(svg).toContain('Test &#60;CPU&#62; &#38; co');
    expect(svg).not.toContain('<CPU>');
  });

  it('adds an errors line only when there were errors', () => {
    expect(svg).not.toContain('errors/s');
    const bad = samples.map((s, i) => (i === 3 ? { ...s, errors: { ...s.errors, read: 2 } } : s));
    expect(soakChart(report(bad))).toContain('data-label="errors/s"');
  });

  it('breaks a line at a missing value instead of drawing it to zero', () => {
    const chart = lineChart({
      title: 't', subtitle: 's', times: [0, 60, 120],
      panels: [{ title: 'p', unit: 'u', series: [{ label: 'a', color: '#000', values: [1, NaN, 3] }] }],
    });
    expect(/ d="(M[^"]*)"/.exec(chart)![1]!.match(/M/g)).toHaveLength(2);
  });

  it('picks 1, 2 or 5 × 10^k ticks', () => {
    expect(niceStep(2, 6)).toBeCloseTo(0.5);
    expect(niceStep(180, 4)).toBe(50);
    expect(niceStep(0, 4)).toBe(1);
  });
});

describe('soak verdict', () => {
  const steady = { totals: report(samples).totals, shed: 0, eventLoopAfterWarmupMs: { p50: 1, p99: 4, max: 9 } };

  it('passes a flat RSS, no errors and a quiet event loop', () => {
    expect(judge({ ...steady, rssMiB: rssEnds(samples, 60) }).every((c) => c.pass)).toBe(true);
  });

  it('fails RSS that grew more than 10% after the warm-up, but not RSS that shrank', () => {
    const growing = samples.map((s) => sample(s.t, s.t < 100 ? 200 : 230));
    expect(rssEnds(growing, 60).growth).toBeCloseTo(0.15);
    expect(judge({ ...steady, rssMiB: rssEnds(growing, 60) })[1]!.pass).toBe(false);
    const shrinking = samples.map((s) => sample(s.t, s.t < 100 ? 230 : 200));
    expect(judge({ ...steady, rssMiB: rssEnds(shrinking, 60) })[1]!.pass).toBe(true);
  });

  it('fails on any error answer or shed operation, and on event-loop p99 at 50 ms', () => {
    const rssMiB = rssEnds(samples, 60);
    const totals = { ...steady.totals, adt: { ok: 1, errors: 1, firstError: 'adt: MSA|AE|x' } };
    const errors = judge({ ...steady, totals, rssMiB })[0];
    expect(errors).toMatchObject({ pass: false, value: expect.stringContaining('AE') });
    expect(judge({ ...steady, shed: 1, rssMiB })[0]!.pass).toBe(false);
    expect(judge({ ...steady, rssMiB, eventLoopAfterWarmupMs: { p50: 1, p99: 50, max: 80 } })[2]!.pass).toBe(false);
  });
});
