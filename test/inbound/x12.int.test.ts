/**
 * The X12 door, `POST /x12`, over real HTTP: token and `system/x12.c` scope, raw storage with (sender, ISA13)
 * de-duplication, TA1 and 999 answers built from the interchange's own delimiters, a structured error for what is
 * not an interchange, audit. A set with no handler (a 276 here) is answered `IK5*R*1`, "transaction set not
 * supported"; a handler plugged in is answered `IK5*A`. The 270 pass-through is tested in
 * test/workflows/eligibility-e2e.int.test.ts.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readInterchange } from '../../src/translate/x12/envelope.ts';
import { client, getToken, testGateway, type TestGateway } from '../helpers/gateway.ts';

const SAMPLE = readFileSync(join(import.meta.dirname, '../fixtures/x12/270-subscriber-request-by-clinic.edi'), 'latin1');
let g: TestGateway;
let origin: string;
beforeAll(async () => {
  g = await testGateway();
  origin = new URL(g.fhirUrl).origin;
});
afterAll(async () => g?.stop());

let seq = 0;
/** The sample with its own ISA13/IEA02 (and optionally ISA14), so each test is a new interchange. */
function interchange(o: { ack?: boolean; breakIea?: boolean; claimStatus?: boolean } = {}): { text: string; control: string } {
  const control = String(Date.now() % 1e8 * 10 + (seq++ % 10)).padStart(9, '0').slice(-9);
  // As a 276 (claim status), a set this gateway has no handler for yet.
  const sample = o.claimStatus ? SAMPLE.replace('GS*HS*', 'GS*HR*').replace('ST*270*', 'ST*276*') : SAMPLE;
  const text = sample.replace('*000010216*0*T*', `*${control}*${o.ack ? 1 : 0}*T*`).replace('IEA*1*000010216', `IEA*1*${o.breakIea ? '999999999' : control}`);
  return { text, control };
}

async function post(body: string, scope?: string) {
  const token = scope === 'none' ? undefined : await getToken(g, scope);
  const res = await fetch(`${origin}/x12`, { method: 'POST', body, headers: { 'content-type': 'application/edi-x12', ...(token ? { authorization: `Bearer ${token}` } : {}) } });
  const text = await res.text();
  return { status: res.status, text, id: res.headers.get('x-message-id'), type: res.headers.get('content-type') };
}

const segments = (x12: string) => x12.split('~').filter(Boolean).map((s) => s.split('*'));

