/**
 * `npm run bench:eligibility`: what the gateway adds to an eligibility check, each number beside a baseline from
 * the same run (a ratio, because these machines are noisy).
 *
 * 1. 271 parsing (envelope, HL tree, typed loops) and parsing + mapping to CoverageEligibilityResponse, per second
 *    and MB/s, beside a naive tokenizer (`split` on the segment terminator, then on the element separator) over the
 *    same bytes: stupidedi's 787-byte 271, and a 1.4 KB one with the benefits CAQH CORE asks for.
 * 2. `CoverageEligibilityRequest/$submit` over HTTP against a payer on a local port (x12 mode, answering at once),
 *    beside a direct call to the same payer through the same client, p50 and p99, one request at a time; and a
 *    database floor: the two durable commits an exchange makes (the 270 with its request; the 271, the 270's fate
 *    and the response), with the same bytes, into plain tables through postgres.js — no FHIR, no index rows.
 *
 * Options: BENCH_PARSE_N (271s parsed per row, default 20000), BENCH_N (requests per row, default 500).
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { Sql } from 'postgres';
import type { AddressInfo } from 'node:net';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/config.ts';
import { startGateway } from '../src/gateway.ts';
import { createLogger } from '../src/log.ts';
import { PayerClient } from '../src/outbound/payer-client.ts';
import { read271 } from '../src/translate/x12/eligibility-271.ts';
import { toEligibilityResponses } from '../src/translate/x12/eligibility-response.ts';
import { readInterchange } from '../src/translate/x12/envelope.ts';
import { latencies, quantile } from './stats.ts';

const PARSE_N = Number(process.env.BENCH_PARSE_N ?? 20000);
const N = Number(process.env.BENCH_N ?? 500);
const fixtures = join(import.meta.dirname, '../test/fixtures/x12');
const sample271 = await readFile(join(fixtures, '271-subscriber-response-to-clinic-x279.edi'), 'latin1');
const rich271 = await readFile(join(fixtures, '271-synthetic-active-benefits.edi'), 'latin1');

function parse(text: string): number {
  const ix = readInterchange(text);
  let n = 0;
  for (const g of ix.groups) for (const tx of g.transactions) n += read271(tx, ix.delimiters).sources.length;
  return n;
}

function parseAndMap(text: string): number {
  const ix = readInterchange(text);
  let n = 0;
  for (const g of ix.groups) {
    for (const tx of g.transactions) {
      n += toEligibilityResponses(read271(tx, ix.delimiters), {
        request: { reference: 'CoverageEligibilityRequest/1' }, patient: { reference: 'Patient/1' },
        insurer: { reference: 'Organization/1' }, created: '2026-12-04T12:00:00Z',
      }).length;
    }
  }
  return n;
}

function naive(text: string): number {
  const body = text.replace(/^\uFEFF/, '');
  const element = body.charAt(3);
  return body.split(body.charAt(105)).map((s) => s.split(element)).length;
}

function throughput(fn: (t: string) => number, text: string): { perSecond: number; mbPerSecond: number } {
  for (let i = 0; i < 2000; i++) fn(text);
  const started = performance.now();
  let sink = 0;
  for (let i = 0; i < PARSE_N; i++) sink += fn(text);
  const seconds = (performance.now() - started) / 1000;
  if (sink === 0) throw new Error('nothing parsed');
  return { perSecond: PARSE_N / seconds, mbPerSecond: (PARSE_N * text.length) / seconds / 1e6 };
}

/** Rows of the parse table: each measured right after its own baseline, so they share the machine's mood. */
const parseRows = [sample271, rich271].flatMap((text) => {
  const label = `${text.length} bytes`;
  const split = throughput(naive, text);
  const parsed = throughput(parse, text);
  const mapped = throughput(parseAndMap, text);
  return [
    { what: `parse (${label})`, r: parsed, split },
    { what: `parse + map (${label})`, r: mapped, split },
  ];
});

// A payer that answers every 270 at once with a 271 echoing its trace.
const payer = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const x12 = Buffer.concat(chunks).toString('latin1');
    const trn = /TRN\*1\*([^*~]*)/.exec(x12)?.[1] ?? '';
    res.writeHead(200, { 'content-type': 'application/edi-x12' }).end(sample271.replace('TRN*2*93175-012547', `TRN*2*${trn}`));
  });
});
await new Promise<void>((r) => payer.listen(0, '127.0.0.1', r));
const payerUrl = `http://127.0.0.1:${(payer.address() as AddressInfo).port}/270`;

