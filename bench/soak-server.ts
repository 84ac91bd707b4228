/**
 * @module bench/soak-server — the gateway process of `npm run soak` (bench/soak.ts): the real gateway, started
 * as `npm start` would (embedded PostgreSQL unless `DATABASE_URL`), on free ports, with a bootstrap client for
 * the load client's token — and the probes only its own process can read.
 *
 * bench/load-server.ts starts the same gateway but runs it on import and has no way to report memory or
 * event-loop delay, so this process answers `sample` as well: `process.memoryUsage()`, the event-loop delay
 * since the previous sample (perf_hooks `monitorEventLoopDelay`) and the database's client connections as
 * `pg_stat_activity` sees them.
 */
import { constants, monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';
import { loadConfig } from '../src/config.ts';
import { startGateway } from '../src/gateway.ts';
import { createLogger } from '../src/log.ts';
import { BOOTSTRAP } from './load-data.ts';
import { serveCalls } from './load-loop.ts';
import { delayOf, LOOP_RESOLUTION_MS, type Delay } from './soak-report.ts';

export type SoakReady = { httpPort: number; mllpPort: number; postgres: string; backendPid: number };
export type GatewaySample = {
  memory: NodeJS.MemoryUsage;
  /** Heap in use just after the latest major GC (bytes), null before the first: the floor a leak raises. */
  heapAfterMajorGc: number | null;
  /** Event-loop delay since the previous sample, ms. */
  eventLoop: Delay;
  /** Client backends connected to the gateway's database: the gateway's pool when nothing else connects. */
  connections: { total: number; active: number; idle: number };
};

const config = loadConfig({
  ...process.env,
  PORT: '0',
  FRONTDESK_MLLP_PORT: '0',
  FRONTDESK_LOG_LEVEL: process.env.FRONTDESK_LOG_LEVEL ?? 'silent',
  FRONTDESK_BOOTSTRAP_CLIENT: `${BOOTSTRAP.id}:${BOOTSTRAP.secret}:system/*.*`,
});
const g = await startGateway({ ...config, port: 0 }, createLogger(config));

// Two histograms: one reset at every sample (the chart), one reset once at the end of the warm-up (the verdict).
const interval = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
const steady = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
interval.enable();
steady.enable();

// Heap used swings by a hundred MiB between major GCs; what is left right after one is what the process holds.
// Read when the GC entry is delivered (soon after the collection, before much is allocated again).
let heapAfterMajorGc: number | null = null;
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    const kind = (e as unknown as { detail?: { kind?: number } }).detail?.kind;
    if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) heapAfterMajorGc = getHeapStatistics().used_heap_size;
  }
}).observe({ entryTypes: ['gc'] });

const [info] = await g.db.sql<{ v: string; pid: number }[]>`
  SELECT current_setting('server_version') AS v, pg_backend_pid() AS pid`;
const ready: SoakReady = { httpPort: g.port, mllpPort: g.mllp.port, postgres: info!.v, backendPid: info!.pid };

serveCalls(
  {
    sample: async (): Promise<GatewaySample> => {
      const eventLoop = delayOf(interval);
      interval.reset();
      // Taken through the gateway's own pool: one of the connections being counted, not an extra one.
      const [c] = await g.db.sql<{ total: number; active: number; idle: number }[]>`
        SELECT count(*)::int AS total, (count(*) FILTER (WHERE state = 'active'))::int AS active,
          (count(*) FILTER (WHERE state LIKE 'idle%'))::int AS idle
        FROM pg_stat_activity WHERE datname = current_database() AND backend_type = 'client backend'`;
      return { memory: process.memoryUsage(), heapAfterMajorGc, eventLoop, connections: c! };
    },
    /** The warm-up is over: the verdict's histogram starts now. */
    steady: async () => void steady.reset(),
    /** Event-loop delay since `steady`. */
    summary: async (): Promise<Delay> => delayOf(steady),
    stop: () => g.stop(),
  },
  ready
);
