/**
 * The outbox survives the gateway being killed: messages committed while the partner office is down are still
 * there after a SIGKILL, and the next gateway process delivers each of them once, in order, when the office is back.
 * Real processes (`node src/main.ts`), a real MLLP listener, a database of its own.
 */
import type { ChildProcess } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { connect } from '../../src/store/db.ts';
import { enqueue } from '../../src/store/outbox.ts';
import { dropAll, freshDatabase } from '../helpers/database.ts';
import { freePort, unique } from '../helpers/gateway.ts';
import { startMllpPartner } from '../helpers/mllp-partner.ts';
import { startGatewayProcess } from '../helpers/process.ts';

const children: ChildProcess[] = [];
afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  await dropAll();
});

/** A gateway process on `url`, resolved with its FHIR base once it says it is up. */
async function gateway(url: string): Promise<{ child: ChildProcess; fhir: string }> {
  const env: NodeJS.ProcessEnv = {
    ...process.env, DATABASE_URL: url, PORT: String(await freePort()), FRONTDESK_MLLP_PORT: String(await freePort()),
    FRONTDESK_AUTH: 'off', FRONTDESK_LOG_LEVEL: 'warn', FRONTDESK_OUTBOX_RETRY_MS: '100',
  };
  const started = await startGatewayProcess(env);
  children.push(started.child);
  return started;
}

describe('the outbox across a SIGKILL', () => {
  it('keeps what was committed and delivers each message once, in order, from the next process', async () => {
    const url = await freshDatabase();
    const partner = await startMllpPartner();
    await partner.down();
    const first = await gateway(url);
    const created = await fetch(`${first.fhir}/Endpoint`, {
      method: 'POST',
      headers: { 'content-type': 'application/fhir+json' },
      body: JSON.stringify({
        resourceType: 'Endpoint', status: 'active', payloadType: [{ text: 'HL7 v2' }],
        connectionType: { system: 'http://terminology.hl7.org/CodeSystem/endpoint-connection-type', code: 'hl7v2-mllp' },
        address: `mllp://127.0.0.1:${partner.port}`,
      }),
    });
    const endpoint = `Endpoint/${((await created.json()) as { id: string }).id}`;
    const sql = connect(url, 1);
    try {
      const controls = [unique('k'), unique('k'), unique('k')];
      await sql.begin(async (tx) => {
        for (const c of controls) {
          const raw = Buffer.from(`MSH|^~\\&|FRONTDESK|CLINIC|SPEC|OFFICE|20261204120000||REF^I12^REF_I12|${c}|P|2.5.1\rRF1|A\r`);
          await enqueue(tx as never, { destination: endpoint, sender: 'FRONTDESK^CLINIC', receiver: 'SPEC^OFFICE', controlId: c, messageType: 'REF^I12', raw });
        }
      });
      // The first process tries (the office is down), then dies without a word.
      const deadline = Date.now() + 15_000;
      while ((await sql`SELECT 1 FROM message WHERE destination = ${endpoint} AND attempts > 0`).length === 0) {
        if (Date.now() > deadline) throw new Error('the first gateway never tried');
        await new Promise((r) => setTimeout(r, 50));
      }
      first.child.kill('SIGKILL');
      await new Promise((r) => first.child.once('exit', r));
      await partner.up();
      const second = await gateway(url);
      const end = Date.now() + 20_000;
      while ((await sql`SELECT 1 FROM message WHERE destination = ${endpoint} AND status = 'processed'`).length < 3) {
        if (Date.now() > end) throw new Error('not delivered after the restart');
        await new Promise((r) => setTimeout(r, 50));
      }
      await new Promise((r) => setTimeout(r, 300));
      expect(partner.received).toEqual(controls);
      second.child.kill('SIGTERM');
      await new Promise((r) => second.child.once('exit', r));
    } finally {
      await sql.end();
      await partner.down();
    }
  }, 90_000); // two gateway processes start in turn: 18 s on a quiet machine, far more on a busy one
});
