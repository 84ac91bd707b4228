/**
 * @module workflows/register-patient — ADT registration (A01, A04, A08, A28, A31): the patient, their coverages and
 * the payers, matched by business identifiers and written in one transaction before the ACK.
 *
 * Identity by identifiers: a repeat for the same MRN updates the same Patient. Fields the message leaves empty
 * keep what is stored; fields sent as `""` are removed (v2.5 §2.5.3); identifiers are merged, never dropped.
 * What the gateway makes is validated against its profiles (`frontdesk-patient`).
 */
import type { Identifier, Resource } from '@medplum/fhirtypes';
import type { Repository } from '../store/repository.ts';
import { contentError } from '../translate/hl7v2/datatypes.ts';
import { registration, type Update } from '../translate/hl7v2/adt.ts';
import { Hl7v2Message } from '../translate/hl7v2/parse.ts';
import { GATEWAY_PROFILES } from '../validate/profiles.ts';
import { validate } from '../validate/validator.ts';
import type { Hl7Handler } from './receive-hl7v2.ts';

export const ADT_REGISTRATION_EVENTS = ['A01', 'A04', 'A08', 'A28', 'A31'] as const;

export function registerPatientHandler(repo: Repository): Hl7Handler {
  return async (_header, text) => {
    const reg = registration(new Hl7v2Message(text));
    return repo.transaction(async (tx) => {
      const patient = await upsert(tx, reg.patient, `identifier=${token(reg.patient.match)}`, [GATEWAY_PROFILES.Patient]);
      const resources = [`Patient/${patient.id}`];
      for (const c of reg.coverages) {
        const payerQuery = c.payer.match ? `identifier=${token(c.payer.match)}` : `name:exact=${encodeURIComponent(c.payer.resource.name ?? '')}`;
        const payer = await upsert(tx, c.payer, payerQuery);
        const coverage = fill(c.coverage, patient.id, payer.id);
        const coverageQuery = c.coverage.match
          ? `identifier=${token(c.coverage.match)}`
          : `beneficiary=Patient/${patient.id}&payor=Organization/${payer.id}`;
        const stored = await upsert(tx, coverage, coverageQuery);
        resources.push(`Organization/${payer.id}`, `Coverage/${stored.id}`);
      }
      return { resources: [...new Set(resources)], unmapped: reg.unmapped };
    });
  };
}

async function upsert<T extends Resource>(tx: Repository, u: Update<T>, query: string, profiles: string[] = []): Promise<T & { id: string }> {
  const type = u.resource.resourceType;
  const ids = await tx.matchForWrite(type, query, `${type} match`);
  if (ids.length > 1) throw contentError(`More than one ${type} matches ${decodeURIComponent(query)}: cannot tell which to update`, type, '205');
  const existing = ids[0] ? await tx.read<T>(type, ids[0]) : undefined;
  const merged = merge(existing, u);
  validate(merged, { profiles });
  if (existing) return (await tx.update({ ...merged, id: existing.id })).resource as T & { id: string };
  return (await tx.create(merged)).resource as T & { id: string };
}

/** New values over stored ones; `""` removals applied; identifiers united (system|value). */
function merge<T extends Resource>(existing: T | undefined, u: Update<T>): T {
  if (!existing) return structuredClone(u.resource);
  const merged = { ...existing, ...structuredClone(u.resource) } as unknown as Record<string, unknown>;
  for (const key of u.remove) delete merged[key];
  const ids = [...(((existing as { identifier?: Identifier[] }).identifier) ?? []), ...(((u.resource as { identifier?: Identifier[] }).identifier) ?? [])];
  if (ids.length) {
    const seen = new Set<string>();
    merged.identifier = ids.filter((i) => {
      const k = `${i.system}|${i.value}`;
      if (seen.has(k)) return false;
      seen.add(k);
      return true;
    });
  }
  merged.meta = existing.meta;
  return merged as unknown as T;
}

/** Replaces the `$patient` / `$payer` placeholders of a translated Coverage with the stored ids. */
function fill<T extends Resource>(u: Update<T>, patientId: string, payerId: string): Update<T> {
  const text = JSON.stringify(u.resource).replaceAll('Patient/$patient', `Patient/${patientId}`).replaceAll('Organization/$payer', `Organization/${payerId}`);
  return { ...u, resource: JSON.parse(text) as T };
}

function token(id: Identifier | undefined): string {
  return `${encodeURIComponent(id?.system ?? '')}|${encodeURIComponent(id?.value ?? '')}`;
}
