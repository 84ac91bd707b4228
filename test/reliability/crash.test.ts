/**
 * Crashes mid-stream (issue #16): the gateway as users run it (`node src/main.ts`, its embedded PostgreSQL in a data
 * directory of its own) takes ADT^A04 over MLLP and FHIR transaction Bundles over HTTP, four senders each, while its
 * whole process group is SIGKILLed three times at random moments and restarted at once on the same data. Senders
 * resend whatever got no acknowledgment, as partners do. Afterwards each message answered AA is stored once and
 * registered its patient once; each Bundle answered 200 is stored once and whole, under the ids its answer named;
 * what a crash left unanswered is there whole or not at all (looked at before it is resent), and its resend adds
 * nothing; the audit trail's hash chain holds. No DATABASE_URL: the embedded server's case, run once.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Bundle, BundleEntry, Resource } from '@medplum/fhirtypes';
import { afterAll, describe, expect, it } from 'vitest';
import { MllpClient } from '../../src/outbound/mllp-client.ts';
import { FHIR_JSON } from '../helpers/gateway.ts';
import {
  embeddedGatewayEnv, killGroup, messageLog, searchAll, startGatewayProcess, type GatewayProcess,
} from '../helpers/process.ts';
import { until } from '../helpers/wait.ts';

const SENDERS = 4;
const KILLS = 3;
/** MSH-10 is at most 20 characters (HL7 v2.5.1 ST): a short run tag, the sender, a counter. */
const RUN = Date.now().toString(36).slice(-5);
const MRN_OID = '2.16.840.1.113883.3.999.61';
const MRN_SYSTEM = `urn:oid:${MRN_OID}`;
const BUNDLE_SYSTEM = 'urn:frontdesk:test:crash-bundle';
const TYPES = ['Patient', 'Coverage', 'Appointment'] as const;
/** A message or Bundle stops being resent after this many answered tries (an AE/AR or HTTP error every time). */
const MAX_TRIES = 30;

type Live = { g: GatewayProcess; fhir: string; mllpPort: number; epoch: number };
/** A message or Bundle: `done` the AA or 200 that ended it, `refused` every other answer it got (none expected). */
type Sent = { key: string; tries: number; unanswered: number; done?: string; refused: string[] };
/** `locations`, `statuses`: Bundle.entry.response in the 200 answer. */
type Booking = Sent & { locations: string[]; statuses: string[] };

let parent: string | undefined;
const started: GatewayProcess[] = [];
afterAll(async () => {
  for (const g of started) killGroup(g.child);
  await Promise.all(started.map((g) => g.exited));
  if (parent) await rm(parent, { recursive: true, force: true });
});

async function gateway(dataDir: string, epoch: number): Promise<Live> {
  const env = await embeddedGatewayEnv(dataDir, { FRONTDESK_RATE_LIMIT_PER_MINUTE: '0' }); // senders at full speed
  const g = await startGatewayProcess(env, { ownGroup: true });
  started.push(g);
  return { g, fhir: g.fhir, mllpPort: Number(env.FRONTDESK_MLLP_PORT), epoch };
}

/**
 * What the senders share with the test. A sender takes the live gateway from the gate before each try; the test
 * closes it before a kill and opens it once the restarted gateway is up and looked at: while it is closed nothing
 * is sent, and `waiting` counts the senders held there.
 */
class Traffic {
  live!: Promise<Live>;
  waiting = 0;
  stopping = false;
  messages: Sent[] = [];
  bundles: Booking[] = [];
  /** Bundles and messages whose last try got no answer, not yet looked at. */
  suspects = new Set<Booking>();
  lost = new Set<Sent>();

  async gate(): Promise<Live> {
    this.waiting++;
    const live = await this.live; // never rejects
    this.waiting--;
    return live;
  }

  /** Closes the gate; the function returned opens it on the next gateway. */
  close(): (next: Live) => void {
    let open!: (next: Live) => void;
    this.live = new Promise((resolve) => (open = resolve));
    return open;
  }
}

