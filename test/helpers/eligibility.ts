/**
 * A gateway with payer partners, and the front-office data an eligibility check needs: a practice Organization and
 * Practitioner with NPIs, a patient and a Coverage with the payer. Fictional people and numbers.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { client, testGateway, unique, type TestGateway } from './gateway.ts';

export type PayerPartner = { id: string; payerId: string; url: string; mode?: 'core' | 'x12' | 'json'; timeoutMs?: number; extra?: object; x12?: object };

/** Starts a gateway whose partners file names these payers; `cleanup` stops it and removes the file. */
export async function gatewayWithPayers(payers: PayerPartner[], env: Record<string, string> = {}, logTo?: NodeJS.WritableStream) {
  const dir = mkdtempSync(join(tmpdir(), 'frontdesk-payers-'));
  const file = join(dir, 'partners.json');
  const partners = payers.map((p) => ({
    id: p.id,
    organization: { name: `${p.id} Health Plan`, identifier: { system: 'urn:frontdesk:x12:payer-id', value: p.payerId } },
    x12: {
      payerId: p.payerId,
      senderId: 'CLINIC01',
      endpoint: { url: p.url, mode: p.mode ?? 'x12', timeoutMs: p.timeoutMs ?? 3000, ...(p.extra ?? {}) },
      ...(p.x12 ?? {}),
    },
  }));
  writeFileSync(file, JSON.stringify({ partners }));
  const g = await testGateway({ FRONTDESK_PARTNERS: file, ...env }, undefined, logTo);
  return { g, file, cleanup: async () => { await g.stop(); rmSync(dir, { recursive: true, force: true }); } };
}

export type Insured = { patient: string; coverage: string; practitioner: string; memberId: string; payerOrg: string };

/** A patient insured by the partner's payer, and a practitioner to ask for. */
export async function insuredPatient(g: TestGateway, partnerId: string, o: { memberId?: string; active?: boolean } = {}): Promise<Insured> {
  const fhir = client(g);
  const payerOrg = g.partners.partners.find((p) => p.id === partnerId)?.reference as string;
  const memberId = o.memberId ?? `M${Math.floor(Math.random() * 1e9)}`;
  const patient = await fhir('POST', 'Patient', {
    resourceType: 'Patient',
    identifier: [{ system: 'urn:example:mrn', value: unique('mrn') }],
    name: [{ family: 'Testperson', given: ['Alexandra'] }],
    birthDate: '1980-01-01',
    gender: 'female',
  });
  const coverage = await fhir('POST', 'Coverage', {
    resourceType: 'Coverage',
    status: o.active === false ? 'cancelled' : 'active',
    subscriberId: memberId,
    beneficiary: { reference: `Patient/${patient.body.id}` },
    relationship: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/subscriber-relationship', code: 'self' }] },
    payor: [{ reference: payerOrg }],
    class: [{ type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/coverage-class', code: 'group' }] }, value: 'GRP100' }],
  });
  const practitioner = await fhir('POST', 'Practitioner', {
    resourceType: 'Practitioner',
    identifier: [{ system: 'http://hl7.org/fhir/sid/us-npi', value: '1234567893' }],
    name: [{ family: 'Welby', given: ['Marcus'] }],
  });
  return { patient: `Patient/${patient.body.id}`, coverage: `Coverage/${coverage.body.id}`, practitioner: `Practitioner/${practitioner.body.id}`, memberId, payerOrg };
}

export function eligibilityRequest(i: Insured, extra: object = {}) {
  return {
    resourceType: 'CoverageEligibilityRequest',
    status: 'active',
    purpose: ['benefits'],
    patient: { reference: i.patient },
    created: new Date().toISOString(),
    insurer: { reference: i.payerOrg },
    provider: { reference: i.practitioner },
    insurance: [{ focal: true, coverage: { reference: i.coverage } }],
    ...extra,
  };
}
