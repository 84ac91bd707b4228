/**
 * @module translate/hl7v2/ref — referrals REF^I12/I13/I14 (structure REF_I12) and the specialist's answer RRI^I12
 * (structure RRI_I12) to a plan, pure.
 *
 * The HL7 v2-to-FHIR IG has no RF1/PRD map; this follows Microsoft FHIR-Converter's REF_I12 templates. RF1 →
 * a ServiceRequest (category SNOMED 3457005 "Patient referral", what the front office searches on) known by the
 * originating referral id RF1-6, and a Task that tracks its fulfilment (`code` fulfill, `focus` and `basedOn`
 * the ServiceRequest), known by the same id in `urn:frontdesk:referral-task:<RF1-6 system, URI-encoded>`.
 * The request is the referrer's: RF1-1 (table 0283) and the event set its status. The Task is the specialist's:
 * a REF creates it `requested` (and cancels it on I14), and only an RRI^I12 moves it on. The status tables are
 * data (mappings/hl7v2/tables.json: `0283-ServiceRequest`, `REF-event-*`, `0206`, `0283`, `0283-RRI`). PRD-1
 * (table 0286) RP → requester, RT/IR → performer and Task owner, each a Practitioner known by PRD-7 (else by name
 * only) and the Organization of PRD-10; the requester, a single reference, names both through a PractitionerRole.
 * DG1 → Condition (reasonReference), IN1 → Coverage (insurance), OBX documents → DocumentReference (supportingInfo,
 * ./ref-documents.ts).
 * Ids without an authority belong to who assigned them: RF1-6 to the referrer (MSH-4 of a REF, MSH-6 of an RRI),
 * RF1-11 to the referred-to (MSH-6 of a REF, MSH-4 of an RRI).
 */
import type { Address, ContactPoint, Identifier, Organization, Practitioner, PractitionerRole, ServiceRequest, Task } from '@medplum/fhirtypes';
import { builderOf, condition, coverages, facilityOf, patientEntry, practitioner, unmappedSegments, V2_0203, type TranslateOptions } from './entries.ts';
import { address, codeableConcept, contactPoint, contentError, date, dateTime, each, humanName, type Comp } from './datatypes.ts';
import { entityId as readEntityId } from './entity-id.ts';
import { identifierSystem, lookup } from './mappings.ts';
import { DELETE, type Hl7v2Message, type Segment } from './parse.ts';
import { byIdentifier, type Plan, type PlanBuilder, type Ref } from './plan.ts';
import { referralDocuments } from './ref-documents.ts';
import { referralMatch, taskIdentifier } from './referral-id.ts';

