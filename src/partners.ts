/**
 * @module partners — the trading partners a gateway exchanges messages with: who they are (an Organization),
 * how to recognise them (HL7 v2 sending application/facility, the client certificate they present over MLLP/TLS)
 * and what their feeds need (time zone of offset-less times, character set when MSH-18 is missing or wrong).
 *
 * Kept in a JSON file named by `FRONTDESK_PARTNERS`, checked at start with every problem named at once, so an
 * integration engineer adds a partner by editing one file and restarting. Each partner gets an Organization
 * resource (conditional on its identifier) that audit events and stored messages point at.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Organization } from '@medplum/fhirtypes';
import { isTimeZone } from './config.ts';
import { parsePayerSettings, type PayerSettings } from './partners-x12.ts';
import { ensureEndpoint, parseDestination, type PartnerDestination } from './partners-destination.ts';
import type { Repository } from './store/repository.ts';
import { isHl7Charset } from './translate/hl7v2/charset.ts';
import { SYSTEMS } from './translate/x12/systems.ts';

export type Partner = {
  id: string;
  organization: { name: string; identifier: { system: string; value: string } };
  hl7v2: {
    senders: { application?: string; facility?: string }[];
    timeZone?: string;
    charset?: string;
    /** Where the gateway sends this partner HL7 v2 (./partners-destination.ts). */
    destination?: PartnerDestination;
  };
  tls: { fingerprint256?: string[]; subject?: string[] };
  /** OAuth client ids that speak for this partner over HTTP (`POST /hl7v2`): held to its HL7 v2 senders. */
  clients: string[];
  /** A payer reached with X12 eligibility inquiries (./partners-x12.ts). */
  x12?: PayerSettings;
  /** `Endpoint/<id>` of its destination, once the gateway has made sure it exists. */
  endpoint?: string;
  /** `Organization/<id>` once the gateway has made sure the Organization exists. */
  reference?: string;
};

export type PartnerSettings = { timeZone?: string; charset?: string };

const KEYS = new Set(['id', 'organization', 'hl7v2', 'tls', 'clients', 'x12']);

/** Reads and checks the partners file; throws one Error naming every problem. */
export function loadPartners(
  path: string | undefined,
  env: Record<string, string | undefined> = process.env
): PartnerRegistry {
  if (!path) return new PartnerRegistry([]);
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`FRONTDESK_PARTNERS: cannot read ${path}: ${(err as Error).message}`);
  }
  const problems: string[] = [];
  const list = (data as { partners?: unknown })?.partners;
  if (!Array.isArray(list)) throw new Error(`FRONTDESK_PARTNERS: ${path} must be {"partners": [...]}`);
  const partners: Partner[] = [];
  const ids = new Set<string>();
  list.forEach((raw: Record<string, any>, i) => {
    const at = `partners[${i}]${typeof raw?.id === 'string' ? ` (${raw.id})` : ''}`;
    const bad = (m: string) => problems.push(`${at}: ${m}`);
    if (!raw || typeof raw !== 'object') return bad('must be an object');
    for (const k of Object.keys(raw)) if (!KEYS.has(k)) bad(`unknown key "${k}" (allowed: ${[...KEYS].join(', ')})`);
    if (typeof raw.id !== 'string' || !/^[A-Za-z0-9._-]{1,64}$/.test(raw.id)) bad('id must be 1–64 letters, digits, ".", "_" or "-"');
    else if (ids.has(raw.id)) bad('id is used twice');
    else ids.add(raw.id);
    const org = raw.organization;
    if (typeof org?.name !== 'string' || typeof org?.identifier?.system !== 'string' || typeof org?.identifier?.value !== 'string') {
      bad('organization needs name and identifier {system, value} (e.g. the NPI)');
    }
    const hl7v2 = raw.hl7v2 ?? {};
    const senders = Array.isArray(hl7v2.senders) ? hl7v2.senders : [];
    if (hl7v2.senders !== undefined && !Array.isArray(hl7v2.senders)) bad('hl7v2.senders must be a list of {application, facility}');
    senders.forEach((s: Record<string, unknown>, j: number) => {
      if (!s || (typeof s.application !== 'string' && typeof s.facility !== 'string')) bad(`hl7v2.senders[${j}] needs application (MSH-3) and/or facility (MSH-4)`);
    });
    if (hl7v2.timeZone !== undefined && (typeof hl7v2.timeZone !== 'string' || !isTimeZone(hl7v2.timeZone))) bad(`hl7v2.timeZone "${hl7v2.timeZone}" is not an IANA time zone`);
    if (hl7v2.charset !== undefined && (typeof hl7v2.charset !== 'string' || !isHl7Charset(hl7v2.charset))) bad(`hl7v2.charset "${hl7v2.charset}" is not an HL7 character set (table 0211, e.g. 8859/1, UNICODE UTF-8)`);
    const tls = raw.tls ?? {};
    const strings = (v: unknown, name: string): string[] => {
      if (v === undefined) return [];
      const arr = Array.isArray(v) ? v : [v];
      if (!arr.every((x) => typeof x === 'string' && x)) bad(`tls.${name} must be a string or a list of strings`);
      return arr as string[];
    };
    const fingerprints = strings(tls.fingerprint256, 'fingerprint256').map(normalizeFingerprint);
    fingerprints.forEach((f) => {
      if (!/^[0-9A-F]{64}$/.test(f)) bad(`tls.fingerprint256 "${f}" is not a SHA-256 fingerprint`);
    });
    const x12 = raw.x12 === undefined ? undefined : parsePayerSettings(raw.x12, bad, env);
    const destination = hl7v2.destination === undefined ? undefined : parseDestination(hl7v2.destination, bad);
    const clients = raw.clients ?? [];
    if (!Array.isArray(clients) || !clients.every((c) => typeof c === 'string' && c)) bad('clients must be a list of OAuth client ids');
    partners.push({
      id: raw.id,
      organization: { name: org?.name, identifier: { system: org?.identifier?.system, value: org?.identifier?.value } },
      hl7v2: {
        senders,
        ...(hl7v2.timeZone ? { timeZone: hl7v2.timeZone } : {}),
        ...(hl7v2.charset ? { charset: hl7v2.charset } : {}),
        ...(destination ? { destination } : {}),
      },
      tls: { fingerprint256: fingerprints, subject: strings(tls.subject, 'subject') },
      clients: Array.isArray(clients) ? clients.filter((c) => typeof c === 'string') : [],
      ...(x12 ? { x12 } : {}),
    });
  });
  // On the raw sections: a payer whose section has other mistakes still counts.
  const payerIds = list.flatMap((raw: Record<string, any>) =>
    typeof raw?.x12?.payerId === 'string' ? [raw.x12.payerId as string] : []
  );
  const twice = payerIds.find((id, i) => payerIds.indexOf(id) !== i);
  if (twice) problems.push(`x12.payerId "${twice}" belongs to two partners: a 270 could not be routed`);
  if (problems.length) throw new Error(`Invalid partners file ${path}:\n  - ${problems.join('\n  - ')}`);
  return new PartnerRegistry(partners);
}