/** One registration; MSH-10 and PID-3 unique per sender and counter. */
function adtA04(control: string): Buffer {
  return Buffer.from([
    `MSH|^~\\&|CRASHAPP|CRASHFAC|FRONTDESK|FD|20260105120000||ADT^A04^ADT_A01|${control}|P|2.5.1`,
    'EVN|A04|20260105120000',
    `PID|1||MRN${control}^^^CRASHFAC&${MRN_OID}&ISO^MR||Crash^Sender||19800101|F`,
    'PV1|1|O',
  ].join('\r') + '\r');
}

/** A sender on one MLLP connection (a new one for each gateway), waiting for each ACK before the next message. */
async function mllpSender(t: Traffic, k: number): Promise<void> {
  let conn: { client: MllpClient; epoch: number } | undefined;
  for (let n = 0; !t.stopping; n++) {
    const m: Sent = { key: `${RUN}${k}-${n}`, tries: 0, unanswered: 0, refused: [] };
    t.messages.push(m);
    while (!m.done && m.tries - m.unanswered < MAX_TRIES) {
      const live = await t.gate();
      if (conn?.epoch !== live.epoch) {
        await conn?.client.close();
        const client = new MllpClient({ host: '127.0.0.1', port: live.mllpPort }, { ackTimeoutMs: 30_000 });
        conn = { client, epoch: live.epoch };
      }
      m.tries++;
      const r = await conn.client.send(adtA04(m.key), m.key);
      if (r.ok) m.done = r.code;
      else if (r.kind === 'rejected') m.refused.push(r.code); // AE/AR to a valid message: resent, and reported
      else {
        m.unanswered++;
        t.lost.add(m);
      }
    }
  }
  await conn?.client.close();
}

/**
 * A booking as an EHR sends it: Patient, Coverage and Appointment in one transaction, linked by urn:uuid, each a
 * conditional create on the Bundle's own identifier (http.html#cond-create), so that a resend matches instead of
 * creating.
 */
function booking(key: string): Bundle {
  const identifier = [{ system: BUNDLE_SYSTEM, value: key }];
  const urls = TYPES.map(() => `urn:uuid:${randomUUID()}`);
  const patient = { reference: urls[0] };
  const resources: Resource[] = [
    { resourceType: 'Patient', identifier, name: [{ family: 'Crash', given: ['Bundle'] }] },
    { resourceType: 'Coverage', identifier, status: 'active', beneficiary: patient, payor: [patient] },
    {
      resourceType: 'Appointment', identifier, status: 'booked', start: '2026-12-01T09:00:00Z',
      end: '2026-12-01T09:15:00Z', participant: [{ actor: patient, status: 'accepted' }],
    },
  ];
  const entry: BundleEntry[] = resources.map((resource, i) => ({
    fullUrl: urls[i], resource,
    request: { method: 'POST', url: resource.resourceType, ifNoneExist: `identifier=${BUNDLE_SYSTEM}|${key}` },
  }));
  return { resourceType: 'Bundle', type: 'transaction', entry };
}

/** A sender of transaction Bundles, one at a time, each resent until it is answered 200. */
async function httpSender(t: Traffic, k: number): Promise<void> {
  for (let n = 0; !t.stopping; n++) {
    const b: Booking = { key: `${RUN}-${k}-${n}`, tries: 0, unanswered: 0, refused: [], locations: [], statuses: [] };
    t.bundles.push(b);
    const body = JSON.stringify(booking(b.key));
    while (!b.done && b.tries - b.unanswered < MAX_TRIES) {
      const live = await t.gate();
      b.tries++;
      const headers = { 'content-type': FHIR_JSON, accept: FHIR_JSON };
      const res = await fetch(`${live.fhir}/`, { method: 'POST', body, headers, signal: AbortSignal.timeout(30_000) })
        .then(async (r) => ({ status: r.status, answer: (await r.json()) as Bundle }), () => undefined);
      if (!res) {
        b.unanswered++; // it died with the gateway: committed or not, nobody can tell yet
        t.suspects.add(b);
      } else if (res.status !== 200) {
        b.refused.push(`HTTP ${res.status} ${JSON.stringify(res.answer).slice(0, 300)}`); // resent, and reported
      } else {
        b.done = '200';
        b.locations = (res.answer.entry ?? []).map((e) => e.response?.location?.replace(/\/_history\/.*$/, '') ?? '');
        b.statuses = (res.answer.entry ?? []).map((e) => e.response?.status ?? '');
      }
    }
  }
}

