/**
 * @module translate/hl7v2/ref-documents — the documents a REF carries (OBX of value type ED or RP in its OBR group,
 * the referral letter, a summary PDF) as DocumentReferences of the referral's `supportingInfo`: the inverse of the
 * OBX that ./ref-out.ts writes, so a referral read back keeps its attachments.
 *
 * OBX-3 → `type` when coded, else the attachment's `title`; ED-2/ED-3 (tables 0191 and 0291) → `contentType`
 * (`AP^PDF` application/pdf, `IM^JPEG` image/jpeg, `TX` text/plain); ED-5 (Base64) → `data`; RP-1 → `url`;
 * OBX-11 (table 0085) → `docStatus`; OBX-14 → `date`. A document is known by the referral's identifier and its
 * OBX-1 (`urn:frontdesk:referral-document:<RF1-6 system>`), so the same REF sent again updates it. An OBX of any
 * other value type (a result, a number) is not a document: reported unmapped, with the OBR it belongs to.
 */
import type { DocumentReference, Identifier } from '@medplum/fhirtypes';
import { codeableConcept, contentError, dateTime } from './datatypes.ts';
import { lookup } from './mappings.ts';
import type { Hl7v2Message, Segment } from './parse.ts';
import { byIdentifier, type PlanBuilder, type Ref } from './plan.ts';

const INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
const MEDIA: Record<string, string> = { AP: 'application', IM: 'image', TX: 'text', AU: 'audio', VI: 'video' };

/** The identifier of the document an OBX of a referral carries. */
export function documentIdentifier(referral: Pick<Identifier, 'system' | 'value'>, setId: string): Identifier {
  return {
    system: `urn:frontdesk:referral-document:${encodeURIComponent(referral.system ?? '')}`,
    value: `${referral.value}#${setId}`,
  };
}

/** ED-2 type of data and ED-3 subtype → a MIME type: `AP^PDF` application/pdf; `TX` alone text/plain. */
export function mimeType(type: string | undefined, subtype: string | undefined): string | undefined {
  const major = MEDIA[type?.toUpperCase() ?? ''];
  if (!major) return undefined;
  if (!subtype) return major === 'text' ? 'text/plain' : undefined;
  return `${major}/${subtype.toLowerCase()}`;
}

/** Every OBX of value type ED or RP → a DocumentReference entry about `patient`; their references. */
export function referralDocuments(
  b: PlanBuilder, msg: Hl7v2Message, referral: Pick<Identifier, 'system' | 'value'>, patient: Ref, timeZone: string
): Ref[] {
  const refs: Ref[] = [];
  const isDocument = (obx: Segment) => ['ED', 'RP'].includes(obx.text(2)?.toUpperCase() ?? '');
  // An OBR heading results rather than documents is an order of its own, which is not read.
  if (!msg.all('OBX').every(isDocument)) b.unmapped.push('OBR');
  msg.all('OBX').forEach((obx, i) => {
    const kind = obx.text(2)?.toUpperCase();
    if (kind !== 'ED' && kind !== 'RP') {
      b.unmapped.push(`OBX[${i + 1}] (value type ${kind || 'none'}: not a document)`);
      return;
    }
    const setId = obx.text(1) || String(i + 1);
    const doc = document(obx, kind, patient, `OBX[${i + 1}]`, timeZone);
    const id = documentIdentifier(referral, setId);
    doc.identifier = [id];
    refs.push(b.add(`document-${i}`, doc, { match: byIdentifier(id), source: `OBX[${i + 1}]` }));
  });
  return refs;
}

function document(obx: Segment, kind: 'ED' | 'RP', patient: Ref, where: string, timeZone: string): DocumentReference {
  const code = codeableConcept(obx.rep(3, 0));
  const coded = code?.coding?.some((c) => c.code);
  const attachment: NonNullable<DocumentReference['content']>[number]['attachment'] = {};
  if (kind === 'ED') {
    const data = obx.text(5, 5);
    if (!data) throw contentError(`${where}-5 is an ED without data (ED-5)`, `${where}-5`, '101');
    if ((obx.text(5, 4) ?? 'Base64').toUpperCase() !== 'BASE64') {
      throw contentError(`${where}-5 ED-4 encoding "${obx.text(5, 4)}" is not Base64`, `${where}-5`, '103');
    }
    const type = mimeType(obx.text(5, 2), obx.text(5, 3));
    Object.assign(attachment, type ? { contentType: type } : {}, { data });
  } else {
    const url = obx.text(5, 1);
    if (!url) throw contentError(`${where}-5 is an RP without a pointer (RP-1)`, `${where}-5`, '101');
    const type = mimeType(obx.text(5, 3), obx.text(5, 4));
    Object.assign(attachment, type ? { contentType: type } : {}, { url });
  }
  const title = coded ? undefined : (code?.text ?? obx.text(3, 2));
  if (title) attachment.title = title;
  const docStatus = lookup('0085', obx.text(11)) as DocumentReference['docStatus'] | undefined;
  const at = dateTime(obx.text(14), `${where}-14`, timeZone);
  return {
    resourceType: 'DocumentReference',
    status: 'current',
    ...(docStatus ? { docStatus } : {}),
    ...(coded ? { type: code } : {}),
    subject: patient,
    ...(at && INSTANT.test(at) ? { date: at } : {}),
    content: [{ attachment }],
  };
}
