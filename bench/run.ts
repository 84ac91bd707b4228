/**
 * `npm run bench`: FHIR create and read over real HTTP against the configured PostgreSQL (embedded by default),
 * each beside a baseline measured in the same run on the same database — a bare autocommit INSERT of one jsonb
 * row and a primary-key SELECT through postgres.js — so the ratio survives a noisy machine.
 *
 * Prints a Markdown table for the README. Options: BENCH_N (requests per row, default 2000),
 * BENCH_CONCURRENCY (default 8).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/config.ts';
import { startGateway } from '../src/gateway.ts';
import { createLogger } from '../src/log.ts';

const N = Number(process.env.BENCH_N ?? 2000);
const C = Number(process.env.BENCH_CONCURRENCY ?? 8);

type Stats = { perSecond: number; p50: number; p95: number; p99: number };

/** `settle` runs before the clock stops: the AuditEvent copies still projecting in the background are counted in. */
async function measure(n: number, concurrency: number, op: (i: number) => Promise<void>, settle?: () => Promise<void>): Promise<Stats> {
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let i = next++; i < n; i = next++) {
        const t = performance.now();
        await op(i);
        latencies.push(performance.now() - t);
      }
    })
  );
  await settle?.();
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const q = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0;
  return { perSecond: n / seconds, p50: q(0.5), p95: q(0.95), p99: q(0.99) };
}

const dir = process.env.DATABASE_URL ? undefined : await mkdtemp(join(tmpdir(), 'frontdesk-bench-'));
const config = loadConfig({
  ...process.env,
  PORT: '0',
  FRONTDESK_MLLP_PORT: '0',
  FRONTDESK_LOG_LEVEL: 'silent',
  FRONTDESK_BOOTSTRAP_CLIENT: 'bench:bench-secret:system/*.*',
  FRONTDESK_RATE_LIMIT_PER_MINUTE: '0',
  ...(dir ? { FRONTDESK_DATA_DIR: dir } : {}),
});
const g = await startGateway({ ...config, port: 0 }, createLogger(config));
const base = `http://127.0.0.1:${g.port}/fhir`;
const settle = () => g.audit.settled();
// A real token: every request pays token verification and its audit record, as in production.
const tokenRes = await fetch(`http://127.0.0.1:${g.port}/auth/token`, {
  method: 'POST',
  headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from('bench:bench-secret').toString('base64')}` },
  body: 'grant_type=client_credentials',
});
const auth = { authorization: `Bearer ${((await tokenRes.json()) as { access_token: string }).access_token}` };
const patient = (i: number) => ({
  resourceType: 'Patient',
  identifier: [{ system: 'urn:oid:2.16.840.1.113883.3.999.9', value: `B${i}` }],
  name: [{ family: `Benchmark${i % 97}`, given: ['Synthetic'] }],
  gender: i % 2 ? 'female' : 'male',
  birthDate: `19${50 + (i % 50)}-0${1 + (i % 9)}-1${i % 10}`,
  telecom: [{ system: 'phone', value: `555-01${String(i % 100).padStart(2, '0')}` }],
});

try {
  // warm-up: schema compile, connection pool, JIT
  await measure(200, C, async (i) => void (await fetch(`${base}/Patient`, { method: 'POST', headers: { 'content-type': 'application/fhir+json', ...auth }, body: JSON.stringify(patient(-i)) })).text());
  await g.db.sql`CREATE TABLE IF NOT EXISTS bench_baseline (id uuid PRIMARY KEY, content jsonb NOT NULL)`;
  const ids: string[] = [];
  const baselineInsert = await measure(N, C, async (i) => {
    await g.db.sql`INSERT INTO bench_baseline VALUES (gen_random_uuid(), ${g.db.sql.json(patient(i) as never)})`;
  });
  const create = await measure(N, C, async (i) => {
    const res = await fetch(`${base}/Patient`, { method: 'POST', headers: { 'content-type': 'application/fhir+json', prefer: 'return=minimal', ...auth }, body: JSON.stringify(patient(i)) });
    ids[i] = res.headers.get('location')!.split('/').at(-3)!;
    await res.arrayBuffer();
  }, settle);
  const baseIds = (await g.db.sql<{ id: string }[]>`SELECT id FROM bench_baseline LIMIT ${N}`).map((r) => r.id);
  const baselineRead = await measure(N, C, async (i) => {
    await g.db.sql`SELECT content FROM bench_baseline WHERE id = ${baseIds[i % baseIds.length]!}`;
  });
  const read = await measure(N, C, async (i) => {
    const res = await fetch(`${base}/Patient/${ids[i]}`, { headers: auth });
    await res.arrayBuffer();
  }, settle);
  const row = (name: string, s: Stats, b: Stats) =>
    `| ${name} | ${s.perSecond.toFixed(0)}/s | ${s.p50.toFixed(2)} | ${s.p95.toFixed(2)} | ${s.p99.toFixed(2)} | ${b.perSecond.toFixed(0)}/s | ${(s.perSecond / b.perSecond).toFixed(2)} |`;
  const pg = (await g.db.sql<{ v: string }[]>`SELECT current_setting('server_version') AS v`)[0]?.v;
  console.log(`\nMachine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, PostgreSQL ${pg} (${dir ? 'embedded' : 'DATABASE_URL'}); ${N} requests per row, ${C} concurrent clients\n`);
  console.log('| operation | throughput | p50 ms | p95 ms | p99 ms | baseline (same run) | ratio |');
  console.log('| --- | --- | --- | --- | --- | --- | --- |');
  console.log(row('FHIR create (HTTP, token, validated, indexed, audited)', create, baselineInsert) + ' ← baseline: bare INSERT of one jsonb row');
  console.log(row('FHIR read (HTTP, token, audited)', read, baselineRead) + ' ← baseline: primary-key SELECT');
  await g.db.sql`DROP TABLE bench_baseline`;
} finally {
  await g.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
}
