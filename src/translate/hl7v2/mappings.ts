/**
 * @module translate/hl7v2/mappings — the data in `mappings/`: HL7 v2 code tables and identifier systems.
 * Loaded once; pure lookups after that.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const dir = fileURLToPath(new URL('../../../mappings/', import.meta.url));
const tables = JSON.parse(readFileSync(`${dir}hl7v2/tables.json`, 'utf8')) as Record<string, Record<string, string>>;
const systems = JSON.parse(readFileSync(`${dir}identifier-systems.json`, 'utf8')) as Record<string, string>;

/** Looks a code up in an HL7 table (`'0001'`), case-sensitively as HL7 codes are. */
export function lookup(table: string, code: string | undefined): string | undefined {
  if (!code || code.startsWith('$')) return undefined;
  const v = tables[table]?.[code];
  return v === '$none' ? undefined : v;
}

/** FHIR Identifier.system for an assigning authority (CX-4: namespace, universal id, universal id type). */
export function identifierSystem(namespace: string | undefined, universalId?: string, universalIdType?: string): string | undefined {
  if (namespace && systems[namespace]) return systems[namespace];
  if (universalId && universalIdType === 'ISO') return `urn:oid:${universalId}`;
  if (universalId && /^https?:|^urn:/.test(universalId)) return universalId;
  if (namespace) return `urn:frontdesk:id:${encodeURIComponent(namespace)}`;
  return undefined;
}
