/**
 * `npm run bench:search` (part of `npm run bench`): the front-office searches of issue #4 over real HTTP, on
 * 100,000 synthetic patients and 200,000 appointments (plus coverages, referrals and eligibility responses),
 * written through the gateway's own write path (validation, search-value extraction). p50/p95 of each query,
 * beside a primary-key read over the same HTTP stack as the baseline. Sizes: BENCH_PATIENTS, BENCH_APPOINTMENTS;
 * BENCH_REUSE=1 (with DATABASE_URL or BENCH_DATA_DIR) queries a database that an earlier run loaded instead of
 * loading it again.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Resource } from '@medplum/fhirtypes';
import { loadConfig } from '../src/config.ts';
import { startGateway } from '../src/gateway.ts';
import { createLogger } from '../src/log.ts';

const PATIENTS = Number(process.env.BENCH_PATIENTS ?? 100_000);
const APPOINTMENTS = Number(process.env.BENCH_APPOINTMENTS ?? 200_000);
const OTHERS = Math.round(PATIENTS / 5);
const PRACTITIONERS = 200;
const RUNS = Number(process.env.BENCH_RUNS ?? 1000);
const FAMILIES = ['Muñoz', 'Smith', 'Nguyen', 'Patel', 'García', 'Okafor', 'Kowalski', 'Haddad', 'Larsen', 'Tanaka'];

// BENCH_DATA_DIR: an embedded cluster kept after the run (with BENCH_REUSE=1 the next run queries it as it is).
const kept = process.env.BENCH_DATA_DIR;
const dir = process.env.DATABASE_URL || kept ? kept : await mkdtemp(join(tmpdir(), 'frontdesk-bench-search-'));
const config = loadConfig({
  ...process.env,
  PORT: '0',
  FRONTDESK_MLLP_PORT: '0',
  FRONTDESK_LOG_LEVEL: 'silent',
  FRONTDESK_DB_POOL: '16',
  FRONTDESK_BOOTSTRAP_CLIENT: 'bench:bench-secret:system/*.*',
  FRONTDESK_RATE_LIMIT_PER_MINUTE: '0',
  ...(dir ? { FRONTDESK_DATA_DIR: dir } : {}),
});
const g = await startGateway({ ...config, port: 0 }, createLogger(config));
const origin = `http://127.0.0.1:${g.port}`;

const family = (i: number) => `${FAMILIES[i % FAMILIES.length]}${Math.floor(i / FAMILIES.length) % 1000}`;
const birthDate = (i: number) => new Date(Date.UTC(1940, 0, 1) + (i % 25_000) * 86_400_000).toISOString().slice(0, 10);
const phone = (i: number) => `(555) ${String(i).padStart(7, '0').slice(0, 3)}-${String(i).padStart(7, '0').slice(3)}`;
const apptDay = (i: number) => new Date(Date.UTC(2026, 0, 5) + (i % Math.max(1, Math.floor(APPOINTMENTS / PRACTITIONERS / 24))) * 86_400_000).toISOString().slice(0, 10);
const day = (i: number) => new Date(Date.UTC(2026, 0, 5) + (i % 250) * 86_400_000);

async function load(n: number, make: (i: number) => Resource, label: string): Promise<void> {
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: 24 }, async () => {
      for (let i = next++; i < n; i = next++) await g.repo.createWithId(make(i), `${make(i).resourceType}-${i}`);
    })
  );
  console.error(`loaded ${n} ${label} in ${((performance.now() - started) / 1000).toFixed(0)} s`);
}

async function loadAll(): Promise<void> {
  await load(PRACTITIONERS, (i) => ({ resourceType: 'Practitioner', identifier: [{ system: 'http://hl7.org/fhir/sid/us-npi', value: `NPI${i}` }], name: [{ family: `Doctor${i}` }] }), 'practitioners');
  await load(PATIENTS, (i) => ({
    resourceType: 'Patient',
    identifier: [{ system: 'urn:oid:2.16.840.1.113883.3.999.1', value: `MRN${i}` }],
    name: [{ family: family(i), given: ['Synthetic'] }],
    birthDate: birthDate(i),
    gender: i % 2 ? 'female' : 'male',
    telecom: [{ system: 'phone', value: phone(i) }],
  }), 'patients');
  // A practitioner's day: 24 appointments of 20 minutes from 08:00, day after day.
  await load(APPOINTMENTS, (i) => {
    const slot = Math.floor(i / PRACTITIONERS);
    const start = new Date(Date.UTC(2026, 0, 5) + Math.floor(slot / 24) * 86_400_000 + (8 * 60 + (slot % 24) * 20) * 60_000);
    return {
      resourceType: 'Appointment',
      status: 'booked',
      start: start.toISOString(),
      end: new Date(start.getTime() + 20 * 60_000).toISOString(),
      participant: [
        { actor: { reference: `Patient/Patient-${i % PATIENTS}` }, status: 'accepted' },
        { actor: { reference: `Practitioner/Practitioner-${i % PRACTITIONERS}` }, status: 'accepted' },
      ],
    };
  }, 'appointments');
  await load(OTHERS, (i) => ({ resourceType: 'Coverage', status: i % 3 ? 'active' : 'cancelled', beneficiary: { reference: `Patient/Patient-${i}` }, payor: [{ display: 'Synthetic Payer' }] }), 'coverages');
  await load(OTHERS, (i) => ({
    resourceType: 'ServiceRequest',
    status: i % 2 ? 'active' : 'completed',
    intent: 'order',
    category: [{ coding: [{ system: 'http://snomed.info/sct', code: '3457005' }] }],
    subject: { reference: `Patient/Patient-${i}` },
  }), 'referrals');
  await load(OTHERS, (i) => ({
    resourceType: 'CoverageEligibilityResponse',
    status: 'active',
    purpose: ['benefits'],
    patient: { reference: `Patient/Patient-${i}` },
    created: day(i).toISOString().slice(0, 10),
    request: { reference: 'CoverageEligibilityRequest/x' },
    outcome: 'complete',
    insurer: { display: 'Synthetic Payer' },
  }), 'eligibility responses');
}

// BENCH_REUSE=1: a database that already holds a full load (an earlier run's) is queried as it is.
const [loaded] = await g.db.sql<{ n: string }[]>`SELECT count(*) AS n FROM resource WHERE resource_type = 'Appointment' AND NOT deleted`;
const reuse = process.env.BENCH_REUSE === '1' && Number(loaded?.n) === APPOINTMENTS;

try {
  if (!reuse) await loadAll();
  // Steady state, as after autovacuum: statistics current, visibility map set (index-only scans stay index-only),
  // and the load's dirty pages written out (a checkpoint spreading them over the measured minutes adds its I/O).
  await g.db.sql`VACUUM (ANALYZE)`;
  await g.db.sql`CHECKPOINT`;
  // A gateway that has run all day has its tables and indexes in shared_buffers; so has one that has just loaded
  // them, but not a cluster reopened with BENCH_REUSE. pg_prewarm (contrib) reads them in; where the server has no
  // pg_prewarm, the run goes on cold and says so.
  try {
    await g.db.sql`CREATE EXTENSION IF NOT EXISTS pg_prewarm`;
    const [warm] = await g.db.sql<{ pages: string }[]>`
      SELECT sum(pg_prewarm(c.oid))::text AS pages FROM pg_class c
      WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'i')`;
    console.error(`prewarmed ${(Number(warm?.pages) * 8 / 1024).toFixed(0)} MB into shared_buffers`);
  } catch {
    console.error('pg_prewarm is not available on this server: measuring with the cache as it is');
  }
  // And the same for this process's heap: what the load left is collected now, not during the measured requests.
  const heap = () => (process.memoryUsage().heapUsed / 2 ** 20).toFixed(0);
  const before = heap();
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
  console.error(`heap ${before} MB before a full collection, ${heap()} MB after`);

  const tokenRes = await fetch(`${origin}/auth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from('bench:bench-secret').toString('base64')}` },
    body: 'grant_type=client_credentials',
  });
  const headers = { authorization: `Bearer ${((await tokenRes.json()) as { access_token: string }).access_token}` };
  const pick = (i: number) => (i * 7919) % PATIENTS;
  const queries: [string, (i: number) => string][] = [
    ['baseline: Patient read by id', (i) => `Patient/Patient-${pick(i)}`],
    ['Patient by MRN', (i) => `Patient?identifier=urn:oid:2.16.840.1.113883.3.999.1|MRN${pick(i)}`],
    ['Patient by family + birth date', (i) => `Patient?family=${encodeURIComponent(family(pick(i)).toLowerCase())}&birthdate=${birthDate(pick(i))}`],
    ['Patient by phone', (i) => `Patient?phone=555${String(pick(i)).padStart(7, '0')}`],
    ["Practitioner's appointments for a day, sorted, patients included", (i) => `Appointment?actor=Practitioner/Practitioner-${i % PRACTITIONERS}&date=${apptDay(i)}&_sort=date&_include=Appointment:patient&_count=50`],
    ["Patient's active coverages", (i) => `Coverage?beneficiary=Patient/Patient-${i % OTHERS}&status=active`],
    ["Patient's active referrals", (i) => `ServiceRequest?subject=Patient/Patient-${i % OTHERS}&status=active&_revinclude=Task:focus`],
    ["Patient's eligibility responses since a date", (i) => `CoverageEligibilityResponse?patient=Patient/Patient-${i % OTHERS}&created=ge2026-01-01`],
  ];
  const rows: string[] = [];
  let baselineP95 = 0;
  for (const [name, url] of queries) {
    for (let i = 0; i < 20; i++) await (await fetch(`${origin}/fhir/${url(i + 10_000)}`, { headers })).arrayBuffer(); // warm
    const t: number[] = [];
    let entries = 0;
    for (let i = 0; i < RUNS; i++) {
      const s = performance.now();
      const res = await fetch(`${origin}/fhir/${url(i)}`, { headers });
      const body = (await res.json()) as { entry?: unknown[]; resourceType: string };
      t.push(performance.now() - s);
      if (res.status !== 200) throw new Error(`${name}: HTTP ${res.status}`);
      entries += body.entry?.length ?? (body.resourceType === 'Bundle' ? 0 : 1);
    }
    t.sort((a, b) => a - b);
    const p50 = t[Math.floor(RUNS * 0.5)]!;
    const p95 = t[Math.floor(RUNS * 0.95)]!;
    if (name.startsWith('baseline')) baselineP95 = p95;
    rows.push(`| ${name} | ${p50.toFixed(1)} | ${p95.toFixed(1)} | ${(p95 / baselineP95).toFixed(2)} | ${(entries / RUNS).toFixed(1)} |`);
  }
  const pg = (await g.db.sql<{ v: string }[]>`SELECT current_setting('server_version') AS v`)[0]?.v;
  console.log(`\nMachine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, PostgreSQL ${pg} (${dir ? 'embedded' : 'DATABASE_URL'})`);
  console.log(`Data: ${PATIENTS} patients, ${APPOINTMENTS} appointments, ${OTHERS} each of coverages, referrals, eligibility responses; ${RUNS} sequential requests per query over HTTP with a token (audited)\n`);
  console.log('| query | p50 ms | p95 ms | p95 / baseline p95 | entries per answer |');
  console.log('| --- | --- | --- | --- | --- |');
  for (const r of rows) console.log(r);
} finally {
  await g.stop();
  if (dir && !kept) await rm(dir, { recursive: true, force: true });
}
