/**
 * The output of `npm run bench:load` (bench/load.ts): `bench/results/latest.json` (machine, date, versions and
 * every row with its baseline) and the Markdown table printed on stdout, one gateway line with its baseline line
 * under it and the two ratios — the figures that stay comparable when the machine is noisy.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { cpus, loadavg, release, totalmem } from 'node:os';
import type { RunResult } from './load-loop.ts';
import type { ProfileSummary } from './load-profile.ts';

/**
 * CPU ms per operation: all cores; the measured Node process; PostgreSQL's processes (null: not visible); the
 * load generator; and what of the machine's none of those spent (other work on the machine, this orchestrator,
 * the idle gateway on baseline lines, softirq time of loopback traffic).
 */
export type CpuPerOp = {
  machine: number; node: number; postgres: number | null; client: number; unattributed: number;
};
export type Measured = RunResult & {
  /** Until the gateway had settled (audit records committed): the window CPU and throughput are read over. */
  windowS: number; settleS: number; perSecond: number; cpuMsPerOp: CpuPerOp;
  /** Live row versions created per operation (null when not counted); see `rowsAccounting`. */
  rowsPerOp: number | null;
};
export type Row = {
  scenario: string; label: string; baselineLabel: string; concurrency: number;
  gateway: Measured; baseline: Measured;
  /** pgbench doing the same rows in one transaction (bench/load-pgbench.ts), when pgbench is installed. */
  floor?: Measured;
  /** The HTTP stack alone, answering from memory (bench/load-http-floor.ts): create and read. */
  httpFloor?: Measured;
  /** gateway ÷ baseline: throughput, and machine CPU per operation. */
  ratio: { throughput: number; machineCpu: number };
};
export type Meta = {
  date: string; node: string; postgres: string; database: 'embedded' | 'DATABASE_URL';
  machine: { cpus: number; model: string; memoryGiB: number; kernel: string; loadAverage: number[] };
  settings: { seconds: number; warmupS: number; mllpConnections: number; profile: boolean };
  accounting: { cpu: string; rows: string };
};

export function machine(): Meta['machine'] {
  return {
    cpus: cpus().length, model: cpus()[0]?.model ?? 'cpu', memoryGiB: Math.round(totalmem() / 2 ** 30),
    kernel: release(), loadAverage: loadavg().map((l) => Number(l.toFixed(2))),
  };
}

export async function writeResults(file: string, meta: Meta, rows: Row[], profiles: ProfileSummary[]): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, JSON.stringify({ ...meta, rows, profiles }, null, 2) + '\n');
}

const num = (v: number | null | undefined): string => {
  if (v === null || v === undefined || !Number.isFinite(v)) return 'n/a';
  return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v >= 1 ? v.toFixed(2) : v.toFixed(3);
};

function cells(m: Measured): string[] {
  const c = m.cpuMsPerOp;
  const failed = m.failures > 0 ? ` (${m.failures} failed)` : '';
  return [
    `${m.perSecond.toFixed(0)}${failed}`, num(m.p50), num(m.p95), num(m.p99),
    num(c.machine), num(c.node), num(c.postgres), num(c.client), num(m.rowsPerOp), m.settleS.toFixed(2),
  ];
}

export function markdown(meta: Meta, rows: Row[]): string {
  const m = meta.machine;
  const head = [
    `Machine: ${m.cpus} × ${m.model}, ${m.memoryGiB} GiB, Linux ${m.kernel}, ` +
      `load average ${m.loadAverage.join(' ')}; ` +
      `Node ${meta.node}, PostgreSQL ${meta.postgres} (${meta.database}); ${meta.date}`,
    `Each row: ${meta.settings.warmupS} s warm-up, then ${meta.settings.seconds} s of operations (closed loop, ` +
      'load generator in its own process), then the gateway settles (every audit record committed) inside the window.',
    ...(meta.settings.profile ? ['Profiled run: V8 sampling adds to the gateway Node CPU.'] : []),
    '',
    '| operation | conc. | ops/s | p50 ms | p95 ms | p99 ms | CPU ms/op: machine | Node | PostgreSQL | load client ' +
      '| rows/op | settle s | ops/s ÷ baseline | CPU/op ÷ baseline |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  const body = rows.flatMap((r) => [
    `| ${r.label} | ${r.concurrency} | ${cells(r.gateway).join(' | ')} | ` +
      `${r.ratio.throughput.toFixed(3)} | ${r.ratio.machineCpu.toFixed(1)}× |`,
    `| ↳ baseline: ${r.baselineLabel} | ${r.concurrency} | ${cells(r.baseline).join(' | ')} | | |`,
    ...(r.floor ? [`| ↳ floor: pgbench, the same rows/op in one transaction${r.scenario === 'read' ? ' after a PK ' +
      'SELECT' : ''}, no Node | ${r.concurrency} | ${cells(r.floor).join(' | ')} | | |`] : []),
    ...(r.httpFloor ? [`| ↳ floor: the HTTP stack alone (hono), answer from memory, no database | ${r.concurrency} ` +
      `| ${cells(r.httpFloor).join(' | ')} | | |`] : []),
  ]);
  const noisy = rows
    .flatMap((r) => [r.gateway, r.baseline])
    .some((m) => m.cpuMsPerOp.unattributed > 0.25 * m.cpuMsPerOp.machine);
  const notes = [
    '',
    ...(noisy ? ['Note: on some lines over a quarter of the machine CPU was spent outside the gateway, PostgreSQL ' +
      'and the client (see `unattributed` in latest.json): the machine was busy with other work, so compare the ' +
      'Node and PostgreSQL columns, which are per process.', ''] : []),
    `CPU: ${meta.accounting.cpu}`,
    `Rows: ${meta.accounting.rows}`,
  ];
  return [...head, ...body, ...notes].join('\n');
}
