/**
 * @module translate/x12/eligibility-corrections — what a 271 says differently about the person than the 270 did,
 * reported for the front desk to check, never applied (a payer's typo must not overwrite a registration).
 *
 * Sources: `INS*Y*18*001*25` in 2100C and `INS*N*{relationship}*001*25` in 2100D (the TR3's "change in identifying
 * data elements": the payer matched the person but holds other data, which it sends in NM1/N3/N4/DMG — so the
 * address it sends is reported then too); the member id (2100C NM109) against the one sent; the name (NM103/NM104,
 * compared as CAQH CORE 258 normalizes names, so case, accents and punctuation are no difference), birth date and
 * gender (DMG) against what the 270's 2100C said. A plain `INS*N*19` is the dependent's relationship, not a change.
 */
import type { Address, Member } from './eligibility-271-model.ts';
import { cleanName } from './eligibility-270.ts';
import type { MapContext } from './eligibility-response.ts';

export type Correction = {
  who: 'subscriber' | 'dependent';
  field: 'memberId' | 'name' | 'birthDate' | 'gender' | 'address' | 'ins';
  sent?: string;
  received: string;
};

/** DMG03 → Patient.gender. */
const GENDER: Readonly<Record<string, string>> = { M: 'male', F: 'female', U: 'unknown' };

export function corrections(sub: Member, dep: Member | undefined, sent: MapContext['sent']): Correction[] {
  const out: Correction[] = [...changed(sub, 'subscriber')];
  const n = sub.name;
  if (sent?.memberId && n?.id && n.id.trim() !== sent.memberId.trim()) {
    out.push({ who: 'subscriber', field: 'memberId', sent: sent.memberId, received: n.id });
  }
  const differs = (a: string | undefined, b: string | undefined, max: number) =>
    !!a && !!b && cleanName(a, max) !== cleanName(b, max);
  if (n && (differs(sent?.lastName, n.last, 60) || differs(sent?.firstName, n.first, 35))) {
    out.push({
      who: 'subscriber',
      field: 'name',
      sent: [sent?.lastName, sent?.firstName].filter(Boolean).join(', '),
      received: [n.last, n.first].filter(Boolean).join(', '),
    });
  }
  const dmg = sub.demographics;
  if (sent?.birthDate && dmg?.birthDate && sent.birthDate.slice(0, 10) !== dmg.birthDate) {
    out.push({ who: 'subscriber', field: 'birthDate', sent: sent.birthDate, received: dmg.birthDate });
  }
  const received = dmg?.gender ? GENDER[dmg.gender] : undefined;
  // FHIR `other` has no X12 code: the 270 sent U for it, so U back is no difference.
  const asSent = sent?.gender === 'other' ? 'unknown' : sent?.gender;
  if (asSent && received && asSent !== received) {
    out.push({ who: 'subscriber', field: 'gender', sent: sent?.gender, received });
  }
  if (dep) out.push(...changed(dep, 'dependent'));
  return out;
}

/** INS03 001 + INS04 25: the payer changed identifying data; its address is reported with it. */
function changed(m: Member, who: Correction['who']): Correction[] {
  const ins = m.ins;
  if (ins?.maintenanceType !== '001' || ins.maintenanceReason !== '25') return [];
  const received = 'change in identifying data elements (INS03 001, INS04 25)';
  const out: Correction[] = [{ who, field: 'ins', received }];
  if (m.address) out.push({ who, field: 'address', received: addressText(m.address) });
  return out;
}

function addressText(a: Address): string {
  const cityLine = [a.city, [a.state, a.postalCode].filter(Boolean).join(' ')].filter(Boolean).join(', ');
  return [...a.lines, cityLine, a.country].filter(Boolean).join(', ');
}
