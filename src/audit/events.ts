/**
 * @module audit/events — builds AuditEvents in the style of IHE Basic Audit Log Patterns (BALP): who (client id
 * and network address), what (interaction, resources, the patient concerned, the query), when, and the outcome.
 *
 * The client is carried as `agent.who.identifier` and `agent.altId` (search `AuditEvent?altid=<client id>`);
 * the query is base64 in `entity.query`, as BALP does, so it stays out of any text index.
 */
import type { AuditEvent, AuditEventEntity, Reference, Resource } from '@medplum/fhirtypes';

export const CLIENT_ID_SYSTEM = 'urn:frontdesk:client-id';

const ACTION: Record<string, AuditEvent['action']> = { POST: 'C', GET: 'R', HEAD: 'R', PUT: 'U', PATCH: 'U', DELETE: 'D' };

export type RestAudit = {
  clientId: string | undefined;
  address: string;
  method: string;
  /** FHIR restful-interaction code: read, search-type, create, transaction, … */
  interaction: string;
  status: number;
  /** `Type/id` of the resources the interaction touched or returned. */
  references: string[];
  /** The patients those resources concern (`Patient/id`). */
  patients: string[];
  query?: string;
};

export function restEvent(a: RestAudit): AuditEvent {
  const entity: AuditEventEntity[] = [];
  for (const p of a.patients) entity.push({ what: { reference: p }, type: systemObject('1', 'Person'), role: role('1', 'Patient') });
  for (const r of a.references.filter((r) => !a.patients.includes(r)).slice(0, 100)) {
    entity.push({ what: { reference: r }, type: systemObject('2', 'System Object'), role: role('4', 'Domain Resource') });
  }
  if (a.query) entity.push({ type: systemObject('2', 'System Object'), role: role('24', 'Query'), query: Buffer.from(a.query).toString('base64') });
  return {
    resourceType: 'AuditEvent',
    type: { system: 'http://terminology.hl7.org/CodeSystem/audit-event-type', code: 'rest', display: 'RESTful Operation' },
    subtype: [{ system: 'http://hl7.org/fhir/restful-interaction', code: a.interaction }],
    action: a.method === 'POST' && a.interaction.startsWith('search') ? 'E' : (ACTION[a.method] ?? 'E'),
    recorded: new Date().toISOString(),
    outcome: outcomeCode(a.status),
    outcomeDesc: `HTTP ${a.status}`,
    agent: [clientAgent(a.clientId, a.address), gatewayAgent()],
    source: source(),
    entity: entity.length > 0 ? entity : undefined,
  };
}

export type MessageAudit = {
  direction: 'inbound' | 'outbound';
  protocol: string;
  messageType: string;
  controlId: string;
  messageId: string;
  peer: string;
  sender: string;
  ack: string;
  resources: string[];
  /** Whether the message was processed; else read from the acknowledgment (none is sent in some enhanced modes). */
  succeeded?: boolean;
  /** `Organization/<id>` of the configured partner the message came from, if known. */
  partner?: string;
};

/** An HL7 v2 or X12 message received (DICOM 110107 Import) or sent (110106 Export). */
export function messageEvent(m: MessageAudit): AuditEvent {
  const ok = m.succeeded ?? (m.ack === 'AA' || m.ack === 'CA' || m.ack === 'CA+AA' || m.ack === '999-A');
  return {
    resourceType: 'AuditEvent',
    type:
      m.direction === 'inbound'
        ? { system: 'http://dicom.nema.org/resources/ontology/DCM', code: '110107', display: 'Import' }
        : { system: 'http://dicom.nema.org/resources/ontology/DCM', code: '110106', display: 'Export' },
    subtype: [{ system: 'urn:frontdesk:message-type', code: m.messageType || 'unknown' }],
    action: m.direction === 'inbound' ? 'C' : 'R',
    recorded: new Date().toISOString(),
    outcome: ok ? '0' : '4',
    outcomeDesc: `${m.protocol} ${m.ack || (ok ? 'processed, no acknowledgment sent' : 'failed, no acknowledgment sent')}`,
    agent: [
      {
        who: { ...(m.partner ? { reference: m.partner } : {}), identifier: { system: 'urn:frontdesk:partner', value: m.sender || 'unknown' } },
        altId: m.sender,
        requestor: m.direction === 'inbound',
        network: { address: m.peer, type: '2' },
      },
      gatewayAgent(),
    ],
    source: source(),
    entity: [
      { what: { identifier: { system: 'urn:frontdesk:message', value: m.messageId } }, type: systemObject('2', 'System Object'), role: role('20', 'Job'), name: m.controlId },
      ...m.resources.slice(0, 100).map((r) => ({ what: { reference: r }, type: systemObject('2', 'System Object'), role: role('4', 'Domain Resource') })),
    ],
  };
}

/** The patients a resource concerns: itself, or its subject/patient/beneficiary when that is a Patient. */
export function patientsOf(resource: Resource | undefined): string[] {
  if (!resource) return [];
  if (resource.resourceType === 'Patient' && resource.id) return [`Patient/${resource.id}`];
  const r = resource as unknown as Record<string, Reference | undefined>;
  const refs = [r.subject, r.patient, r.beneficiary].map((x) => x?.reference).filter((x): x is string => !!x?.startsWith('Patient/'));
  return [...new Set(refs)];
}

function clientAgent(clientId: string | undefined, address: string): NonNullable<AuditEvent['agent']>[number] {
  return {
    type: { coding: [{ system: 'http://dicom.nema.org/resources/ontology/DCM', code: '110153', display: 'Source Role ID' }] },
    who: { identifier: { system: CLIENT_ID_SYSTEM, value: clientId ?? 'unauthenticated' } },
    altId: clientId ?? 'unauthenticated',
    requestor: true,
    network: { address, type: '2' },
  };
}

function gatewayAgent(): NonNullable<AuditEvent['agent']>[number] {
  return {
    type: { coding: [{ system: 'http://dicom.nema.org/resources/ontology/DCM', code: '110152', display: 'Destination Role ID' }] },
    who: { display: 'Frontdesk gateway' },
    requestor: false,
  };
}

function source(): AuditEvent['source'] {
  return { observer: { display: 'Frontdesk gateway' }, type: [{ system: 'http://terminology.hl7.org/CodeSystem/security-source-type', code: '4', display: 'Application Server' }] };
}

function outcomeCode(status: number): AuditEvent['outcome'] {
  return status < 400 ? '0' : status < 500 ? '4' : '8';
}

function systemObject(code: string, display: string) {
  return { system: 'http://terminology.hl7.org/CodeSystem/audit-entity-type', code, display };
}

function role(code: string, display: string) {
  return { system: 'http://terminology.hl7.org/CodeSystem/object-role', code, display };
}

/** The references and patients a response carries: a resource, or every resource of a Bundle. */
export function touched(resource: Resource | undefined): { references: string[]; patients: string[] } {
  const resources: Resource[] = [];
  if (resource?.resourceType === 'Bundle') {
    for (const e of resource.entry ?? []) {
      if (e.resource && e.resource.resourceType !== 'OperationOutcome') resources.push(e.resource);
      else if (e.response?.location) resources.push(fromLocation(e.response.location));
    }
  } else if (resource && resource.resourceType !== 'OperationOutcome') {
    resources.push(resource);
  }
  const references = resources.filter((r) => r.id).map((r) => `${r.resourceType}/${r.id}`);
  return { references: [...new Set(references)], patients: [...new Set(resources.flatMap(patientsOf))] };
}

function fromLocation(location: string): Resource {
  const [resourceType, id] = location.split('/');
  return { resourceType, id } as Resource;
}
