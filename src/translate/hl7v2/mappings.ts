/**
 * @module translate/hl7v2/mappings — the data in `mappings/`: HL7 v2 code tables, identifier systems and the field
 * maps of `mappings/hl7v2/` (read and checked by ./fieldmap.ts). Loaded once; pure lookups after that.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const dir = fileURLToPath(new URL('../../../mappings/', import.meta.url));
const tables = JSON.parse(readFileSync(`${dir}hl7v2/tables.json`, 'utf8')) as Record<string, Record<string, string>>;
const systems = JSON.parse(readFileSync(`${dir}identifier-systems.json`, 'utf8')) as Record<string, string>;

/**
 * Looks a code up in an HL7 table (`'0001'`), case-sensitively as HL7 codes are. A code the table does not list
 * gets its `$default` when it has one; `$none` maps to nothing.
 */
export function lookup(table: string, code: string | undefined): string | undefined {
  if (!code || code.startsWith('$')) return undefined;
  const t = Object.hasOwn(tables, table) ? tables[table] : undefined;
  const v = t && (Object.hasOwn(t, code) ? t[code] : t.$default);
  return v === '$none' ? undefined : v;
}

/**
 * A table read backwards: the first code (in the file's order) that `lookup` turns into `value`, so the code the
 * table lists first for a FHIR value is the one written (`home` → `PRN`).
 */
export function reverseLookup(table: string, value: string | undefined): string | undefined {
  if (!value) return undefined;
  const t = Object.hasOwn(tables, table) ? tables[table] : undefined;
  if (!t) return undefined;
  for (const [code, v] of Object.entries(t)) if (v === value && !code.startsWith('$')) return code;
  return undefined;
}

/** The assigning authority `identifier-systems.json` names first for an Identifier.system (`…/us-npi` → `NPI`). */
export function systemNamespace(system: string): string | undefined {
  return Object.entries(systems).find(([ns, s]) => s === system && !ns.startsWith('$'))?.[0];
}

export function hasTable(table: string): boolean {
  return Object.hasOwn(tables, table);
}

/** A field map of `mappings/hl7v2/` (`patient` → patient.json), as written: ./fieldmap.ts checks it. */
export function readFieldMap(name: string): { file: string; data: unknown } {
  const file = `mappings/hl7v2/${name}.json`;
  return { file, data: JSON.parse(readFileSync(`${dir}hl7v2/${name}.json`, 'utf8')) };
}

/** FHIR Identifier.system for an assigning authority (CX-4: namespace, universal id, universal id type). */
export function identifierSystem(namespace: string | undefined, universalId?: string, universalIdType?: string): string | undefined {
  if (namespace && systems[namespace]) return systems[namespace];
  if (universalId && universalIdType === 'ISO') return `urn:oid:${universalId}`;
  if (universalId && /^https?:|^urn:/.test(universalId)) return universalId;
  if (namespace) return `urn:frontdesk:id:${encodeURIComponent(namespace)}`;
  return undefined;
}
