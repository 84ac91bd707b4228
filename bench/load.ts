/**
 * `npm run bench:load [-- --profile]`: what each front-office operation costs the gateway under closed-loop load
 * — FHIR create (POST Patient) and read by id at 1, 8 and 32 concurrent clients, ADT^A04 over MLLP on 8
 * connections each waiting for its ACK — and, because a 2-core machine shared with others is noisy, what it costs
 * in CPU per operation (whole machine, the gateway's Node process, PostgreSQL's processes) and in rows written:
 * figures that stay comparable between runs where throughput does not (issue 15, points 4 and 5).
 *
 * Three kinds of process, so that each one's CPU is its own: this one (orchestrates, reads /proc, counts rows),
 * the gateway (bench/load-server.ts, one process per scenario, owning the embedded PostgreSQL as `npm start`
 * does), and the load generator (bench/load-client.ts). Each gateway row sits beside a baseline measured in the
 * same run on the same database: a bare autocommit INSERT of one jsonb row (create), a primary-key SELECT (read),
 * both through postgres.js in a process of their own, and a parse-only MLLP echo driven by the same client (ADT).
 * Two floors bound what any design could reach: pgbench writing the same rows with no Node, and (create, read)
 * the gateway's HTTP stack answering from memory (bench/load-http-floor.ts).
 *
 * Writes bench/results/latest.json and prints a Markdown table. With `--profile` each scenario's gateway runs
 * under `--cpu-prof` (bench/results/profiles) and the top functions by self time are printed by subsystem.
 * Options: BENCH_SECONDS (measured seconds per row, default 5), BENCH_WARMUP (seconds, default 1),
 * BENCH_CONCURRENCY (HTTP, default 1,8,32), BENCH_MLLP_CONNECTIONS (default 8), BENCH_SCENARIOS (default
 * create,read,adt); DATABASE_URL to use a server instead of the embedded one (PostgreSQL CPU is then the whole
 * server's, other databases' work included, or n/a when its processes are not visible from here).
 */
import { readFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Sql } from 'postgres';
import { connect } from '../src/store/db.ts';
import { socketFor } from '../src/store/embedded.ts';
import { Children, stopChild, stopLeftoverPostgres } from './children.ts';
import { Child, type RunResult } from './load-loop.ts';
import { havePgbench, measureFloor, prepareFloor } from './load-pgbench.ts';
import { formatSummary, summarize, type ProfileSummary } from './load-profile.ts';
import {
  machineBusyMs, postgresCpuMs, postmasterOf, processCpuMs, readPostmaster,
} from './load-proc.ts';
import { machine, markdown, writeResults, type Measured, type Meta, type Row } from './load-report.ts';
import type { BaselineReady, GatewayReady } from './load-server.ts';

const env = process.env;
const PROFILE = process.argv.includes('--profile');
const SECONDS = Number(env.BENCH_SECONDS ?? 5);
const WARMUP = Number(env.BENCH_WARMUP ?? 1);
const CONCURRENCY = (env.BENCH_CONCURRENCY ?? '1,8,32').split(',').map(Number);
const MLLP_CONNECTIONS = Number(env.BENCH_MLLP_CONNECTIONS ?? 8);
const ONLY = (env.BENCH_SCENARIOS ?? 'create,read,adt').split(',');
/** Patients (and baseline rows) there are to read before the read rows. */
const READ_IDS = 2000;
const RESULTS = join(import.meta.dirname, 'results');
const RUN = Date.now().toString(36).slice(-7);
const TABLE = `bench_load_${RUN}`;
const PGBENCH = havePgbench();

type Scenario = {
  name: string; label: string; op: string; concurrency: number[];
  baseline: { op: string; label: string; driver: 'baseline' | 'client' };
  /** The same request to the HTTP stack alone (bench/load-http-floor.ts), driven by the load client. */
  httpFloor?: string;
};
const SCENARIOS: Scenario[] = [
  {
    name: 'create', label: 'FHIR create (POST Patient)', op: 'create', concurrency: CONCURRENCY,
    baseline: { op: 'sql-insert', label: 'autocommit INSERT of one jsonb row (postgres.js)', driver: 'baseline' },
    httpFloor: 'create-http-floor',
  },
  {
    name: 'read', label: 'FHIR read by id (GET Patient/{id})', op: 'read', concurrency: CONCURRENCY,
    baseline: { op: 'sql-select', label: 'primary-key SELECT (postgres.js)', driver: 'baseline' },
    httpFloor: 'read-http-floor',
  },
  {
    name: 'adt', label: 'ADT^A04 over MLLP', op: 'adt', concurrency: [MLLP_CONNECTIONS],
    baseline: { op: 'adt-echo', label: 'parse-only MLLP echo, AA at once, no database', driver: 'client' },
  },
];

const children = new Children({ BENCH_RUN: RUN });

type Ctx = { gateway: Child<GatewayReady>; client: Child<unknown>; sql: Sql; postmasters: number[] };

