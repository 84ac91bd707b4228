/**
 * @module inbound/fhir/operations — the FHIR operations the gateway implements (operations.html), named
 * `Type/$name`, each with the scopes it needs and a transport-neutral handler into workflows/.
 *
 * The table is built by the composition root (gateway.ts) from the workflows it wires, and read by the
 * dispatcher (interactions.ts) and by `GET /metadata`, so the CapabilityStatement lists exactly what answers.
 */
import type { Resource } from '@medplum/fhirtypes';
import { demand } from '../../access/guard.ts';
import type { Principal } from '../../access/tokens.ts';
import type { Permission } from '../../access/scopes.ts';

export type OperationRequest = { body: unknown; query: URLSearchParams; principal: Principal };

export type FhirOperation = {
  /** `CoverageEligibilityRequest`, … */
  type: string;
  /** `$submit`, … */
  name: string;
  /** Every (resource, permission) the caller's scopes must allow. */
  needs: readonly (readonly [string, Permission])[];
  /** What it does, for the CapabilityStatement. */
  documentation: string;
  run: (req: OperationRequest) => Promise<{ status: number; resource: Resource }>;
};

export type Operations = ReadonlyMap<string, FhirOperation>;

export function operationTable(list: readonly FhirOperation[]): Operations {
  return new Map(list.map((o) => [`${o.type}/${o.name}`, o]));
}

/** Runs `Type/$name` for a POST, after the scope check; undefined when no such operation exists. */
export async function runOperation(
  ops: Operations | undefined,
  key: string,
  req: OperationRequest
): Promise<{ status: number; resource: Resource } | undefined> {
  const op = ops?.get(key);
  if (!op) return undefined;
  for (const [resource, permission] of op.needs) demand(req.principal, resource, permission, `${op.type}/${op.name}`);
  return op.run(req);
}
