/**
 * @module bench/soak — `npm run soak [minutes]` (default 10): does the gateway hold a steady front-office load
 * without leaking memory, stalling its event loop or answering errors (issue 16, point 4)?
 *
 * Three processes, as in bench/load.ts: this one (schedules, samples, judges), the gateway (bench/soak-server.ts,
 * owning its embedded PostgreSQL as `npm start` does) and the load generator (bench/soak-client.ts), which keeps
 * an open-loop mix of FHIR reads, creates, updates and searches and ADT^A04 over MLLP going for the whole run.
 * Every SOAK_SAMPLE_S seconds: the gateway's RSS and V8 heap, its event-loop delay, PostgreSQL's client
 * connections (pg_stat_activity), CPU from /proc (bench/load-proc.ts) and what was answered, per kind.
 *
 * Writes bench/results/soak.json and bench/results/soak.svg, prints the verdict; exit code 1 when it fails.
 * Options: SOAK_HTTP_RATE (req/s, default 50), SOAK_MLLP_RATE (msg/s, default 10), SOAK_MIX (HTTP weights,
 * default read:40,search-family:15,search-identifier:15,create:15,update:15), SOAK_SAMPLE_S (default 5),
 * SOAK_WARMUP_S (default: 20% of the run, at least 60 s, at most half), SOAK_MLLP_CONNECTIONS (default 2),
 * SOAK_MAX_IN_FLIGHT (default 200), SOAK_SEED (patients created before the run, default 500); DATABASE_URL to
 * soak against a server instead of the embedded one.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Children, stopLeftoverPostgres } from './children.ts';
import { machineBusyMs, postgresCpuMs, postmasterOf, processCpuMs } from './load-proc.ts';
import { machine } from './load-report.ts';
import type { LoadArgs, Tick } from './soak-client.ts';
import { soakChart } from './soak-chart.ts';
import {
  delayOf, HTTP_KINDS, judge, KINDS, LOOP_RESOLUTION_MS, rssEnds, summaryText, warmupSeconds, writeReport,
  type Delay, type HttpKind, type Kind, type Sample, type Settings, type SoakReport, type Totals,
} from './soak-report.ts';
import type { GatewaySample, SoakReady } from './soak-server.ts';

const env = process.env;
const MINUTES = Number(process.argv[2] ?? 10);
if (!(MINUTES > 0)) throw new Error(`minutes must be a positive number, not ${process.argv[2]}`);
const RUN_S = MINUTES * 60;
const MIX = Object.fromEntries(
  (env.SOAK_MIX ?? 'read:40,search-family:15,search-identifier:15,create:15,update:15').split(',').map((kv) => {
    const [k, w] = kv.split(':');
    if (!HTTP_KINDS.includes(k as HttpKind) || !(Number(w) >= 0)) throw new Error(`SOAK_MIX: bad entry ${kv}`);
    return [k, Number(w)];
  })
);
const settings: Settings = {
  minutes: MINUTES, httpRate: Number(env.SOAK_HTTP_RATE ?? 50), mllpRate: Number(env.SOAK_MLLP_RATE ?? 10),
  mix: Object.fromEntries(HTTP_KINDS.map((k) => [k, MIX[k] ?? 0])) as Record<HttpKind, number>,
  sampleS: Number(env.SOAK_SAMPLE_S ?? 5), warmupS: Number(env.SOAK_WARMUP_S ?? warmupSeconds(RUN_S)),
  mllpConnections: Number(env.SOAK_MLLP_CONNECTIONS ?? 2), maxInFlight: Number(env.SOAK_MAX_IN_FLIGHT ?? 200),
  seedPatients: Math.max(10, Number(env.SOAK_SEED ?? 500)), // at least one patient of each family
};
const RESULTS = join(import.meta.dirname, 'results');
const RUN = Date.now().toString(36).slice(-7);
const MiB = 2 ** 20;

const children = new Children({ BENCH_RUN: RUN });

const dir = env.DATABASE_URL ? undefined : await mkdtemp(join(tmpdir(), 'frontdesk-soak-'));
async function cleanUp(): Promise<void> {
  await children.stopAll();
  if (dir) await stopLeftoverPostgres(join(dir, 'pg'));
  if (dir) await rm(dir, { recursive: true, force: true });
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, async () => {
    console.error(`\n${signal}: stopping`);
    await cleanUp();
    process.exit(130);
  });
}

/** CPU counters now, to turn into % over an interval. */
function cpuNow(pids: { gateway: number; client: number; postmasters: number[] }) {
  return {
    at: performance.now(), machine: machineBusyMs(), gateway: processCpuMs(pids.gateway),
    client: processCpuMs(pids.client), postgres: postgresCpuMs(pids.postmasters),
  };
}

