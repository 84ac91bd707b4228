/**
 * @module translate/hl7v2/translate — which translation each supported HL7 v2 message type gets.
 *
 * One table for the gateway (which types it accepts: anything else is answered AR), the `translate` CLI and the
 * README. Translations are pure: text in, plan out (./plan.ts).
 */
import { mergePlan, registrationPlan, type TranslateOptions } from './adt.ts';
import { contentError } from './datatypes.ts';
import { Hl7v2Message } from './parse.ts';
import { referralPlan, referralResponsePlan } from './ref.ts';
import { schedulingPlan } from './siu.ts';
import type { Plan } from './plan.ts';

export type { TranslateOptions } from './adt.ts';

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
  const msg = new Hl7v2Message(text);
  const msh = msg.first('MSH');
  const type = `${msh?.text(9, 1) ?? ''}^${msh?.text(9, 2) ?? ''}`;
  const translator = TRANSLATORS.get(type);
  if (!translator) throw contentError(`Message type ${type} is not supported by this gateway`, 'MSH-9', '200');
  return translator(msg, opts);
}
