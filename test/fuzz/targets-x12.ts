/**
 * @module test/fuzz/targets-x12 — the X12 code under fuzz, run in the sandbox worker: the tokenizer (tokens.ts),
 * the envelope reader and the TA1/999 it answers with (envelope.ts), re-delimiting for a partner (serialize.ts
 * restructure), and the CLI's translation of 270, 271, 999 and TA1 to FHIR (cli.ts translateX12). The gateway reads
 * X12 bodies as Latin-1 (workflows/receive-x12.ts), and so do these targets.
 */
import { translateX12 } from '../../src/translate/x12/cli.ts';
import { acknowledge, readInterchange } from '../../src/translate/x12/envelope.ts';
import { DEFAULT_DELIMITERS, restructure, segmentText } from '../../src/translate/x12/serialize.ts';
import { tokenize, X12SyntaxError, type X12Delimiters } from '../../src/translate/x12/tokens.ts';
import { Violation } from './verdict.ts';

const text = (bytes: Uint8Array) => Buffer.from(bytes).toString('latin1');

/** Segments with an id each, delimiters distinct; every segment re-delimited keeps its data (or is refused). */
export function tokenizeAll(bytes: Uint8Array): number {
  const { delimiters: d, segments } = tokenize(text(bytes));
  if (segments[0]?.[0] !== 'ISA') throw new Violation('segment 0 is not the ISA');
  const used = [d.element, d.component, d.segment, ...(d.repetition ? [d.repetition] : [])];
  if (new Set(used).size !== used.length) throw new Violation(`delimiters not distinct: ${JSON.stringify(d)}`);
  for (const seg of segments.slice(1)) redelimited(seg, d);
  return segments.length;
}

/** A segment written with the default delimiters and read back: the same data, or an X12SerializeError. */
function redelimited(seg: string[], d: X12Delimiters): void {
  const D = DEFAULT_DELIMITERS;
  let out: string;
  try {
    out = segmentText(restructure(seg, d), D);
  } catch (err) {
    if (err instanceof X12SyntaxError) return;
    throw err;
  }
  const back = out.slice(0, -D.segment.length).split(D.element).map((e) => swap(e, D, d));
  const same = (list: string[]) => trimEnd(list.map((e) => normalize(e, d)));
  if (JSON.stringify(same(back)) !== JSON.stringify(same(seg))) {
    throw new Violation(`re-delimited ${JSON.stringify(seg)} reads back as ${JSON.stringify(back)}`);
  }
}

/** A value written with `from`'s component and repetition separators, in `to`'s. */
function swap(value: string, from: X12Delimiters, to: X12Delimiters): string {
  const one = (c: string) => (c === from.component ? to.component : c === from.repetition ? (to.repetition ?? c) : c);
  return [...value].map(one).join('');
}

/** Trailing empty components of each repetition carry nothing. */
function normalize(value: string, d: X12Delimiters): string {
  const reps = d.repetition ? value.split(d.repetition) : [value];
  return reps.map((r) => trimEnd(r.split(d.component)).join(d.component)).join(d.repetition ?? '');
}

function trimEnd(list: string[]): string[] {
  let n = list.length;
  while (n > 0 && list[n - 1] === '') n--;
  return list.slice(0, n);
}

/**
 * The envelope is read (problems reported, never guessed at), and the TA1/999 answer built for it must itself be an
 * interchange this gateway reads without a problem: a partner that cannot read our answer resends forever.
 */
export function envelopeAndAck(bytes: Uint8Array): string {
  const ix = readInterchange(text(bytes));
  // What the gateway stores as text before anything else (workflows/receive-x12.ts): PostgreSQL cannot hold a NUL.
  const types = ix.groups.flatMap((g) => g.transactions.map((t) => t.id));
  const stored = [ix.senderQualifier, ix.sender, ix.receiverQualifier, ix.receiver, ix.control, ...types];
  if (stored.some((v) => v.includes('\u0000'))) {
    throw new Violation(`the envelope stored as text holds a NUL: ${JSON.stringify(stored)}`);
  }
  const now = new Date('2026-01-05T12:00:00Z');
  const ack = acknowledge(ix, (tx) => (tx.id === '270' ? undefined : '1'), { interchange: '123', group: '45', now });
  let back;
  try {
    back = readInterchange(ack);
  } catch (err) {
    throw new Violation(`our acknowledgment is not an interchange: ${(err as Error).message}\n${ack}`);
  }
  const problems = [...back.problems.map((p) => p.text), ...back.groups.flatMap((g) => g.problems)];
  if (problems.length) throw new Violation(`our acknowledgment has problems: ${problems.join('; ')}\n${ack}`);
  if (back.groups.length !== ix.groups.length) {
    throw new Violation(`${ix.groups.length} groups answered by ${back.groups.length} 999s\n${ack}`);
  }
  return `${ix.groups.length} groups`;
}

/** `frontdesk translate FILE.edi`: FHIR for each set, or an OperationOutcomeError. */
export function translateAll(bytes: Uint8Array): number {
  const resources = translateX12(text(bytes));
  for (const r of resources) if (!r.resourceType) throw new Violation('a resource without resourceType');
  JSON.stringify(resources);
  return resources.length;
}
