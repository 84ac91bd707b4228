/**
 * @module translate/hl7v2/bundle — a plan as a FHIR transaction Bundle that loads into any FHIR R4 server
 * (`frontdesk translate FILE.hl7`).
 *
 * Every entry is conditional on its business identifiers, so loading the same message twice changes nothing:
 * `upsert` → conditional update (`PUT Type?identifier=…`), `ensure` → conditional create (`If-None-Exist`),
 * `update-existing` (the patient an A40 merges away) → conditional JSON Patch, which fails rather than creates.
 * Entries refer to each other by their `urn:uuid` fullUrls, also inside conditional URLs, which servers resolve
 * within a transaction (HAPI, this gateway). The difference with the gateway's own processing: a conditional
 * update replaces the stored resource with the message's snapshot instead of merging field by field.
 */
import type { Bundle, BundleEntry, Resource } from '@medplum/fhirtypes';
import type { Plan, PlanEntry } from './plan.ts';

export function toTransactionBundle(plan: Plan): Bundle {
  return {
    resourceType: 'Bundle',
    type: 'transaction',
    ...(plan.controlId ? { identifier: { system: 'urn:frontdesk:hl7v2:control-id', value: plan.controlId } } : {}),
    entry: plan.entries.map(entryOf),
  };
}

function entryOf(e: PlanEntry): BundleEntry {
  const type = e.resource.resourceType;
  const resource = { ...e.defaults, ...e.resource } as Resource;
  switch (e.mode) {
    case 'ensure':
      return { fullUrl: e.fullUrl, resource, request: { method: 'POST', url: type, ifNoneExist: e.match } };
    case 'update-existing': {
      const ops = Object.entries(e.resource)
        .filter(([k]) => k !== 'resourceType')
        .map(([k, v]) => ({ op: 'add', path: `/${k}`, value: v }));
      const data = Buffer.from(JSON.stringify(ops)).toString('base64');
      return {
        fullUrl: e.fullUrl,
        resource: { resourceType: 'Binary', contentType: 'application/json-patch+json', data },
        request: { method: 'PATCH', url: `${type}?${e.match}` },
      };
    }
    default:
      return { fullUrl: e.fullUrl, resource, request: { method: 'PUT', url: `${type}?${e.match}` } };
  }
}
