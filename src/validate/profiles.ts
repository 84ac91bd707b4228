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
  const diff = new Map((sd.differential?.element ?? []).map((e) => [e.path, e]));
  const element: ElementDefinition[] = base.snapshot.element.map((e) => {
    const d = diff.get(e.path);
    if (!d) return e;
    return {
      ...e,
      min: d.min ?? e.min,
      max: d.max ?? e.max,
      mustSupport: d.mustSupport ?? e.mustSupport,
    };
  });
  return { ...sd, snapshot: { element } };
}