type Probes = { g: GatewaySample; tick: Tick; cpu: Sample['cpuPercent']; idle: Delay };

function toSample(t: number, seconds: number, { g, tick, cpu, idle }: Probes): Sample {
  const per = (f: (k: Kind) => number) => Object.fromEntries(KINDS.map((k) => [k, f(k)])) as Record<Kind, number>;
  return {
    t, seconds,
    memoryMiB: {
      rss: g.memory.rss / MiB, heapUsed: g.memory.heapUsed / MiB, heapTotal: g.memory.heapTotal / MiB,
      external: g.memory.external / MiB,
      heapAfterMajorGc: g.heapAfterMajorGc === null ? null : g.heapAfterMajorGc / MiB,
    },
    eventLoopMs: { p50: g.eventLoop.p50, p99: g.eventLoop.p99, max: g.eventLoop.max },
    idleNodeLoopMs: { p50: idle.p50, p99: idle.p99, max: idle.max },
    pgConnections: g.connections, cpuPercent: cpu,
    perSecond: per((k) => tick.kinds[k].ok / seconds), errors: per((k) => tick.kinds[k].errors),
    p99Ms: per((k) => tick.kinds[k].p99), shed: tick.shed,
  };
}

// This process sleeps between samples: its event-loop delay is what the machine's other work alone causes, the
// floor to read the gateway's against on a shared machine.
const idleLoop = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
const idleSteady = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
let exitCode = 2;
try {
  const gateway = children.fork<SoakReady>('soak-server.ts', {
    env: {
      ...(dir ? { FRONTDESK_DATA_DIR: dir } : {}),
      // The default limit (6,000/min per client, bursts of 300) is a production guard; the soak's one client must
      // not trip it, neither in the run nor while it creates its patients as fast as the gateway takes them.
      FRONTDESK_RATE_LIMIT_PER_MINUTE: env.FRONTDESK_RATE_LIMIT_PER_MINUTE ??
        String(Math.max(6000, Math.ceil(settings.httpRate * 120))),
      FRONTDESK_RATE_LIMIT_BURST: env.FRONTDESK_RATE_LIMIT_BURST ??
        String(Math.max(300, settings.seedPatients + settings.httpRate * 10)),
    },
  });
  const client = children.fork<{ pid: number }>('soak-client.ts');
  const g = await gateway.ready;
  await client.ready;
  await client.call('target', { httpPort: g.httpPort, mllpPort: g.mllpPort });
  console.error(`gateway up (PostgreSQL ${g.postgres}); creating ${settings.seedPatients} patients to start from`);
  await client.call('prepare', { count: settings.seedPatients });
  const pids = { gateway: gateway.pid, client: client.pid, postmasters: postmasterOf(g.backendPid) };

  const args: LoadArgs = { ...settings, seconds: RUN_S };
  let done = false;
  const running = client.call<void>('run', args).finally(() => void (done = true));
  const t0 = performance.now();
  let steadyMarked = false;
  const samples: Sample[] = [];
  const totals = Object.fromEntries(KINDS.map((k) => [k, { ok: 0, errors: 0 }])) as Totals;
  let shed = 0;
  let prev = cpuNow(pids);
  idleLoop.enable();
  idleSteady.enable();
  for (let k = 1; !done; k++) {
    const due = t0 + k * settings.sampleS * 1000;
    await Promise.race([running.catch(() => undefined), new Promise((r) => setTimeout(r, due - performance.now()))]);
    const idle = delayOf(idleLoop);
    idleLoop.reset();
    const [gs, tick] = await Promise.all([gateway.call<GatewaySample>('sample'), client.call<Tick>('tick')]);
    const now = cpuNow(pids);
    const ms = now.at - prev.at;
    const pct = (a: number, b: number): number => ((b - a) / ms) * 100;
    const pg = pct(prev.postgres, now.postgres);
    const cpu = {
      gateway: pct(prev.gateway, now.gateway), client: pct(prev.client, now.client),
      postgres: Number.isFinite(pg) ? pg : null, machine: pct(prev.machine, now.machine) / machine().cpus,
    };
    const t = (now.at - t0) / 1000;
    // The stretch between the last full interval and the drained end is too short for rates: counted, not drawn.
    const drawn = ms >= settings.sampleS * 500 || samples.length === 0;
    if (drawn) samples.push(toSample(t, ms / 1000, { g: gs, tick, cpu, idle }));
    prev = now;
    for (const kind of KINDS) {
      const [tot, k1] = [totals[kind], tick.kinds[kind]];
      tot.ok += k1.ok;
      tot.errors += k1.errors;
      if (k1.firstError) tot.firstError ??= k1.firstError;
    }
    shed += tick.shed;
    if (!steadyMarked && t >= settings.warmupS) {
      steadyMarked = true;
      await gateway.call('steady');
      idleSteady.reset();
    }
    if (!drawn) continue;
    const s = samples.at(-1)!;
    console.error(`${t.toFixed(0).padStart(5)} s  RSS ${s.memoryMiB.rss.toFixed(0)} MiB, heap ` +
      `${s.memoryMiB.heapUsed.toFixed(0)} MiB, loop p99 ${s.eventLoopMs.p99.toFixed(1)} ms, ` +
      `${HTTP_KINDS.reduce((n, h) => n + s.perSecond[h], 0).toFixed(0)} req/s, ${s.perSecond.adt.toFixed(0)} msg/s, ` +
      `${KINDS.reduce((n, h) => n + s.errors[h], 0)} errors, ${s.pgConnections.total} PG connections`);
  }
  await running;
  const eventLoop = await gateway.call<Delay>('summary');
  const m = machine(); // the load average over the run's last minutes: how busy the shared machine was
  const partial: Omit<SoakReport, 'criteria' | 'pass'> = {
    date: new Date().toISOString(), node: process.version, postgres: g.postgres,
    database: dir ? 'embedded' : 'DATABASE_URL', machine: m, settings, samples, totals, shed,
    eventLoopAfterWarmupMs: { p50: eventLoop.p50, p99: eventLoop.p99, max: eventLoop.max },
    idleNodeLoopAfterWarmupMs: (({ p50, p99, max }) => ({ p50, p99, max }))(delayOf(idleSteady)),
    rssMiB: rssEnds(samples, settings.warmupS),
  };
  const criteria = judge(partial);
  const report: SoakReport = { ...partial, criteria, pass: criteria.every((c) => c.pass) };
  await writeReport(join(RESULTS, 'soak.json'), report);
  await writeFile(join(RESULTS, 'soak.svg'), soakChart(report));
  console.log('\n' + summaryText(report));
  console.log(`\nWrote bench/results/soak.json and bench/results/soak.svg: ${report.pass ? 'PASS' : 'FAIL'}`);
  exitCode = report.pass ? 0 : 1;
} catch (err) {
  console.error(err);
} finally {
  await cleanUp();
}
process.exit(exitCode);
