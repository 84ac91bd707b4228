/**
 * @module test/fuzz/targets-hl7v2 — the HL7 v2 code under fuzz, run in the sandbox worker: bytes to text
 * (charset.ts), the MSH (header.ts), the parser with its escape decoding (parse.ts), batches (batch.ts), and each
 * translator of translate.ts TRANSLATORS followed by what the CLI and the gateway do with its plan (validate each
 * entry, render the transaction Bundle).
 */
import { OperationOutcomeError } from '@medplum/core';
import { buildAck } from '../../src/translate/hl7v2/ack.ts';
import { splitBatch } from '../../src/translate/hl7v2/batch.ts';
import { toTransactionBundle } from '../../src/translate/hl7v2/bundle.ts';
import { decodeHl7 } from '../../src/translate/hl7v2/charset.ts';
import { readHeader } from '../../src/translate/hl7v2/header.ts';
import { Hl7v2Message } from '../../src/translate/hl7v2/parse.ts';
import { translate, translateWith, TRANSLATORS } from '../../src/translate/hl7v2/translate.ts';
import { validate } from '../../src/validate/validator.ts';
import { Violation } from './verdict.ts';

export type DecodeInput = { bytes: Uint8Array; charset?: string };
export type TranslateInput = {
  bytes: Uint8Array;
  type?: string;
  timeZone: string;
  charset?: string;
  answered?: string;
};

/**
 * Decoding is total (any bytes give text: UTF-8, else Latin-1), and the parser reads every value of every segment
 * of whatever has a readable MSH. Only a HeaderError may stop it.
 */
export function parseAll(input: DecodeInput): number {
  const decoded = decodeHl7(input.bytes, input.charset);
  if (typeof decoded.text !== 'string') throw new Violation('decodeHl7 gave no text');
  const batch = splitBatch(decoded.text);
  if (batch.messages.some((m) => !m.startsWith('MSH'))) throw new Violation('splitBatch gave a message that is no MSH');
  storable([batch.fhs, batch.bhs, batch.problems], 'the batch envelope and problems (its ACK)');
  const header = readHeader(decoded.text);
  const d = header.delimiters;
  if (new Set([d.field, d.component, d.repetition, d.escape, d.subcomponent]).size !== 5) {
    throw new Violation(`readHeader accepted delimiters that are not distinct: ${JSON.stringify(d)}`);
  }
  const error = { code: '102', text: 'x' };
  storable(buildAck(header, { code: 'AE', controlId: 'FUZZ', time: new Date(0), text: 'x', error }), 'the ACK');
  const msg = new Hl7v2Message(decoded.text, { charset: input.charset });
  let values = 0;
  for (const seg of msg.segments) {
    for (let n = 1; n < Math.min(seg.fields.length, 60); n++) {
      for (let r = 0; r < Math.min(seg.count(n), 8); r++) {
        for (let c = 1; c <= 6; c++) for (let s = 1; s <= 2; s++) if (seg.get(n, c, s, r) !== undefined) values++;
      }
    }
    seg.unread();
  }
  return values;
}

/**
 * What the gateway stores as text — the ACK (the message's response), an outcome's diagnostics — must hold no NUL:
 * PostgreSQL text and jsonb cannot, and a message whose outcome cannot be stored is not recorded at all.
 */
function storable(value: unknown, what: string): void {
  const strings = (v: unknown): string[] =>
    typeof v === 'string' ? [v] : v && typeof v === 'object' ? Object.values(v).flatMap(strings) : [];
  const bad = strings(value).find((s) => s.includes('\u0000'));
  if (bad !== undefined) {
    const shown = JSON.stringify(bad).slice(0, 300);
    throw new Violation(`${what} holds a NUL character, which PostgreSQL cannot store: ${shown}`);
  }
}

/**
 * One translator on one message — the one MSH-9 names (`translate`), or a given one whatever MSH-9 says, as the
 * gateway would run it for a sender whose MSH-9 is right and whose body is not. Then validation of each entry and
 * the transaction Bundle, as `frontdesk translate` does. Refusals must be OperationOutcomeErrors.
 */
export function translateOne(input: TranslateInput): string {
  try {
    return translateUnchecked(input);
  } catch (err) {
    if (err instanceof OperationOutcomeError) storable(err.outcome, 'the outcome of a refusal');
    throw err;
  }
}

function translateUnchecked(input: TranslateInput): string {
  const text = decodeHl7(input.bytes, input.charset).text;
  const opts = {
    timeZone: input.timeZone,
    ...(input.charset ? { charset: input.charset } : {}),
    ...(input.answered ? { answered: { system: 'urn:frontdesk:referral', value: input.answered } } : {}),
  };
  const translator = input.type ? TRANSLATORS.get(input.type) : undefined;
  if (input.type && !translator) throw new Violation(`no translator ${input.type}`);
  const plan = translator
    ? translateWith(translator, new Hl7v2Message(text, { charset: input.charset }), opts)
    : translate(text, opts);
  // What is stored or searched with before any validation: the unmapped list and the match queries.
  // Matches are URL-encoded (plan.ts tokenOf): a NUL reaches the search as %00.
  const matches = plan.entries.map((e) => e.match.replace(/%00/gi, '\u0000'));
  storable([plan.unmapped, matches], 'the plan (unmapped, matches)');
  const urls = new Set<string>();
  for (const e of plan.entries) {
    if (urls.has(e.fullUrl)) throw new Violation(`two plan entries share ${e.fullUrl}`);
    urls.add(e.fullUrl);
    if (!e.resource?.resourceType) throw new Violation(`plan entry ${e.key} has no resourceType`);
  }
  for (const e of plan.entries) {
    if (e.mode !== 'update-existing') validate({ ...e.defaults, ...e.resource }, { profiles: e.profiles });
  }
  const bundle = JSON.stringify(toTransactionBundle(plan));
  if (!bundle.startsWith('{"resourceType":"Bundle"')) throw new Violation('the Bundle is not one');
  return `${plan.event} ${plan.entries.length}`;
}
