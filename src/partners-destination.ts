/**
 * @module partners-destination — a partner office's MLLP destination declared in the partners file
 * (`hl7v2.destination`: host, port, receiving application and facility, TLS files), made into the FHIR the
 * outbox reads: an Endpoint (`hl7v2-mllp`, `mllp://` or `mllps://host:port`, `header` `MSH-5=…`/`MSH-6=…`)
 * managed by the partner's Organization, which lists it in `endpoint`.
 *
 * The file is the truth for what it declares: the Endpoint is found by an identifier naming the partner and
 * brought in line at every start, so a changed host is used after a restart. TLS files are read at start (a
 * missing file stops the gateway with its name) and never put in a resource.
 */
import { readFileSync } from 'node:fs';
import type { Endpoint, Organization } from '@medplum/fhirtypes';
import type { Repository } from './store/repository.ts';
import { delimitersOf } from './translate/hl7v2/encode.ts';
import type { Delimiters } from './translate/hl7v2/header.ts';

export type PartnerDestination = {
  host: string;
  port: number;
  application?: string;
  facility?: string;
  /** PEM contents: the CA the partner's server certificate chains to, and the gateway's client certificate. */
  tls?: { ca?: string; cert?: string; key?: string };
  /** The delimiters the partner reads (`encoding`, MSH-1 and MSH-2: `|^~\\&`); the standard ones otherwise. */
  delimiters?: Delimiters;
};

export const ENDPOINT_ID_SYSTEM = 'urn:frontdesk:partner-endpoint';
const CONNECTION = { system: 'http://terminology.hl7.org/CodeSystem/endpoint-connection-type', code: 'hl7v2-mllp' };

export function parseDestination(raw: any, bad: (m: string) => void): PartnerDestination | undefined {
  if (typeof raw !== 'object' || raw === null) return void bad('hl7v2.destination must be {host, port, …}');
  const known = new Set(['host', 'port', 'application', 'facility', 'tls', 'encoding']);
  for (const k of Object.keys(raw)) if (!known.has(k)) bad(`hl7v2.destination: unknown key "${k}"`);
  if (typeof raw.host !== 'string' || !/^[A-Za-z0-9.:\-[\]]+$/.test(raw.host)) bad('hl7v2.destination.host must be a host name or address');
  if (!Number.isInteger(raw.port) || raw.port < 1 || raw.port > 65535) bad('hl7v2.destination.port must be 1–65535');
  for (const k of ['application', 'facility']) {
    if (raw[k] !== undefined && (typeof raw[k] !== 'string' || /[|^~\\&\r\n]/.test(raw[k]))) {
      bad(`hl7v2.destination.${k} must be text without HL7 delimiters (MSH-5/MSH-6)`);
    }
  }
  let tls: PartnerDestination['tls'];
  if (raw.tls !== undefined) {
    const file = (k: string): string | undefined => {
      const path = raw.tls?.[k];
      if (path === undefined) return undefined;
      try {
        return readFileSync(String(path), 'utf8');
      } catch (err) {
        return void bad(`hl7v2.destination.tls.${k}: cannot read ${String(path)}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
      }
    };
    const [ca, cert, key] = [file('caFile'), file('certFile'), file('keyFile')];
    if (!!cert !== !!key) bad('hl7v2.destination.tls: certFile and keyFile go together');
    tls = { ...(ca ? { ca } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}) };
  }
  let delimiters: Delimiters | undefined;
  if (raw.encoding !== undefined) {
    try {
      if (typeof raw.encoding !== 'string' || raw.encoding.length !== 5) throw new Error();
      delimiters = delimitersOf(raw.encoding.slice(1), raw.encoding[0]);
    } catch {
      bad('hl7v2.destination.encoding must be MSH-1 and MSH-2: five distinct characters, as "|^~\\&"');
    }
  }
  return {
    ...(delimiters ? { delimiters } : {}),
    host: String(raw.host),
    port: Number(raw.port),
    ...(typeof raw.application === 'string' ? { application: raw.application } : {}),
    ...(typeof raw.facility === 'string' ? { facility: raw.facility } : {}),
    ...(tls ? { tls } : {}),
  };
}

/** Makes sure the partner's Endpoint exists as declared and its Organization points at it; returns `Endpoint/<id>`. */
export async function ensureEndpoint(repo: Repository, partnerId: string, org: string, d: PartnerDestination): Promise<string> {
  const host = d.host.includes(':') && !d.host.startsWith('[') ? `[${d.host}]` : d.host;
  const endpoint: Endpoint = {
    resourceType: 'Endpoint',
    identifier: [{ system: ENDPOINT_ID_SYSTEM, value: partnerId }],
    status: 'active',
    connectionType: CONNECTION,
    name: `HL7 v2 over MLLP to ${partnerId}`,
    managingOrganization: { reference: org },
    payloadType: [{ text: 'HL7 v2' }],
    address: `${d.tls ? 'mllps' : 'mllp'}://${host}:${d.port}`,
    header: [...(d.application ? [`MSH-5=${d.application}`] : []), ...(d.facility ? [`MSH-6=${d.facility}`] : [])],
  };
  if (!endpoint.header?.length) delete endpoint.header;
  const query = `identifier=${encodeURIComponent(ENDPOINT_ID_SYSTEM)}|${encodeURIComponent(partnerId)}`;
  const { resource } = await repo.conditionalUpdate(endpoint, query);
  const ref = `Endpoint/${resource.id}`;
  const [type, id] = org.split('/');
  const organization = await repo.read<Organization>(type as string, id as string);
  if (!organization.endpoint?.some((e) => e.reference === ref)) {
    await repo.update({ ...organization, endpoint: [...(organization.endpoint ?? []), { reference: ref }] });
  }
  return ref;
}
