/**
 * @module translate/hl7v2/entity-id — the EI data type (entity identifier: SCH-1/2 appointment ids, RF1-6/11
 * referral ids) → Identifier, after the HL7 v2-to-FHIR IG `EI[Identifier]` map.
 *
 * An EI is not a CX: its authority is EI-2 namespace id, EI-3 universal id and EI-4 universal id type, where a
 * CX names it in CX-4 (an HD). Read as a CX, `F123^OTHERSYS` loses OTHERSYS and `P77^APP^1.2.3^ISO` gets "ISO"
 * for its authority.
 */
import type { Identifier } from '@medplum/fhirtypes';
import type { Comp } from './datatypes.ts';
import { identifierSystem } from './mappings.ts';

/**
 * EI → Identifier: EI-1 the value; the system from EI-2, else EI-3/EI-4 (ISO → `urn:oid:`), through
 * `mappings/identifier-systems.json`; without an authority, the system of `owner` (the facility that assigned it).
 * No system at all (no authority and no owner) leaves `system` out.
 * @example entityId(sch.rep(2, 0), 'NORTHCLINIC') // `F123^OTHERSYS` → { system: 'urn:frontdesk:id:OTHERSYS', value: 'F123' }
 */
export function entityId(c: Comp, owner: string | undefined): Identifier | undefined {
  const value = c(1);
  if (!value) return undefined;
  const system = identifierSystem(c(2), c(3), c(4)) ?? identifierSystem(owner);
  return system ? { system, value } : { value };
}