const identified = (system: string, value = '') => `identifier=${encodeURIComponent(`${system}|${value}`)}`;

/** Resources of one identifier system, by identifier value. */
async function byIdentifier(live: Live, type: string, system: string): Promise<Map<string, Resource[]>> {
  const out = new Map<string, Resource[]>();
  for (const r of await searchAll(live.fhir, `${type}?${identified(system)}`)) {
    const ids = (r as { identifier?: { system?: string; value?: string }[] }).identifier ?? [];
    const value = ids.find((i) => i.system === system)?.value ?? '';
    out.set(value, [...(out.get(value) ?? []), r]);
  }
  return out;
}

const sorted = (xs: Iterable<string>) => [...xs].sort();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * After a crash, before anything is resent: each Bundle left unanswered is stored whole or not at all, each message
 * left unanswered is logged and its patient registered, or neither (one commit). Returns the Bundles that had
 * committed, and what was found, as committed/not for Bundles and messages.
 */
async function unanswered(t: Traffic, live: Live, kill: number): Promise<{ committed: Booking[]; seen: string }> {
  const committed: Booking[] = [];
  for (const b of t.suspects) {
    const found = TYPES.map((type) => searchAll(live.fhir, `${type}?${identified(BUNDLE_SYSTEM, b.key)}`));
    const counts = (await Promise.all(found)).map((rs) => rs.length);
    expect(counts.join(), `Bundle ${b.key} after crash ${kill}`).toMatch(/^(0,0,0|1,1,1)$/);
    if (counts[0]) committed.push(b);
  }
  const log = new Set((await messageLog(live.fhir, 'direction=inbound&type=ADT')).map((m) => m.controlId));
  let stored = 0;
  for (const m of t.lost) {
    const patients = (await searchAll(live.fhir, `Patient?${identified(MRN_SYSTEM, `MRN${m.key}`)}`)).length;
    expect(`${Number(log.has(m.key))},${patients}`, `ADT ${m.key} after crash ${kill}`).toMatch(/^(0,0|1,1)$/);
    stored += patients;
  }
  const [bundles, messages] = [t.suspects.size - committed.length, t.lost.size - stored];
  const seen = `Bundles ${committed.length}/${bundles}, ADT ${stored}/${messages}`;
  for (const looked of [t.suspects, t.lost]) looked.clear();
  return { committed, seen };
}

/** MLLP: every message answered AA, stored once and processed, its patient registered once. */
async function checkMessages(t: Traffic, live: Live): Promise<void> {
  expect(t.messages.filter((m) => m.done !== 'AA' || m.refused.length).map((m) => `${m.key} ${m.refused}`)).toEqual([]);
  const log = await messageLog(live.fhir, 'direction=inbound&type=ADT');
  expect(sorted(log.map((m) => m.controlId))).toEqual(sorted(t.messages.map((m) => m.key))); // each once
  expect(log.filter((m) => m.status !== 'processed').map((m) => m.controlId)).toEqual([]);
  const patients = await byIdentifier(live, 'Patient', MRN_SYSTEM);
  const registered = [...patients].map(([mrn, found]) => `${mrn} ×${found.length}`);
  expect(registered.sort()).toEqual(sorted(t.messages.map((m) => `MRN${m.key} ×1`)));
}

/**
 * FHIR: every Bundle answered 200, stored once, whole, under the ids its answer named, linked to its Patient; the
 * resend of one that had committed unanswered matched all three conditional creates (200: nothing new).
 */
