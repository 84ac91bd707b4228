/**
 * @module translate/hl7v2/out-segments — the segments every message the gateway sends shares: MSH (its envelope)
 * and PID (mappings/hl7v2/patient.json read backwards, identifiers as CX).
 */
import type { Patient } from '@medplum/fhirtypes';
import { cx, dtm } from './datatypes-out.ts';
import type { Field, OutSegment, Repetition } from './encode.ts';
import { fieldMap } from './fieldmap.ts';
import { fieldsFromMap } from './fieldmap-out.ts';

/** Who sends, to whom, when, under which control id (MSH-3..7, 10, 11). */
export type Envelope = {
  sender: { application: string; facility?: string };
  receiver: { application?: string; facility?: string };
  controlId: string;
  /** FHIR instant of the message (MSH-7). */
  at: string;
  /** MSH-11: P production, T training, D debugging. */
  processingId?: string;
};

/** Identifier systems never sent to a partner office: the social security number is not needed to refer. */
const WITHHELD = new Set(['http://hl7.org/fhir/sid/us-ssn']);

/** A segment from its fields by number (1-based). */
export function segmentOf(name: string, fields: Map<number, Field>): OutSegment {
  const max = Math.max(0, ...fields.keys());
  return { name, fields: Array.from({ length: max }, (_, i) => fields.get(i + 1)) };
}

/** MSH, version 2.5.1, UTF-8 (MSH-18 `UNICODE UTF-8`). `type` is MSH-9: code, trigger, structure. */
export function mshSegment(env: Envelope, type: [string, string, string]): OutSegment {
  const f = new Map<number, Field>([
    [3, [[env.sender.application]]],
    // To the second: some receivers refuse a fraction in MSH-7.
    [7, [[dtm(env.at.replace(/\.\d+/, ''))]]],
    [9, [type]],
    [10, [[env.controlId]]],
    [11, [[env.processingId ?? 'P']]],
    [12, [['2.5.1']]],
    [18, [['UNICODE UTF-8']]],
  ]);
  if (env.sender.facility) f.set(4, [[env.sender.facility]]);
  if (env.receiver.application) f.set(5, [[env.receiver.application]]);
  if (env.receiver.facility) f.set(6, [[env.receiver.facility]]);
  // MSH's own numbering starts at MSH-3 (MSH-1 and MSH-2 are the delimiters).
  const shifted = new Map([...f].map(([n, v]) => [n - 2, v] as const));
  return segmentOf('MSH', shifted);
}

/** PID: 1 set id, 3 the patient's identifiers (CX, the social security number withheld), the rest from patient.json. */
export function pidSegment(p: Patient): OutSegment {
  const fields = fieldsFromMap(fieldMap('patient'), 'PID', p);
  fields.set(1, [['1']]);
  const ids = (p.identifier ?? []).filter((i) => !WITHHELD.has(i.system ?? '')).map(cx);
  const listed = ids.filter((r): r is Repetition => r !== undefined);
  if (listed.length) fields.set(3, listed);
  return segmentOf('PID', fields);
}
