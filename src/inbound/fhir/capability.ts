/**
 * @module inbound/fhir/capability — `GET /fhir/metadata`: the CapabilityStatement (capabilitystatement.html),
 * generated from the same registry the routes read, with the search parameters the store actually indexes.
 */
import type { CapabilityStatement, CapabilityStatementRestResource } from '@medplum/fhirtypes';
import { indexedParams } from '../../store/search-params.ts';
import { RESOURCE_TYPES, type SupportedType } from './registry.ts';
import type { Operations } from './operations.ts';

const VERSION = '0.1.0';

export function capabilityStatement(baseUrl: string, startedAt: string, operations?: Operations): CapabilityStatement {
  const ops = [...(operations?.values() ?? [])];
  const resource: CapabilityStatementRestResource[] = (Object.keys(RESOURCE_TYPES) as SupportedType[]).map((type) => {
    const interactions = RESOURCE_TYPES[type] as readonly string[];
    const writable = interactions.includes('create');
    return {
      type,
      profile: `http://hl7.org/fhir/StructureDefinition/${type}`,
      interaction: interactions.map((code) => ({ code: code as 'read' })),
      versioning: 'versioned-update',
      readHistory: true,
      updateCreate: writable,
      conditionalCreate: writable,
      conditionalRead: 'not-supported',
      conditionalUpdate: writable,
      conditionalDelete: writable ? 'single' : 'not-supported',
      referencePolicy: ['literal', 'logical', 'local'],
      ...(ops.some((o) => o.type === type)
        ? {
            operation: ops.filter((o) => o.type === type).map((o) => ({
              name: o.name.slice(1),
              definition: `${baseUrl}/OperationDefinition/${type}-${o.name.slice(1)}`,
              documentation: o.documentation,
            })),
          }
        : {}),
      searchParam: [
        { name: '_id', type: 'token', documentation: 'Logical id' },
        { name: '_lastUpdated', type: 'date', documentation: 'meta.lastUpdated' },
        ...indexedParams(type).map((p) => ({
          name: p.code as string,
          definition: p.url,
          type: p.type as 'token',
          documentation: p.description?.split('\n')[0],
        })),
      ],
    };
  });
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: startedAt,
    publisher: 'Frontdesk',
    kind: 'instance',
    software: { name: 'Frontdesk', version: VERSION },
    implementation: { description: 'Frontdesk FHIR R4 gateway', url: baseUrl },
    fhirVersion: '4.0.1',
    format: ['application/fhir+json', 'json'],
    patchFormat: ['application/json-patch+json', 'application/fhir+json'],
    rest: [
      {
        mode: 'server',
        documentation: 'JSON only. Writes are validated against R4 and the profiles in meta.profile.',
        resource,
        interaction: [{ code: 'transaction' }, { code: 'batch' }, { code: 'history-system' }],
      },
    ],
  };
}
