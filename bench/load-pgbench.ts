/**
 * The PostgreSQL floor of a bench/load row: `pgbench` (when it is on PATH) running, at the same concurrency
 * and for the same seconds, transactions that do the same row work as one gateway operation — a create's rows
 * inserted in one transaction (jsonb of a Patient's size), a read's primary-key SELECT plus the rows its audit
 * record writes, a message's rows — with no Node, no HTTP and no client library. What is left between the
 * gateway and this line is the gateway's own cost; what is left between this line and zero is the database's.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Sql } from 'postgres';
import type { RunResult } from './load-loop.ts';
import { machineBusyMs, postgresCpuMs, reapedChildrenCpuMs } from './load-proc.ts';
import type { Measured } from './load-report.ts';
import { quantile } from './stats.ts';

const READ_ROWS = 2000;

export type FloorArgs = {
  url: string; socketDir?: string; table: string; concurrency: number; seconds: number;
  /** Rows the gateway wrote per operation (measured in the same run), and whether the operation reads one. */
  rows: number; reads: boolean;
};

export function havePgbench(): boolean {
  return spawnSync('pgbench', ['--version'], { stdio: 'ignore' }).status === 0;
}

/** A pgbench script: read one row by primary key (when the operation reads), insert `rows` rows. */
function script(a: FloorArgs): string {
  const rows = Math.max(0, Math.round(a.rows));
  const lines = [`\\set n random(1, ${READ_ROWS})`, 'BEGIN;'];
  if (a.reads) lines.push(`SELECT content FROM ${a.table}_floor WHERE id = :n;`);
  if (rows > 0) {
    lines.push(`INSERT INTO ${a.table}_floor (content) SELECT jsonb_build_object('resourceType', 'Patient', ` +
      `'n', g, 'pad', repeat('x', 600)) FROM generate_series(1, ${rows}) g;`);
  }
  lines.push('COMMIT;');
  return lines.join('\n') + '\n';
}

/** The floor's table, with rows to read by primary key; `rows` inserted per transaction grow it. */
export async function prepareFloor(sql: Sql, table: string): Promise<void> {
  const t = `${table}_floor`;
  await sql`CREATE TABLE IF NOT EXISTS ${sql(t)} (id bigserial PRIMARY KEY, content jsonb NOT NULL)`;
  await sql`INSERT INTO ${sql(t)} (content) SELECT jsonb_build_object('resourceType', 'Patient', 'n', g)
    FROM generate_series(1, ${READ_ROWS} - (SELECT count(*) FROM ${sql(t)})::int) g`;
}

/** One floor row: pgbench's run with the machine's, PostgreSQL's and pgbench's own CPU over it. */
export async function measureFloor(a: FloorArgs, postmasters: readonly number[]): Promise<Measured> {
  const s0 = { wall: performance.now(), machine: machineBusyMs(), pg: postgresCpuMs(postmasters) };
  const c0 = reapedChildrenCpuMs();
  const r = await pgbenchFloor(a);
  const s1 = { wall: performance.now(), machine: machineBusyMs(), pg: postgresCpuMs(postmasters) };
  const per = (x: number, y: number): number => (y - x) / Math.max(1, r.ops);
  const machine = per(s0.machine, s1.machine);
  const pg = Number.isFinite(s1.pg - s0.pg) ? per(s0.pg, s1.pg) : null;
  const client = per(c0, reapedChildrenCpuMs());
  const windowS = (s1.wall - s0.wall) / 1000;
  return {
    ...r, windowS, settleS: 0, perSecond: r.ops / a.seconds, rowsPerOp: Math.round(a.rows),
    cpuMsPerOp: { machine, node: 0, postgres: pg, client, unattributed: machine - (pg ?? 0) - client },
  };
}

/** Runs pgbench; throughput and latencies from its per-transaction log (microseconds, third field). */
export async function pgbenchFloor(a: FloorArgs): Promise<RunResult> {
  const dir = await mkdtemp(join(tmpdir(), 'frontdesk-pgbench-'));
  try {
    await writeFile(join(dir, 'floor.sql'), script(a));
    const u = new URL(a.url);
    const args = [
      '-n', '-c', String(a.concurrency), '-j', String(Math.min(2, a.concurrency)), '-T', String(a.seconds),
      '-f', join(dir, 'floor.sql'), '-l', `--log-prefix=${join(dir, 'tx')}`,
      '-h', a.socketDir ?? u.hostname, '-p', u.port || '5432', '-U', decodeURIComponent(u.username || 'postgres'),
      u.pathname.slice(1) || 'postgres',
    ];
    const env = { ...process.env, PGPASSWORD: decodeURIComponent(u.password) };
    const code = await new Promise<number>((resolve, reject) => {
      const p = spawn('pgbench', args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      p.stderr.on('data', (d: Buffer) => (err += d.toString()));
      p.on('error', reject);
      p.on('exit', (c) => (c === 0 ? resolve(0) : reject(new Error(`pgbench exited ${c}: ${err.slice(-400)}`))));
    });
    const latencies: number[] = [];
    let failures = code;
    for (const f of (await readdir(dir)).filter((n) => n.startsWith('tx'))) {
      for (const line of (await readFile(join(dir, f), 'utf8')).split('\n')) {
        const fields = line.split(' ');
        if (fields.length < 3) continue;
        if (fields[2] === 'failed' || fields[2] === 'skipped') failures++;
        else latencies.push(Number(fields[2]) / 1000);
      }
    }
    latencies.sort((x, y) => x - y);
    return {
      ops: latencies.length, failures, seconds: a.seconds,
      p50: quantile(latencies, 0.5), p95: quantile(latencies, 0.95), p99: quantile(latencies, 0.99),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
