/**
 * @module translate/hl7v2/translate — which translation each supported HL7 v2 message type gets.
 *
 * One table for the gateway (which types it accepts: anything else is answered AR), the `translate` CLI and the
 * README. Translations are pure: text in, plan out (./plan.ts).
 */
import { mergePlan, registrationPlan } from './adt.ts';
import type { TranslateOptions as PlanOptions } from './entries.ts';
import { contentError } from './datatypes.ts';
import { Hl7v2Message, type MessageOptions } from './parse.ts';
import { referralPlan, referralResponsePlan } from './ref.ts';
import { schedulingPlan } from './siu.ts';
import type { Plan } from './plan.ts';

/** What a translation knows of the sender: its time zone (./entries.ts) and, where configured, its character set. */
export type TranslateOptions = PlanOptions & MessageOptions;

export type Translator = (msg: Hl7v2Message, opts: TranslateOptions) => Plan;

export const TRANSLATORS: ReadonlyMap<string, Translator> = new Map<string, Translator>([
  ['ADT^A01', registrationPlan],
  ['ADT^A04', registrationPlan],
  ['ADT^A08', registrationPlan],
  ['ADT^A28', registrationPlan],
  ['ADT^A31', registrationPlan],
  ['ADT^A40', mergePlan],
  ...['S12', 'S13', 'S14', 'S15', 'S17', 'S26'].map((t): [string, Translator] => [`SIU^${t}`, schedulingPlan]),
  ['REF^I12', referralPlan],
  ['REF^I13', referralPlan],
  ['REF^I14', referralPlan],
  ['RRI^I12', referralResponsePlan],
]);

/** Translates one message; a type without a translation is a content error with HL7 table 0357 code 200. */
export function translate(text: string, opts: TranslateOptions): Plan {
  const msg = new Hl7v2Message(text, { charset: opts.charset });
  const msh = msg.first('MSH');
  const type = `${msh?.text(9, 1) ?? ''}^${msh?.text(9, 2) ?? ''}`;
  const translator = TRANSLATORS.get(type);
  if (!translator) throw contentError(`Message type ${type} is not supported by this gateway`, 'MSH-9', '200');
  return translateWith(translator, msg, opts);
}

/**
 * Runs a translator and adds to what it reports unmapped the fields of its mapped segments that it did not read.
 * MSH is the transport's (read when the message is stored and acknowledged), and segments reported whole are
 * not repeated field by field.
 */
export function translateWith(translator: Translator, msg: Hl7v2Message, opts: TranslateOptions): Plan {
  refuseNul(msg);
  const plan = translator(msg, opts);
  const whole = new Set(plan.unmapped.map((u) => u.slice(0, 3)));
  const fields = new Set<string>();
  msg.segments.forEach((seg) => {
    if (seg.name === 'MSH' || whole.has(seg.name)) return;
    for (const f of seg.unread()) fields.add(f);
  });
  return { ...plan, unmapped: [...plan.unmapped, ...fields] };
}

/**
 * NUL is no character of any HL7 character set (an empty value is written `""`), and PostgreSQL text cannot hold
 * it: a NUL that reached a match query, the unmapped list or an error text left the message unrecorded (AE 207).
 * Refused up front, with the field that holds it.
 */
function refuseNul(msg: Hl7v2Message): void {
  msg.segments.forEach((seg, i) => {
    if (seg.name.includes('\u0000')) {
      throw contentError(`Segment ${i + 1} has a NUL character in its name`, `segment ${i + 1}`);
    }
    const n = seg.fields.findIndex((f) => f.includes('\u0000'));
    if (n > 0) {
      throw contentError(`${seg.name}-${n} holds a NUL character, which no HL7 character set has`, `${seg.name}-${n}`);
    }
  });
}