async function checkBundles(t: Traffic, live: Live, committedUnanswered: Booking[]): Promise<void> {
  expect(t.bundles.filter((b) => b.done !== '200' || b.refused.length).map((b) => `${b.key} ${b.refused}`)).toEqual([]);
  const stored = await Promise.all(TYPES.map((type) => byIdentifier(live, type, BUNDLE_SYSTEM)));
  const keys = sorted(t.bundles.map((b) => b.key));
  expect(stored.map((found) => sorted(found.keys()))).toEqual(TYPES.map(() => keys)); // none missing, none extra
  const wrong = t.bundles.flatMap((b) => {
    const [p, c, a] = stored.map((s) => s.get(b.key) ?? []) as [Resource[], Resource[], Resource[]];
    const ids = [p, c, a].map((rs) => rs.map((r) => `${r.resourceType}/${r.id}`).join());
    const cov = c[0] as { beneficiary?: { reference?: string } } | undefined;
    const appt = a[0] as { participant?: { actor?: { reference?: string } }[] } | undefined;
    const whole = ids.join('|') === b.locations.join('|') && cov?.beneficiary?.reference === ids[0] &&
      appt?.participant?.[0]?.actor?.reference === ids[0];
    return whole ? [] : [`${b.key}: stored ${ids.join(' ')}; answered ${b.locations.join(' ')}`];
  });
  expect(wrong).toEqual([]);
  const recreated = committedUnanswered.filter((b) => b.statuses.some((s) => !s.startsWith('200')));
  expect(recreated.map((b) => `${b.key} ${b.statuses.join()}`)).toEqual([]);
}

describe('the gateway SIGKILLed mid-stream and restarted on its data', () => {
  // Four starts of a whole gateway (initdb, then crash recovery and start-up, ~5 s on an idle machine, 20 s busy).
  it('keeps every acknowledged message and transaction exactly once, and no transaction by halves', async () => {
    const t0 = Date.now();
    const at = () => `${((Date.now() - t0) / 1000).toFixed(1)} s`;
    parent = await mkdtemp(join(tmpdir(), 'frontdesk-crash-'));
    await chmod(parent, 0o755); // as root, the embedded server's postgres user must be able to enter it
    const dataDir = join(parent, 'data');
    let live = await gateway(dataDir, 0);
    const timings = [`first start ${at()}`];
    const t = Object.assign(new Traffic(), { live: Promise.resolve(live) });
    const senders = [
      ...Array.from({ length: SENDERS }, (_, k) => mllpSender(t, k)),
      ...Array.from({ length: SENDERS }, (_, k) => httpSender(t, k)),
    ];
    const [committedUnanswered, atCrash]: [Booking[], string[]] = [[], []];
    for (let kill = 1; kill <= KILLS; kill++) {
      await sleep(500 + Math.random() * 2500);
      const open = t.close();
      killGroup(live.g.child);
      await live.g.exited;
      const killed = Date.now();
      live = await gateway(dataDir, kill); // at once: the killed PostgreSQL may not be reaped yet
      timings.push(`kill ${kill} at ${at()} (restart ${Date.now() - killed} ms)`);
      // Every sender waits at the gate, nothing is being resent: what the crash left is what is stored now.
      await until(() => t.waiting === senders.length, 20_000);
      const { committed, seen } = await unanswered(t, live, kill);
      committedUnanswered.push(...committed);
      atCrash.push(seen);
      open(live);
    }
    await sleep(1500);
    t.stopping = true;
    await Promise.all(senders);
    timings.push(`streams drained ${at()}`);
    await checkMessages(t, live);
    await checkBundles(t, live, committedUnanswered);
    // While the gateway runs: the command shares its PostgreSQL, as an operator's would.
    const env = await embeddedGatewayEnv(dataDir);
    const verify = await promisify(execFile)(process.execPath, ['src/cli.ts', 'audit', 'verify'], { env });
    expect(verify.stdout).toMatch(/audit trail intact: \d+ records verified/);
    live.g.child.kill('SIGTERM');
    expect(await live.g.exited).toBe(0);
    const resent = (xs: Sent[]) => xs.filter((x) => x.tries > 1).length;
    console.log(
      `crash test: ${timings.join('; ')}; checked ${at()}. ${t.messages.length} ADT^A04 (${resent(t.messages)} ` +
        `resent), ${t.bundles.length} Bundles (${resent(t.bundles)} resent); unanswered at each crash, ` +
        `committed/not: ${atCrash.join('; ')}. ${verify.stdout.trim()}`
    );
  }, 150_000);
});