/** Transaction id now (32 bits, as `xmin` holds it); taking it uses one, which writes no row. */
async function xid(sql: Sql): Promise<number> {
  const [r] = await sql<{ x: string }[]>`SELECT pg_current_xact_id()::text AS x`;
  return Number(BigInt(r!.x) % 2n ** 32n);
}

/** Live row versions created between two transaction ids, over every table of the database (after the window). */
async function rowsWritten(sql: Sql, from: number, to: number): Promise<number> {
  const tables = await sql<{ s: string; t: string }[]>`
    SELECT n.nspname AS s, c.relname AS t FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema')
      AND n.nspname NOT LIKE 'pg_toast%'`;
  const id = (s: string): string => `"${s.replace(/"/g, '""')}"`;
  const counts = tables.map(({ s, t }) => `SELECT count(*) AS n FROM ONLY ${id(s)}.${id(t)}
    WHERE xmin::text::bigint > ${from} AND xmin::text::bigint < ${to}`);
  const all = counts.join(' UNION ALL ');
  const [r] = await sql.unsafe<{ n: string }[]>(`SELECT coalesce(sum(n), 0)::text AS n FROM (${all}) x`);
  return Number(r!.n);
}

/**
 * One row: the driver warms up and drains; the gateway settles; CPU readings; the measured operations; the
 * gateway settles again (its leftover work belongs to them); readings. `serverPid`: the process whose CPU is
 * "Node" (the gateway, or the baseline process).
 */
async function measure(ctx: Ctx, driver: Child<unknown>, serverPid: number, op: string, concurrency: number) {
  const sample = () => ({
    wall: performance.now(), hr: Number(process.hrtime.bigint() / 1000n), machine: machineBusyMs(),
    node: processCpuMs(serverPid), client: processCpuMs(ctx.client.pid), pg: postgresCpuMs(ctx.postmasters),
  });
  const settle = async (): Promise<number> => {
    const t = performance.now();
    await ctx.gateway.call('settle');
    return (performance.now() - t) / 1000;
  };
  let s0 = sample();
  let x0 = 0;
  const args = { op, concurrency, warmupS: WARMUP, seconds: SECONDS };
  const r = await driver.call<RunResult>('run', args, async () => {
    await settle();
    x0 = await xid(ctx.sql);
    s0 = sample();
  });
  const settleS = await settle();
  const s1 = sample();
  const rows = await rowsWritten(ctx.sql, x0, await xid(ctx.sql));
  const per = (a: number, b: number): number => (b - a) / Math.max(1, r.ops);
  const windowS = (s1.wall - s0.wall) / 1000;
  const pg = Number.isFinite(s1.pg - s0.pg) ? per(s0.pg, s1.pg) : null;
  const [machineMs, node, clientMs] = [per(s0.machine, s1.machine), per(s0.node, s1.node), per(s0.client, s1.client)];
  const measured: Measured = {
    ...r, windowS, settleS, perSecond: r.ops / windowS, rowsPerOp: rows / Math.max(1, r.ops),
    cpuMsPerOp: {
      machine: machineMs, node, postgres: pg, client: clientMs, unattributed: machineMs - node - (pg ?? 0) - clientMs,
    },
  };
  return { measured, window: [s0.hr, s1.hr] as [number, number] };
}

