/**
 * Synthetic inputs for `npm run bench:load` (bench/load.ts): a Patient for FHIR create and for the bare-INSERT
 * baseline, and an ADT^A04 registration for MLLP. Made-up names and identifiers only; a run tag keeps
 * identifiers and control ids new when `DATABASE_URL` points at a database that already holds a run.
 */
import type { Patient } from '@medplum/fhirtypes';
import { frame } from '../src/inbound/mllp/framer.ts';

/** The gateway's bootstrap client (FRONTDESK_BOOTSTRAP_CLIENT), whose token the load client uses. */
export const BOOTSTRAP = { id: 'bench', secret: 'bench-secret' } as const;

const FAMILIES = ['Muñoz', 'Smith', 'Nguyen', 'Patel', 'García', 'Okafor', 'Kowalski', 'Haddad', 'Larsen', 'Tanaka'];
const GIVEN = ['Alex', 'Sam', 'Robin', 'Kim', 'Jordan', 'Noor', 'Ana', 'Lee'];

/** A front-desk registration: one MRN, a name, gender, birth date, a phone. */
export function patient(i: number, run: string): Patient {
  return {
    resourceType: 'Patient',
    identifier: [{ system: 'urn:oid:2.16.840.1.113883.3.999.9', value: `L${run}-${i}` }],
    name: [{ family: FAMILIES[i % 10]!, given: [GIVEN[i % 8]!] }],
    gender: i % 2 ? 'female' : 'male',
    birthDate: `19${50 + (i % 50)}-0${1 + (i % 9)}-1${i % 10}`,
    telecom: [{ system: 'phone', value: `555-01${String(i % 100).padStart(2, '0')}` }],
  };
}

export type Adt = { bytes: Buffer; controlId: string };

/**
 * One ADT^A04 (v2.5.1) framed for MLLP: MSH, EVN, PID, PV1 and an IN1 naming one of 20 payers, the shape
 * bench/mllp.ts sends. MSH-10 (at most 20 characters) and PID-3 are unique per run and `i`.
 */
export function adtA04(i: number, run: string): Adt {
  const controlId = `${run}${i.toString(36)}`;
  const p = i % 20;
  const in1: string[] = [
    'IN1', '1', `PLAN-${p % 3}`, `PAYER${p}^^^BENCHFAC&2.16.840.1.113883.3.999.78&ISO`, `Synthetic Mutual ${p}`,
    `${p} Payer Way^^Springfield^IL^62701^USA`,
  ];
  Object.assign(in1, {
    8: `GRP-${i % 50}`, 9: 'Synthetic Employer', 12: '20260101', 13: '20261231', 17: 'SEL', 22: '1',
    36: `POL${run}${i}`, 49: `MEM${run}${i}`,
  });
  const day = String(1 + (i % 28)).padStart(2, '0');
  const phone = String(i % 10_000_000).padStart(7, '0');
  const text = [
    `MSH|^~\\&|REGAPP|BENCHFAC|FRONTDESK|FD|20260105120000||ADT^A04^ADT_A01|${controlId}|P|2.5.1`,
    'EVN|A04|20260105120000',
    `PID|1||B${run}${i}^^^BENCHFAC&2.16.840.1.113883.3.999.77&ISO^MR||${FAMILIES[i % 10]}^${GIVEN[i % 8]}^Q||` +
      `19${40 + (i % 60)}0${1 + (i % 9)}${day}|${i % 2 ? 'F' : 'M'}|||${i % 900} Main St^^Springfield^IL^62701^USA^H` +
      `||^PRN^PH^^^555^${phone}|||M`,
    'PV1|1|O',
    Array.from({ length: 50 }, (_, k) => in1[k] ?? '').join('|'),
  ].join('\r');
  return { bytes: frame(text + '\r'), controlId };
}

/** A token for the bench's bootstrap client (client credentials at the gateway's token endpoint). */
export async function benchToken(origin: string): Promise<{ access_token: string; expires_in: number }> {
  const res = await fetch(`${origin}/auth/token`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(`${BOOTSTRAP.id}:${BOOTSTRAP.secret}`).toString('base64')}`,
    },
    body: 'grant_type=client_credentials',
  });
  if (!res.ok) throw new Error(`token: HTTP ${res.status}`);
  return (await res.json()) as { access_token: string; expires_in: number };
}
