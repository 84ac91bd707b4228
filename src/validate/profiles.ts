/**
 * @module validate/profiles — the project's own profiles (`profiles/*.json`).
 *
 * A profile file is a StructureDefinition with a `differential` only. No snapshot generator exists in the
 * JavaScript stack, and ours only tighten cardinality, so the snapshot is made here by copying the R4 base
 * snapshot and applying each differential element's `min`/`max`/`mustSupport` to the element with the same
 * path — enough for `@medplum/core` `validateResource(resource, { profile })` to enforce it.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ElementDefinition, StructureDefinition } from '@medplum/fhirtypes';
import { baseDefinition } from './definitions.ts';

export const PROFILES_DIR = fileURLToPath(new URL('../../profiles/', import.meta.url));

/** Canonical URLs of the profiles applied to what the gateway itself makes from HL7 v2 or X12. */
export const GATEWAY_PROFILES = {
  Patient: 'https://frontdesk.example.org/fhir/StructureDefinition/frontdesk-patient',
} as const;

let byUrl: Map<string, StructureDefinition> | undefined;

export function profiles(dir = PROFILES_DIR): Map<string, StructureDefinition> {
  if (byUrl) return byUrl;
  const map = new Map<string, StructureDefinition>();
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.json')).sort()) {
    const sd = JSON.parse(readFileSync(join(dir, file), 'utf8')) as StructureDefinition;
    if (sd.resourceType !== 'StructureDefinition' || !sd.url) {
      throw new Error(`profiles/${file} is not a StructureDefinition with a url`);
    }
    map.set(sd.url, withSnapshot(sd));
  }
  byUrl = map;
  return map;
}

export function profile(url: string): StructureDefinition | undefined {
  return profiles().get(url.split('|')[0] ?? url);
}

function withSnapshot(sd: StructureDefinition): StructureDefinition {
  if (sd.snapshot?.element?.length) return sd;
  const base = baseDefinition(sd.type);
  if (!base?.snapshot?.element) throw new Error(`No R4 base definition for profile type ${sd.type}`);
  const element: ElementDefinition[] = [...base.snapshot.element];
  for (const d of sd.differential?.element ?? []) {
    let i = element.findIndex((e) => e.path === d.path);
    if (i < 0) i = expandTo(element, d.path);
    const e = element[i] as ElementDefinition;
    element[i] = { ...e, min: d.min ?? e.min, max: d.max ?? e.max, mustSupport: d.mustSupport ?? e.mustSupport };
  }
  return { ...sd, snapshot: { element } };
}

/**
 * A differential may constrain an element inside a data type (`Patient.identifier.value`), which the base
 * snapshot does not list: the data type's elements are copied in under the parent, re-rooted at its path.
 */
function expandTo(element: ElementDefinition[], path: string): number {
  const parentPath = path.slice(0, path.lastIndexOf('.'));
  let p = element.findIndex((e) => e.path === parentPath);
  if (p < 0) p = expandTo(element, parentPath);
  const parent = element[p] as ElementDefinition;
  const typeName = parent.type?.[0]?.code;
  const typeDef = typeName ? baseDefinition(typeName) : undefined;
  if (!typeDef?.snapshot?.element) throw new Error(`Profile element ${path}: cannot expand type ${typeName ?? '?'}`);
  const children = typeDef.snapshot.element.slice(1).map((c) => ({
    ...c,
    id: parentPath + c.path.slice(typeName!.length),
    path: parentPath + c.path.slice(typeName!.length),
  }));
  element.splice(p + 1, 0, ...children);
  const i = element.findIndex((e) => e.path === path);
  if (i < 0) throw new Error(`Profile element ${path} is not in ${typeName}`);
  return i;
}