const dir = env.DATABASE_URL ? undefined : await mkdtemp(join(tmpdir(), 'frontdesk-bench-load-'));
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, async () => {
    console.error(`\n${signal}: stopping`);
    await children.stopAll();
    if (dir) await stopLeftoverPostgres(join(dir, 'pg'));
    if (dir) await rm(dir, { recursive: true, force: true });
    process.exit(130);
  });
}
const client = children.fork<unknown>('load-client.ts');
const rows: Row[] = [];
const profiles: ProfileSummary[] = [];
const failed: string[] = [];
let postgresVersion = '';
try {
  await client.ready;
  const scenarios = SCENARIOS.filter((s) => ONLY.includes(s.name));
  for (const sc of scenarios) {
    const profileName = `${sc.name}-${RUN}.cpuprofile`;
    const gateway = children.fork<GatewayReady>('load-server.ts', {
      args: ['gateway'], env: dir ? { FRONTDESK_DATA_DIR: dir } : {},
      execArgv: PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${join(RESULTS, 'profiles')}`, `--cpu-prof-name=${profileName}`] : [],
    });
    let baseline: Child<BaselineReady> | undefined;
    let sql: Sql | undefined;
    let postmaster: number | undefined;
    const windows: [number, number][] = [];
    let ops = 0;
    try {
      const g = await gateway.ready;
      let url = env.DATABASE_URL!;
      let socket: string | undefined;
      let socketDir: string | undefined;
      if (dir) {
        const pm = readPostmaster(join(dir, 'pg'));
        const password = (await readFile(join(dir, 'pg-password'), 'utf8')).trim();
        url = `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${pm.port}/frontdesk`;
        socket = socketFor(join(dir, 'pg'), pm.port);
        postmaster = pm.pid;
        socketDir = pm.socketDir;
      }
      sql = connect(url, 1, socket);
      if (PGBENCH) await prepareFloor(sql, TABLE);
      postgresVersion ||= (await sql<{ v: string }[]>`SELECT current_setting('server_version') AS v`)[0]!.v;
      baseline = children.fork<BaselineReady>('load-server.ts', {
        args: ['baseline'], env: { BENCH_PG_URL: url, BENCH_PG_SOCKET: socket ?? '', BENCH_TABLE: TABLE },
      });
      const b = await baseline.ready;
      await client.call('target', {
        httpPort: g.httpPort, mllpPort: g.mllpPort, echoPort: b.mllpPort, httpFloorPort: b.httpPort,
      });
      if (sc.name === 'read') {
        await client.call('prepare', { count: READ_IDS });
        await baseline.call('prepare', { count: READ_IDS });
      }
      const [{ pid: backend } = { pid: 0 }] = await sql<{ pid: number }[]>`SELECT pg_backend_pid() AS pid`;
      const ctx: Ctx = { gateway, client, sql, postmasters: postmaster ? [postmaster] : postmasterOf(backend) };
      for (const c of sc.concurrency) {
        const baseDriver = sc.baseline.driver === 'client' ? client : baseline;
        const base = await measure(ctx, baseDriver, baseline.pid, sc.baseline.op, c);
        const gw = await measure(ctx, client, gateway.pid, sc.op, c);
        const http = sc.httpFloor ? await measure(ctx, client, baseline.pid, sc.httpFloor, c) : undefined;
        const floor = PGBENCH ? await measureFloor({
          url, socketDir, table: TABLE, concurrency: c, seconds: SECONDS, rows: gw.measured.rowsPerOp ?? 0,
          reads: sc.name === 'read',
        }, ctx.postmasters) : undefined;
        windows.push(gw.window);
        ops += gw.measured.ops;
        rows.push({
          scenario: sc.name, label: sc.label, baselineLabel: sc.baseline.label, concurrency: c,
          gateway: gw.measured, baseline: base.measured, floor, ...(http ? { httpFloor: http.measured } : {}),
          ratio: {
            throughput: gw.measured.perSecond / base.measured.perSecond,
            machineCpu: gw.measured.cpuMsPerOp.machine / base.measured.cpuMsPerOp.machine,
          },
        });
        for (const [who, m] of [['gateway', gw.measured], ['baseline', base.measured]] as const) {
          if (m.failures > 0) failed.push(`${sc.name} c=${c} ${who}: ${m.failures} failed (first: ${m.firstFailure})`);
        }
        const [gm, bm] = [gw.measured, base.measured];
        console.error(`${sc.name} c=${c}: ${gm.perSecond.toFixed(0)}/s, ${gm.cpuMsPerOp.machine.toFixed(2)} ` +
          `machine ms/op; baseline ${bm.perSecond.toFixed(0)}/s`);
      }
      if (!dir && sc === scenarios.at(-1)) await sql`DROP TABLE IF EXISTS ${sql(TABLE)}, ${sql(`${TABLE}_floor`)}`;
    } finally {
      if (baseline) await stopChild(baseline);
      await sql?.end({ timeout: 5 });
      await stopChild(gateway);
      if (dir) await stopLeftoverPostgres(join(dir, 'pg'));
    }
    if (PROFILE) profiles.push(await summarize(sc.label, join(RESULTS, 'profiles', profileName), windows, ops));
  }
  const meta: Meta = {
    date: new Date().toISOString(), node: process.version, postgres: postgresVersion,
    database: dir ? 'embedded' : 'DATABASE_URL', machine: machine(),
    settings: { seconds: SECONDS, warmupS: WARMUP, mllpConnections: MLLP_CONNECTIONS, profile: PROFILE },
    accounting: {
      cpu: 'busy time from /proc (USER_HZ ticks) over the window, ÷ operations. machine: /proc/stat all cores ' +
        '(idle, iowait out; includes the load client and everything else running). Node: /proc/<pid>/stat ' +
        'utime+stime of the gateway process (all its threads), or of the baseline process on baseline lines. ' +
        'PostgreSQL: the postmaster, its live children and its reaped children (cutime+cstime). load client: ' +
        'the generator process (idle on the SQL baselines, whose process drives itself).',
      rows: 'live row versions whose xmin falls in the window (every table of the database, counted after the ' +
        'window): inserts and the last version of updated rows; deletes and versions superseded in the window ' +
        'are not counted. pg_stat_database counters are not used: backends flush them up to 10 s late.',
    },
  };
  await writeResults(join(RESULTS, 'latest.json'), meta, rows, profiles);
  console.log('\n' + markdown(meta, rows));
  for (const p of profiles) console.log(formatSummary(p));
} finally {
  await stopChild(client);
  if (dir) await rm(dir, { recursive: true, force: true });
}
if (failed.length > 0) {
  console.error(`\nFAILED:\n${failed.join('\n')}`);
  process.exitCode = 1;
}