describe('POST /x12', () => {
  it('needs a token (401) and the x12 scope (403)', async () => {
    expect((await post(interchange().text, 'none')).status).toBe(401);
    expect((await post(interchange().text, 'system/hl7v2.c')).status).toBe(403);
  });

  it('stores the interchange and answers a 999 rejecting a set it does not handle yet, plus the TA1 asked for', async () => {
    const { text, control } = interchange({ ack: true, claimStatus: true });
    const res = await post(text);
    expect(res.status).toBe(200);
    expect(res.type).toContain('application/edi-x12');
    const segs = segments(res.text);
    const ix = readInterchange(res.text); // the answer is a well-formed interchange itself
    expect(ix.problems).toEqual([]);
    expect(ix.sender).toBe('123456789012346'); // sender and receiver swapped
    expect(ix.receiver).toBe('123456789012345');
    expect(segs.find((s) => s[0] === 'TA1')).toEqual(['TA1', control, '080503', '1705', 'A', '000']);
    expect(segs.find((s) => s[0] === 'AK1')).toEqual(['AK1', 'HR', '20213', '005010X279A1']);
    expect(segs.find((s) => s[0] === 'AK2')).toEqual(['AK2', '276', '1234', '005010X279A1']);
    expect(segs.find((s) => s[0] === 'IK5')).toEqual(['IK5', 'R', '1']);
    expect(segs.find((s) => s[0] === 'AK9')).toEqual(['AK9', 'R', '1', '1', '0']);
    const se = segs.find((s) => s[0] === 'SE')!;
    const st = segs.findIndex((s) => s[0] === 'ST');
    expect(Number(se[1])).toBe(segs.findIndex((s) => s[0] === 'SE') - st + 1);
    const [row] = await g.db.sql`SELECT protocol, sender, control_id, message_type, status, raw, outcome FROM message WHERE id = ${res.id}`;
    expect(row).toMatchObject({ protocol: 'x12', sender: 'ZZ:123456789012345', control_id: control, message_type: '276', status: 'rejected' });
    expect(Buffer.from(row!.raw).toString('latin1')).toBe(text);
    expect(row!.outcome.issue[0].diagnostics).toMatch(/transaction set 276 is not supported/);
    const events = await client(g)('GET', `AuditEvent?entity-name=${control}`);
    expect(events.body.entry[0].resource).toMatchObject({ outcome: '4', outcomeDesc: 'x12 999-R', subtype: [{ code: '276' }] });
  });

  it('answers a resend of the same ISA13 with the first answer and stores nothing new', async () => {
    const { text, control } = interchange();
    const first = await post(text);
    const again = await post(text);
    expect(again.text).toBe(first.text);
    expect(again.id).toBe(first.id);
    const rows = await g.db.sql`SELECT 1 FROM message WHERE protocol = 'x12' AND control_id = ${control}`;
    expect(rows).toHaveLength(1);
  });

  it('accepts the sets a handler takes (IK5*A, AK9*A), and records what it made', async () => {
    const passThrough = g.x12.handlers.get('270');
    g.x12.handlers.set('270', async (_ix, _g, tx) => ({ resources: [`CoverageEligibilityRequest/from-${tx.control}`], unmapped: [] }));
    try {
      const { text } = interchange();
      const res = await post(text);
      const segs = segments(res.text);
      expect(segs.find((s) => s[0] === 'IK5')).toEqual(['IK5', 'A']);
      expect(segs.find((s) => s[0] === 'AK9')).toEqual(['AK9', 'A', '1', '1', '1']);
      expect(segs.find((s) => s[0] === 'TA1')).toBeUndefined(); // ISA14 = 0: not asked for
      const [row] = await g.db.sql`SELECT status, resources FROM message WHERE id = ${res.id}`;
      expect(row).toMatchObject({ status: 'processed', resources: ['CoverageEligibilityRequest/from-1234'] });
    } finally {
      if (passThrough) g.x12.handlers.set('270', passThrough);
    }
  });

  it('answers TA1 R 001 when IEA02 does not match ISA13', async () => {
    const { text, control } = interchange({ breakIea: true });
    const res = await post(text);
    expect(segments(res.text).find((s) => s[0] === 'TA1')).toEqual(['TA1', control, '080503', '1705', 'R', '001']);
  });

  it('gives a structured error for what is not an interchange, and keeps the bytes', async () => {
    const res = await post('HELLO*THIS*IS*NOT*X12~');
    expect(res.status).toBe(400);
    const body = JSON.parse(res.text);
    expect(body.resourceType).toBe('OperationOutcome');
    expect(body.issue[0].diagnostics).toMatch(/does not start with an ISA segment.*stored as message (\d+)/);
    const id = /stored as message (\d+)/.exec(body.issue[0].diagnostics)![1] as string;
    const [row] = await g.db.sql`SELECT status, raw FROM message WHERE id = ${id}`;
    expect(row!.status).toBe('rejected');
    expect(Buffer.from(row!.raw).toString()).toBe('HELLO*THIS*IS*NOT*X12~');
  });
});

describe('readInterchange', () => {
  it('reads delimiters from the ISA, tolerates a BOM and line breaks, and checks the trailers', () => {
    const { text } = interchange();
    const ix = readInterchange(`\uFEFF${text.replaceAll('~', '~\r\n')}`);
    expect(ix.delimiters).toEqual({ element: '*', component: ':', repetition: '>', segment: '~' });
    expect(ix.groups[0]!.transactions[0]!.segments.length).toBe(13);
    expect(ix.groups[0]!.problems).toEqual([]);
    const cut = readInterchange(text.replace(/SE\*13\*1234~/, 'SE*12*1234~'));
    expect(cut.groups[0]!.problems[0]).toMatch(/SE01 of ST 1234 counts 12 segments, the set holds 13/);
  });
});
