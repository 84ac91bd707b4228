/**
 * The outbox with whole gateway processes (`node src/main.ts`, as users run it), referrals created over FHIR and a
 * real MLLP listener for the specialist office: two processes on one database send every REF^I12 exactly once
 * (by MSH-10), one at a time, in commit order; a gateway whose process group is SIGKILLed after the referrals
 * committed and before they could be sent (the office was down) delivers each of them once after a restart on the
 * same data directory, and their Tasks say `received`.
 */
import type { ChildProcess } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Hl7Message } from '@medplum/core';
import { afterAll, describe, expect, it } from 'vitest';
import { connect } from '../../src/store/db.ts';
import { dropAll, freshDatabase } from '../helpers/database.ts';
import { freePort, FHIR_JSON } from '../helpers/gateway.ts';
import { startMllpPartner, type MllpPartner } from '../helpers/mllp-partner.ts';
import { startGatewayProcess, type GatewayProcess } from '../helpers/process.ts';
import { createReferralWorld } from '../helpers/referral-world.ts';
import { until } from '../helpers/wait.ts';

const groups: ChildProcess[] = [];
const dirs: string[] = [];
const partners: MllpPartner[] = [];
afterAll(async () => {
  for (const c of groups) if (c.exitCode === null && c.signalCode === null) killGroup(c);
  await Promise.all(partners.map((p) => p.down()));
  for (const d of dirs) await rm(d, { recursive: true, force: true });
  await dropAll();
});

/** The whole process group: the gateway and, when it runs one, its embedded PostgreSQL. */
function killGroup(c: ChildProcess): void {
  try {
    process.kill(-c.pid!, 'SIGKILL');
  } catch {
    // already gone
  }
}

/** A gateway process with its own process group; `DATABASE_URL` unset runs the embedded PostgreSQL in `dataDir`. */
async function gateway(db: { url: string } | { dataDir: string }): Promise<GatewayProcess> {
  const env: NodeJS.ProcessEnv = {
    ...process.env, PORT: String(await freePort()), FRONTDESK_MLLP_PORT: String(await freePort()),
    FRONTDESK_AUTH: 'off', FRONTDESK_LOG_LEVEL: 'info',
    // Retries soon enough for a short test; an ACK wait no busy machine turns into a second copy.
    FRONTDESK_OUTBOX_RETRY_MS: '1000', FRONTDESK_OUTBOX_ACK_TIMEOUT_MS: '10000',
  };
  if ('url' in db) env.DATABASE_URL = db.url;
  else {
    delete env.DATABASE_URL;
    env.FRONTDESK_DATA_DIR = db.dataDir;
  }
  const started = await startGatewayProcess(env, { ownGroup: true });
  groups.push(started.child);
  return started;
}