const dir = await mkdtemp(join(tmpdir(), 'frontdesk-bench-elig-'));
// Its own directory: the embedded server (run as root) hands it to the postgres user.
const dbDir = process.env.DATABASE_URL ? undefined : await mkdtemp(join(tmpdir(), 'frontdesk-bench-elig-db-'));
const partnersFile = join(dir, 'partners.json');
await writeFile(partnersFile, JSON.stringify({ partners: [{
  id: 'bench-payer', organization: { name: 'Bench Payer', identifier: { system: 'urn:frontdesk:x12:payer-id', value: 'BENCH01' } },
  x12: { payerId: 'BENCH01', endpoint: { url: payerUrl, mode: 'x12', timeoutMs: 20000 } },
}] }));
const config = loadConfig({
  ...process.env, PORT: '0', FRONTDESK_MLLP_PORT: '0', FRONTDESK_LOG_LEVEL: 'silent', FRONTDESK_RATE_LIMIT_PER_MINUTE: '0',
  FRONTDESK_BOOTSTRAP_CLIENT: 'bench:bench-secret:system/*.*', FRONTDESK_PARTNERS: partnersFile,
  ...(dbDir ? { FRONTDESK_DATA_DIR: dbDir } : {}),
});
const g = await startGateway(config, createLogger(config));
try {
  const origin = `http://127.0.0.1:${g.port}`;
  const tokenRes = await fetch(`${origin}/auth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from('bench:bench-secret').toString('base64')}` },
    body: 'grant_type=client_credentials',
  });
  const headers = { authorization: `Bearer ${((await tokenRes.json()) as { access_token: string }).access_token}`, 'content-type': 'application/fhir+json' };
  const post = async (path: string, body: object) => {
    const res = await fetch(`${origin}/fhir/${path}`, { method: 'POST', headers, body: JSON.stringify(body) });
    const json = (await res.json()) as { id: string; outcome?: string };
    if (res.status >= 300) throw new Error(`${path}: HTTP ${res.status}`);
    return json;
  };
  const patient = await post('Patient', { resourceType: 'Patient', name: [{ family: 'Bench', given: ['Synthetic'] }], birthDate: '1970-01-01', gender: 'male' });
  const payerOrg = g.partners.partners[0]?.reference as string;
  const coverage = await post('Coverage', {
    resourceType: 'Coverage', status: 'active', subscriberId: 'BENCH000001', beneficiary: { reference: `Patient/${patient.id}` },
    relationship: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/subscriber-relationship', code: 'self' }] },
    payor: [{ reference: payerOrg }],
  });
  const doctor = await post('Practitioner', { resourceType: 'Practitioner', identifier: [{ system: 'http://hl7.org/fhir/sid/us-npi', value: '1234567893' }], name: [{ family: 'Bench' }] });
  const request = {
    resourceType: 'CoverageEligibilityRequest', status: 'active', purpose: ['benefits'], patient: { reference: `Patient/${patient.id}` },
    created: '2026-12-04', insurer: { reference: payerOrg }, provider: { reference: `Practitioner/${doctor.id}` },
    insurance: [{ focal: true, coverage: { reference: `Coverage/${coverage.id}` } }],
  };
  const submit = async () => {
    const r = await post('CoverageEligibilityRequest/$submit?fresh=true', request);
    if (r.outcome !== 'complete') throw new Error(`$submit: ${r.outcome}`);
  };
  const client = new PayerClient({ url: payerUrl, mode: 'x12', timeoutMs: 20000, auth: { type: 'none' } });
  const sent270 = (await g.db.sql<{ raw: Buffer }[]>`SELECT raw FROM message WHERE message_type = '270' ORDER BY id DESC LIMIT 1`)[0];
  const direct = async () => {
    const r = await client.send(sent270 ? Buffer.from(sent270.raw).toString('latin1') : '', { senderId: 'A', receiverId: 'B', payloadId: 'x' });
    if (!r.ok) throw new Error(`direct: ${r.failure}`);
  };
  await submit(); // warm-up: schemas, pool, JIT
  for (let i = 0; i < 50; i++) await submit();
  for (let i = 0; i < 50; i++) await direct();
  const d = await latencies(N, direct);
  const s = await latencies(N, submit);
  await g.audit.settled();
  const f = await floor(g.db.sql);
  const pg = (await g.db.sql<{ v: string }[]>`SELECT current_setting('server_version') AS v`)[0]?.v;
  console.log(`\nMachine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, PostgreSQL ${pg} (${process.env.DATABASE_URL ? 'DATABASE_URL' : 'embedded'})\n`);
  console.log(`271s parsed, ${PARSE_N} times each:\n`);
  console.log('| what | 271s/s | MB/s | baseline: naive split, same bytes | ratio |');
  console.log('| --- | --- | --- | --- | --- |');
  for (const { what, r, split } of parseRows) {
    console.log(`| ${what} | ${r.perSecond.toFixed(0)} | ${r.mbPerSecond.toFixed(1)} | ${split.mbPerSecond.toFixed(1)} MB/s | ${(r.mbPerSecond / split.mbPerSecond).toFixed(2)} |`);
  }
  console.log(`\n$submit against a local payer, ${N} requests one at a time:\n`);
  console.log('| what | p50 ms | p99 ms | baseline: direct call, same payer | added at p50 | added at p99 |');
  console.log('| --- | --- | --- | --- | --- | --- |');
  const [sp50, sp99, dp50, dp99] = [quantile(s, 0.5), quantile(s, 0.99), quantile(d, 0.5), quantile(d, 0.99)];
  console.log(`| $submit (HTTP, token, stored, 270 built, 271 mapped, audited) | ${sp50.toFixed(2)} | ${sp99.toFixed(2)} | p50 ${dp50.toFixed(2)}, p99 ${dp99.toFixed(2)} | ${(sp50 - dp50).toFixed(2)} ms | ${(sp99 - dp99).toFixed(2)} ms |`);
  console.log(`| floor: the exchange's two commits alone (same bytes, plain tables) | ${quantile(f, 0.5).toFixed(2)} | ${quantile(f, 0.99).toFixed(2)} | | | |`);
} finally {
  await g.db.sql`DROP TABLE IF EXISTS bench_floor_message, bench_floor_resource`.catch(() => undefined);
  await g.stop();
  payer.close();
  await rm(dir, { recursive: true, force: true });
  if (dbDir) await rm(dbDir, { recursive: true, force: true });
}