export class PartnerRegistry {
  readonly partners: readonly Partner[];

  constructor(partners: Partner[]) {
    this.partners = partners;
  }

  /**
   * The partner that sends as MSH-3 / MSH-4 (first component, the HD namespace id). A sender key with both
   * application and facility must match both; one with only one of them matches on it alone.
   */
  bySender(sendingApplication: string, sendingFacility: string, componentSeparator = '^'): Partner | undefined {
    const app = sendingApplication.split(componentSeparator)[0] ?? '';
    const fac = sendingFacility.split(componentSeparator)[0] ?? '';
    return this.partners.find((p) => p.hl7v2.senders.some((s) => (s.application === undefined || s.application === app) && (s.facility === undefined || s.facility === fac)));
  }

  /** The payer whose 2100A payer id this is (how a 270 posted to `/x12` is routed). */
  byPayerId(payerId: string): Partner | undefined {
    return this.partners.find((p) => p.x12?.payerId === payerId);
  }

  /** The payer partner behind an Organization: its own, or one carrying the partner's payer id. */
  payerFor(org: { reference?: string; identifier?: { system?: string; value?: string }[] }): Partner | undefined {
    return (
      this.partners.find((p) => p.x12 && p.reference && p.reference === org.reference) ??
      this.partners.find(
        (p) => p.x12 && org.identifier?.some((i) => i.system === SYSTEMS.payerId && i.value === p.x12?.payerId)
      )
    );
  }

  /** The partner whose declared destination this Endpoint is. */
  byEndpoint(reference: string): Partner | undefined {
    return this.partners.find((p) => p.endpoint === reference);
  }

  /** The partner an OAuth client speaks for, if a partner lists it. */
  byClient(clientId: string): Partner | undefined {
    return this.partners.find((p) => p.clients.includes(clientId));
  }

  /** The partner a verified client certificate belongs to: by SHA-256 fingerprint, else by subject CN. */
  byCertificate(cert: { fingerprint256?: string; subject?: Record<string, unknown> } | undefined): Partner | undefined {
    if (!cert?.fingerprint256) return undefined;
    const fingerprint = normalizeFingerprint(cert.fingerprint256);
    const cn = cert.subject?.CN;
    const names = Array.isArray(cn) ? cn.map(String) : cn !== undefined ? [String(cn)] : [];
    return (
      this.partners.find((p) => p.tls.fingerprint256?.includes(fingerprint)) ??
      this.partners.find((p) => p.tls.subject?.some((s) => names.includes(s.replace(/^CN=/i, ''))))
    );
  }

  settingsFor(sendingApplication: string, sendingFacility: string, componentSeparator = '^'): PartnerSettings {
    const p = this.bySender(sendingApplication, sendingFacility, componentSeparator);
    return p ? { timeZone: p.hl7v2.timeZone, charset: p.hl7v2.charset } : {};
  }

  /** Makes sure every partner has its Organization (found by identifier, else created) and keeps the reference. */
  async ensureOrganizations(repo: Repository): Promise<void> {
    for (const p of this.partners) {
      const identifier = [p.organization.identifier];
      const own = p.organization.identifier;
      if (p.x12 && (own.system !== SYSTEMS.payerId || own.value !== p.x12.payerId)) {
        identifier.push({ system: SYSTEMS.payerId, value: p.x12.payerId });
      }
      const org: Organization = { resourceType: 'Organization', active: true, name: p.organization.name, identifier };
      const query = `identifier=${encodeURIComponent(p.organization.identifier.system)}|${encodeURIComponent(p.organization.identifier.value)}`;
      const { resource } = await repo.create(org, query);
      p.reference = `Organization/${resource.id}`;
      if (p.hl7v2.destination) p.endpoint = await ensureEndpoint(repo, p.id, p.reference, p.hl7v2.destination);
    }
  }
}

/** `ab:cd:…` or `ABCD…` → `ABCD…` (what X509Certificate.fingerprint256 prints, without colons). */
export function normalizeFingerprint(f: string): string {
  return f.replace(/[:\s]/g, '').toUpperCase();
}

/** SHA-256 fingerprint of a PEM or DER certificate, as a partners file takes it. */
export function fingerprintOf(cert: string | Buffer): string {
  return normalizeFingerprint(new X509Certificate(cert).fingerprint256);
}
