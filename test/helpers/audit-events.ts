/**
 * A varied audit trail and the AuditEvent queries a front office and its auditors ask of it: what the AuditEvent
 * search tests (and the migrations that move its storage) compare answers on.
 */
import { parseSearchRequest } from '@medplum/core';
import type { AuditEvent } from '@medplum/fhirtypes';
import type { Sql } from 'postgres';
import { messageEvent, restEvent } from '../../src/audit/events.ts';
import { searchResourceTable } from '../../src/store/search.ts';
import { writeNewResources } from '../../src/store/write.ts';

const at = (minute: number) => new Date(Date.UTC(2026, 11, 1, 10, minute)).toISOString();

/** A varied trail: reads and searches by two clients, refusals, messages in and out with partners. */
export function auditEvents(tag: string, minute: number): AuditEvent[] {
  const rest = (
    clientId: string | undefined,
    address: string,
    method: string,
    interaction: string,
    status: number,
    refs: string[],
    patients: string[],
    query?: string
  ) => restEvent({ clientId, address, method, interaction, status, references: refs, patients, query });
  const message = (
    direction: 'inbound' | 'outbound',
    type: string,
    control: string,
    ack: string,
    resources: string[],
    partner?: string
  ) =>
    messageEvent({
      direction,
      protocol: 'HL7v2',
      messageType: type,
      controlId: control,
      messageId: `m-${control}`,
      peer: '10.1.0.4',
      sender: 'CLINIC^FAC',
      ack,
      resources,
      partner,
    });
  const list = [
    rest(`client-a-${tag}`, '10.0.0.5', 'GET', 'read', 200, [`Patient/p1-${tag}`], [`Patient/p1-${tag}`]),
    rest(`client-a-${tag}`, '10.0.0.5', 'POST', 'create', 201, [`Patient/p2-${tag}`], [`Patient/p2-${tag}`]),
    rest(
      `client-b-${tag}`,
      '10.0.0.6',
      'GET',
      'search-type',
      200,
      [`Patient/p1-${tag}`, `Coverage/c1-${tag}`],
      [`Patient/p1-${tag}`],
      'family=Quill'
    ),
    rest(undefined, '10.0.0.7', 'GET', 'read', 401, [`Patient/p2-${tag}`], []),
    rest(`client-b-${tag}`, '10.0.0.6', 'PUT', 'update', 500, [`Appointment/a1-${tag}`], []),
    message('inbound', 'ADT^A04', `CTRL-IN-${tag}`, 'AA', [`Patient/p1-${tag}`], `Organization/org-${tag}`),
    message('outbound', 'REF^I12', `CTRL-OUT-${tag}`, 'AE', [`ServiceRequest/s1-${tag}`]),
    message('inbound', 'SIU^S12', `CTRL-SIU-${tag}`, 'AR', []),
  ];
  return list.map((e, i) => ({ ...e, recorded: at(minute + i * 10) }));
}

export function auditQueries(tag: string): string[] {
  return [
    `patient=Patient/p1-${tag}`,
    `entity=Patient/p2-${tag}`,
    `entity=p1-${tag}`,
    `entity:Coverage=c1-${tag}`,
    `altid=client-a-${tag}`,
    `altid=client-a-${tag},client-b-${tag}`,
    `altid:not=client-a-${tag}`,
    'subtype=read',
    'subtype=http://hl7.org/fhir/restful-interaction|create',
    'subtype=http://hl7.org/fhir/restful-interaction|',
    'subtype=urn:frontdesk:message-type|ADT^A04',
    'type=110107',
    'type=http://dicom.nema.org/resources/ontology/DCM|110106',
    'outcome=4',
    'outcome:not=0',
    'action=R',
    `entity-name=ctrl-in-${tag}`,
    `entity-name:exact=CTRL-OUT-${tag}`,
    `agent:identifier=urn:frontdesk:client-id|client-b-${tag}`,
    'agent:identifier=CLINIC^FAC',
    `agent=Organization/org-${tag}`,
    'address=10.0.0.7',
    'entity-role=4',
    'entity-type=2',
    'entity:missing=true',
    'source:missing=true',
    'date=2026-12-01',
    `date=ge${at(40)}`,
    `date=lt${at(30)}&altid=client-a-${tag}`,
    'date=gt2026-12-01T11:00:00Z&outcome=0',
    `patient=Patient/p1-${tag}&subtype=search-type`,
  ];
}

export const ids = (found: { resources: { id?: string }[] }) => found.resources.map((r) => r.id).sort();
export const request = (q: string) => ({
  ...parseSearchRequest('AuditEvent', Object.fromEntries(new URLSearchParams(q))),
  count: 1000,
});

/**
 * What the generic search engine answers for `queries` over copies of `records` (resource rows written for the
 * comparison only: the gateway never reads them), each answer limited to those records.
 */
export async function answersOverCopies(
  sql: Sql,
  records: { id: string; content: string }[],
  queries: string[],
  base: string
): Promise<Map<string, (string | undefined)[]>> {
  await writeNewResources(
    sql,
    records.map((r) => {
      const resource = JSON.parse(r.content) as AuditEvent & { id: string; meta: { lastUpdated: string } };
      return { type: 'AuditEvent', id: r.id, lastUpdated: resource.meta.lastUpdated, resource };
    })
  );
  const out = new Map<string, (string | undefined)[]>();
  for (const q of queries) {
    const found = ids(await searchResourceTable(sql, request(q), base));
    out.set(
      q,
      found.filter((id) => records.some((r) => r.id === id))
    );
  }
  return out;
}