/** The two commits of an exchange with the last one's 270, 271 and response, written as plainly as PostgreSQL allows. */
async function floor(sql: Sql): Promise<number[]> {
  const [last] = await sql<{ r270: Buffer; r271: Buffer; response: unknown; request: unknown }[]>`
    SELECT o.raw AS r270, a.raw AS r271,
      (SELECT content FROM resource WHERE resource_type = 'CoverageEligibilityResponse' ORDER BY last_updated DESC LIMIT 1) AS response,
      (SELECT content FROM resource WHERE resource_type = 'CoverageEligibilityRequest' ORDER BY last_updated DESC LIMIT 1) AS request
    FROM message o JOIN message a ON a.related = o.id WHERE o.message_type = '270' ORDER BY o.id DESC LIMIT 1`;
  if (!last) throw new Error('no exchange to copy');
  await sql`CREATE TABLE bench_floor_message (id bigserial PRIMARY KEY, raw bytea, status text, response text)`;
  await sql`CREATE TABLE bench_floor_resource (id uuid PRIMARY KEY, content jsonb)`;
  return latencies(N, async () => {
    const id = await sql.begin(async (tx) => {
      await tx`INSERT INTO bench_floor_resource VALUES (gen_random_uuid(), ${tx.json(last.request as never)})`;
      const [row] = await tx<{ id: string }[]>`INSERT INTO bench_floor_message (raw, status) VALUES (${last.r270}, 'sending') RETURNING id`;
      return row?.id;
    });
    await sql.begin(async (tx) => {
      await tx`INSERT INTO bench_floor_message (raw, status) VALUES (${last.r271}, 'processed')`;
      await tx`UPDATE bench_floor_message SET status = 'processed', response = 'x' WHERE id = ${id ?? '0'}`;
      await tx`INSERT INTO bench_floor_resource VALUES (gen_random_uuid(), ${tx.json(last.response as never)})`;
    });
  });
}