const REFERRAL = { system: 'http://snomed.info/sct', code: '3457005', display: 'Patient referral' };
const FULFILL = { coding: [{ system: 'http://hl7.org/fhir/CodeSystem/task-code', code: 'fulfill', display: 'Fulfill the focal request' }] };
const PLACER = { coding: [{ system: V2_0203, code: 'PLAC' }] };
const PROVIDER = { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/organization-type', code: 'prov', display: 'Healthcare Provider' }] };
const V2 = (table: string) => `http://terminology.hl7.org/CodeSystem/v2-${table}`;
const REF_SEGMENTS = new Set(['MSH', 'RF1', 'PRD', 'PID', 'DG1', 'IN1', 'IN2', 'NTE', 'OBR', 'OBX']);
const RRI_SEGMENTS = new Set(['MSH', 'RF1', 'PRD', 'NTE']);

/**
 * REF^I12 (new), I13 (modify), I14 (cancel) → Patient, Practitioners, Organizations, Conditions, Coverages, then
 * the ServiceRequest (upsert by RF1-6) and its Task (upsert, `requested` only when created).
 * @example referralPlan(new Hl7v2Message(text), { timeZone: 'America/Chicago' })
 */
export function referralPlan(msg: Hl7v2Message, opts: TranslateOptions): Plan {
  const b = builderOf(msg);
  const rf1 = msg.first('RF1');
  if (!rf1) throw contentError('The message has no RF1 segment', 'RF1', '100');
  const referrer = facilityOf(msg);
  const referralId = entityId(rf1.rep(6, 0), referrer, 'RF1-6');
  if (!referralId) throw contentError('RF1-6 (originating referral identifier) is empty', 'RF1-6', '101');
  const pid = msg.first('PID');
  if (!pid) throw contentError('The message has no PID segment', 'PID', '100');
  const trigger = b.event.split('^')[1];
  const patient = patientEntry(b, 'patient', pid, undefined, referrer, opts);
  const { requester, performers } = providers(b, msg, referrer, true);
  if (!performers.length) {
    // No referred-to PRD: the authorized health professional and provider of RF1-20/19, as FHIR-Converter does.
    const who = practitioner(b, rf1.rep(20, 0), 'RF1-20', referrer);
    if (who) performers.push(who);
    const org = organization(b, rf1.rep(19, 0), 'RF1-19', referrer, [], []);
    if (org) performers.push(org);
  }
  const reasons = added(b, () => msg.all('DG1').forEach((dg1, i) => condition(b, dg1, i, patient, undefined, opts)), 'Condition');
  const insurance = added(b, () => coverages(b, msg, patient, opts), 'Coverage');

  const deleted = lookup('0206', rf1.text(25)); // RF1-25 action code D: sent in error
  const status = (deleted ?? lookup('REF-event-ServiceRequest', trigger) ?? lookup('0283-ServiceRequest', rf1.text(1, 1))) as ServiceRequest['status'] | undefined;
  const msh = msg.first('MSH');
  const receiver = msh?.text(6) ?? msh?.text(5);
  const external = each(rf1, 11, (c) => entityId(c, receiver, 'RF1-11'));
  const type = codeableConcept(rf1.rep(3, 0), V2('0281'));
  const sr = {
    resourceType: 'ServiceRequest',
    identifier: [{ ...referralId, type: PLACER }, ...external],
    ...(status ? { status } : {}),
    intent: 'order',
    category: [{ coding: [REFERRAL] }, ...(type ? [type] : [])],
    subject: patient,
  } as ServiceRequest;
  const remove: string[] = [];
  const field = (n: number, element: keyof ServiceRequest, value: unknown) => {
    if (rf1.get(n) === DELETE) remove.push(element);
    else if (value !== undefined && !(Array.isArray(value) && !value.length)) (sr as unknown as Record<string, unknown>)[element] = value;
  };
  field(2, 'priority', lookup('0280', rf1.text(2, 1)));
  field(5, 'locationCode', each(rf1, 5, (c) => codeableConcept(c, V2('0284'))));
  const start = dateTime(rf1.text(7), 'RF1-7', opts.timeZone);
  const end = dateTime(rf1.text(8), 'RF1-8', opts.timeZone);
  if (start || end) sr.occurrencePeriod = { ...(start ? { start } : {}), ...(end ? { end } : {}) };
  field(9, 'authoredOn', dateTime(rf1.text(9), 'RF1-9', opts.timeZone));
  const why = rf1.text(14);
  field(10, 'reasonCode', [...each(rf1, 10, (c) => codeableConcept(c, V2('0336'))), ...(why ? [{ text: why }] : [])]);
  if (requester) sr.requester = requester;
  if (performers.length) sr.performer = performers;
  if (reasons.length) sr.reasonReference = reasons;
  if (insurance.length) sr.insurance = insurance;
  const documents = referralDocuments(b, msg, referralId, patient, opts.timeZone);
  if (documents.length) sr.supportingInfo = documents;
  const notes = [rf1.text(24), ...messageNotes(b, msg)].filter((t): t is string => !!t);
  if (notes.length) sr.note = notes.map((text) => ({ text }));
  const referral = b.add('referral', sr, { match: byIdentifier(referralId), remove, source: 'RF1-6', defaults: { status: 'active' } });

  const taskId = taskIdentifier(referralId);
  const taskStatus = (deleted ?? lookup('REF-event-Task', trigger)) as Task['status'] | undefined;
  const task = {
    resourceType: 'Task',
    identifier: [taskId],
    ...(taskStatus ? { status: taskStatus } : {}),
    intent: 'order',
    code: FULFILL,
    focus: referral,
    basedOn: [referral],
    for: patient,
  } as Task;
  if (sr.priority) task.priority = sr.priority;
  if (requester) task.requester = requester;
  if (performers[0]) task.owner = performers[0];
  const at = dateTime(msh?.text(7), 'MSH-7', opts.timeZone);
  if (at) task.lastModified = at;
  const taskRemove = remove.includes('priority') ? ['priority'] : [];
  b.add('task', task, { match: byIdentifier(taskId), remove: taskRemove, source: 'RF1-6', defaults: { status: 'requested' } });
  b.unmapped.unshift(...unmappedSegments(msg, REF_SEGMENTS));
  return b.build();
}

/**
 * RRI^I12, the referred-to provider's answer → the referral (RF1-6, else the one MSA-2 answers) and its Task, which must exist (AE 204
 * otherwise): Task status and businessStatus from RF1-1, owner from the RT/IR PRD, note from the message NTEs,
 * lastModified MSH-7. PID and the clinical segments are reported as unmapped.
 * @example referralResponsePlan(new Hl7v2Message(text), { timeZone: 'America/Chicago' })
 */
export function referralResponsePlan(msg: Hl7v2Message, opts: TranslateOptions): Plan {
  const b = builderOf(msg);
  const rf1 = msg.first('RF1');
  if (!rf1) throw contentError('The message has no RF1 segment naming the referral answered', 'RF1', '100');
  const msh = msg.first('MSH');
  // The answer goes back to the referrer, whose id RF1-6 is: unscoped, it belongs to the receiving facility.
  const referralId = entityId(rf1.rep(6, 0), msh?.text(6) ?? msh?.text(5), 'RF1-6') ?? opts.answered;
  if (!referralId) throw contentError('RF1-6 (originating referral identifier) is empty and MSA-2 names no referral sent', 'RF1-6', '101');
  const sender = facilityOf(msg);
  const external = each(rf1, 11, (c) => entityId(c, sender, 'RF1-11'));
  b.add('referral', { resourceType: 'ServiceRequest', ...(external.length ? { identifier: external } : {}) } as ServiceRequest, {
    match: referralMatch(referralId),
    mode: 'update-existing',
    source: 'RF1-6',
  });
  const owner = providers(b, msg, sender, false).performers[0];
  const code = rf1.text(1, 1);
  const status = (lookup('0283-RRI', code) ?? lookup('0283', code)) as Task['status'] | undefined;
  const task = { resourceType: 'Task', ...(status ? { status } : {}) } as Task;
  const business = codeableConcept(rf1.rep(1, 0), V2('0283'));
  if (business) task.businessStatus = business;
  const at = dateTime(msh?.text(7), 'MSH-7', opts.timeZone);
  if (at) task.lastModified = at;
  if (owner) task.owner = owner;
  const notes = messageNotes(b, msg);
  if (notes.length) task.note = notes.map((text) => ({ text, ...(at ? { time: at } : {}), ...(owner ? { authorReference: owner } : {}) }));
  b.add('task', task, { match: byIdentifier(taskIdentifier(referralId)), mode: 'update-existing', source: 'RF1-6' });
  b.unmapped.unshift(...unmappedSegments(msg, RRI_SEGMENTS));
  return b.build();
}

/**
 * EI → Identifier (./entity-id.ts), scoped to `owner` without an authority. No system at all is an error: a bare
 * value could name anyone's referral.
 */
function entityId(c: Comp, owner: string | undefined, where: string): Identifier | undefined {
  const id = readEntityId(c, owner);
  if (id && !id.system) throw contentError(`${where} has no assigning authority and MSH names no facility`, where, '101');
  return id;
}

/** PRD-1 roles (table 0286): the referrer (`requester`, REF only) and the referred-to (`performer`s). */
function providers(b: PlanBuilder, msg: Hl7v2Message, facility: string | undefined, withRequester: boolean): { requester?: Ref; performers: Ref[] } {
  const out: { requester?: Ref; performers: Ref[] } = { performers: [] };
  msg.all('PRD').forEach((prd, i) => {
    const where = `PRD[${i + 1}]`;
    const code = prd.text(1, 1);
    const role = lookup('0286', code);
    const mapped = role === 'performer' || (role === 'requester' && withRequester && !out.requester);
    if (!mapped) {
      b.unmapped.push(`${where} (role ${code ?? 'missing'}${role === 'requester' ? ', not used' : ''})`);
      return;
    }
    const who = prdPractitioner(b, prd, where, facility);
    const org = organization(b, prd.rep(10, 0), `${where}-10`, facility, each(prd, 11, address), each(prd, 13, xtn));
    if (role === 'requester') {
      const requester = requesterOf(b, prd, where, who, org);
      if (requester) out.requester = requester;
      return;
    }
    if (who) out.performers.push(who);
    if (org) out.performers.push(org);
  });
  return out;
}

/**
 * The referrer as the one `requester` a ServiceRequest and a Task have: a practitioner known by PRD-7 and the
 * Organization of PRD-10 as a PractitionerRole (the FHIR element that names both, as FHIR-Converter's REF_I12
 * does), known by the pair; else whichever of the two is known. A practitioner known by name only cannot be found
 * again, so with an organization the organization is the requester.
 */
function requesterOf(b: PlanBuilder, prd: Segment, where: string, who: Ref | undefined, org: Ref | undefined): Ref | undefined {
  if (!org) return who;
  if (!who?.reference) return org;
  const code = codeableConcept(prd.rep(1, 0), V2('0286'));
  const role: PractitionerRole = { resourceType: 'PractitionerRole', active: true, practitioner: who, organization: org, ...(code ? { code: [code] } : {}) };
  const match = `practitioner=${who.reference}&organization=${org.reference}`;
  const ref = b.add(`practitioner-role|${match}`, role, { match, mode: 'ensure', source: where });
  return who.display ? { ...ref, display: who.display } : ref;
}

/** A Practitioner (kept as stored if known) from PRD-7 ids, PRD-2 name, PRD-5 telecom, PRD-3 address; by display without id. */
function prdPractitioner(b: PlanBuilder, prd: Segment, where: string, facility: string | undefined): Ref | undefined {
  const ids = each(prd, 7, (c) => providerId(c, facility, `${where}-7`));
  const names = each(prd, 2, humanName);
  const n = names[0];
  const display = n ? [n.prefix?.join(' '), n.given?.join(' '), n.family].filter(Boolean).join(' ') : undefined;
  const first = ids[0];
  if (!first) return display ? { display } : undefined;
  const p: Practitioner = { resourceType: 'Practitioner', identifier: ids };
  if (names.length) p.name = names;
  const telecom = each(prd, 5, xtn);
  if (telecom.length) p.telecom = telecom;
  const addresses = each(prd, 3, address);
  if (addresses.length) p.address = addresses;
  const ref = b.add(`practitioner|${first.system}|${first.value}`, p, { match: byIdentifier(first), mode: 'ensure', source: `${where}-7` });
  return display ? { ...ref, display } : ref;
}

/**
 * PLN → Identifier: PLN-1 id; PLN-2 id type (table 0338) is the authority (NPI → us-npi, SL → urn:frontdesk:id:SL),
 * so the referrer and the specialist name the same practitioner alike; without a type, the sending facility's.
 */
function providerId(c: Comp, facility: string | undefined, where: string): Identifier | undefined {
  const value = c(1);
  const type = c(2);
  const system = identifierSystem(type ?? facility);
  if (!value || !system) return undefined;
  const id: Identifier = { system, value };
  if (type) id.type = { coding: [{ system: V2('0338'), code: type }] };
  const end = date(c(4), `${where}.4`);
  if (end) id.period = { end };
  return id;
}

/** XON (PRD-10, RF1-19) → a provider Organization (kept as stored if known) by its id (XON-10, else XON-3) or name. */
function organization(b: PlanBuilder, c: Comp, where: string, facility: string | undefined, addresses: Address[], telecom: ContactPoint[]): Ref | undefined {
  const name = c(1);
  const value = c(10) ?? c(3);
  const system = value ? (identifierSystem(c(6, 1), c(6, 2), c(6, 3)) ?? identifierSystem(facility)) : undefined;
  if (!name && !system) return undefined;
  const o: Organization = { resourceType: 'Organization', active: true, type: [PROVIDER] };
  if (system) o.identifier = [{ system, value }];
  if (name) o.name = name;
  if (addresses.length) o.address = addresses;
  if (telecom.length) o.telecom = telecom;
  const match = system ? byIdentifier({ system, value }) : `name:exact=${encodeURIComponent(name ?? '')}&type=prov`;
  const ref = b.add(`organization|${match}`, o, { match, mode: 'ensure', source: where });
  return name ? { ...ref, display: name } : ref;
}

/** A provider's XTN: work unless it says otherwise. */
function xtn(c: Comp): ContactPoint | undefined {
  return contactPoint(c, 'work');
}

/** References to the entries of `type` that `run` adds. */
function added(b: PlanBuilder, run: () => void, type: string): Ref[] {
  const before = b.entries.length;
  run();
  return b.entries.slice(before).filter((e) => e.resource.resourceType === type).map((e) => b.ref(e.key));
}

/**
 * The message-level NTEs: the run that ends the message, unless it follows OBR/OBX (then it notes a result).
 * Any other NTE (of an OBR/OBX group) is reported as unmapped.
 */
function messageNotes(b: PlanBuilder, msg: Hl7v2Message): string[] {
  const segs = msg.segments;
  let i = segs.length;
  while (i > 0 && segs[i - 1]?.name === 'NTE') i--;
  const own = ['OBR', 'OBX'].includes(segs[i - 1]?.name ?? '') ? [] : segs.slice(i);
  if (msg.all('NTE').length > own.length) b.unmapped.push('NTE (notes of OBR/OBX)');
  return own.map((s) => s.text(3)).filter((t): t is string => !!t);
}