/** The FHIR API of a gateway process (authentication off: it listens on loopback only). */
function fhirAt(base: string) {
  return async (method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> => {
    const res = await fetch(`${base}/${path}`, {
      method,
      headers: { accept: FHIR_JSON, 'content-type': FHIR_JSON },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, body: await res.json() };
  };
}

/** RF1-6 of each REF the office received, as @medplum/core reads it: the ServiceRequest id it names. */
const referralsIn = (office: MllpPartner) =>
  office.messages.map((m) => Hl7Message.parse(m.trim()).getSegment('RF1')?.getField(6)?.getComponent(1));

/** `outbox delivery` log lines with fate `delivered`, by MSH-10: which process sent what. */
function deliveredBy(p: GatewayProcess): string[] {
  return p.output().split('\n').flatMap((line) => {
    try {
      const o = JSON.parse(line) as { msg?: string; fate?: string; control?: string };
      return o.msg === 'outbox delivery' && o.fate === 'delivered' && o.control ? [o.control] : [];
    } catch {
      return []; // the start banner
    }
  });
}

/** The outbound message log (`GET /messages`), newest first. */
async function outboundLog(p: GatewayProcess): Promise<Record<string, any>[]> {
  const res = await fetch(`${new URL(p.fhir).origin}/messages?direction=outbound`);
  return ((await res.json()) as { messages: Record<string, any>[] }).messages;
}

async function taskStatus(fhir: ReturnType<typeof fhirAt>, sr: string): Promise<string | undefined> {
  return (await fhir('GET', `Task?focus=ServiceRequest/${sr}`)).body.entry?.[0]?.resource?.status;
}

// Two gateway processes a test; the second test's run an embedded PostgreSQL (initdb, then recovery after the kill).
const PROCESSES_MS = 60_000;

describe('the outbox in whole gateway processes', () => {
  it('sends each referral once, one at a time and in commit order, from two processes on one database', async () => {
    const url = await freshDatabase();
    const office = await startMllpPartner(undefined, 15);
    partners.push(office);
    const [a, b] = await Promise.all([gateway({ url }), gateway({ url })]);
    const world = await createReferralWorld(fhirAt(a!.fhir), office.port);
    // Both processes take referrals at once, three at a time each: their commits, and their workers, interleave.
    const ids = (
      await Promise.all(
        [a!, b!].map(async (p) => {
          const fhir = fhirAt(p.fhir);
          const made: string[] = [];
          for (let wave = 0; wave < 4; wave++) {
            const created = await Promise.all([0, 1, 2].map(() => fhir('POST', 'ServiceRequest', world.referral())));
            for (const r of created) expect(r.status).toBe(201);
            made.push(...created.map((r) => r.body.id as string));
          }
          return made;
        })
      )
    ).flat();
    await until(() => office.received.length >= ids.length, 30_000);
    await new Promise((r) => setTimeout(r, 500)); // a second copy would arrive now
    expect(office.unreadable).toEqual([]);
    expect(office.received).toHaveLength(ids.length);
    expect(new Set(office.received).size).toBe(ids.length);
    expect([...referralsIn(office)].sort()).toEqual([...ids].sort());
    expect(office.maxOutstanding).toBe(1);
    const sql = connect(url, 1);
    try {
      const queued = await sql<{ control_id: string }[]>`
        SELECT control_id FROM message WHERE direction = 'outbound' ORDER BY queue_seq`;
      expect(office.received).toEqual(queued.map((q) => q.control_id));
    } finally {
      await sql.end();
    }
    // Each delivery was recorded by exactly one of the processes.
    expect([...deliveredBy(a!), ...deliveredBy(b!)].sort()).toEqual([...office.received].sort());
    const fhir = fhirAt(b!.fhir);
    await until(async () => (await Promise.all(ids.map((id) => taskStatus(fhir, id)))).every((s) => s === 'received'));
    for (const p of [a!, b!]) p.child.kill('SIGTERM');
    expect(await Promise.all([a!.exited, b!.exited])).toEqual([0, 0]);
  }, PROCESSES_MS);

  it('delivers each referral once after the gateway was SIGKILLed between the commit and the send', async () => {
    const parent = await mkdtemp(join(tmpdir(), 'frontdesk-kill-'));
    await chmod(parent, 0o755); // as root, the embedded server's postgres user must be able to enter it
    dirs.push(parent);
    const dataDir = join(parent, 'data');
    const office = await startMllpPartner();
    partners.push(office);
    await office.down();
    const first = await gateway({ dataDir });
    let fhir = fhirAt(first.fhir);
    const world = await createReferralWorld(fhir, office.port);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await fhir('POST', 'ServiceRequest', world.referral());
      expect(res.status).toBe(201); // committed, with its REF^I12 in the outbox
      ids.push(res.body.id);
    }
    // The kill lands while the head waits for its next try, so no lease is held (the worker tried and failed:
    // the office is down). A lease held at the kill would run out after 2 × the ACK wait + 30 s, and the row go
    // out then: the same guarantee, but not a test this short.
    await until(async () => {
      const messages = await outboundLog(first);
      const head = messages.at(-1);
      return messages.length === 5 && !!head && head.attempts > 0 && Date.parse(head.nextAttemptAt) - Date.now() > 300;
    }, 15_000);
    killGroup(first.child);
    await first.exited;
    expect(office.received).toEqual([]);
    await office.up();
    // At once, as a supervisor restarts it: the killed PostgreSQL may not even be reaped yet (its pid still taken).
    const second = await gateway({ dataDir });
    fhir = fhirAt(second.fhir);
    await until(() => office.received.length >= 5, 20_000);
    await new Promise((r) => setTimeout(r, 500)); // a second copy would arrive now
    expect(office.unreadable).toEqual([]);
    expect(new Set(office.received).size).toBe(5);
    expect(referralsIn(office)).toEqual(ids); // one per referral, in the order they committed
    await until(async () => (await Promise.all(ids.map((id) => taskStatus(fhir, id)))).every((s) => s === 'received'));
    const messages = await outboundLog(second);
    expect(messages.map((m) => [m.status, m.ack?.code])).toEqual(ids.map(() => ['processed', 'AA']));
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  }, PROCESSES_MS);
});
