/**
 * @module translate/x12/interchange — wraps transaction sets in ST/SE, GS/GE and ISA/IEA, pure.
 *
 * The ISA is fixed width (ISA06/ISA08 15 characters, ISA13 9 digits, …) and carries the delimiters themselves, so
 * it is written here rather than by the segment serializer. SE01 counts the set's segments with ST and SE, GE01
 * the sets, IEA01 the groups (X12.6). Control numbers are the caller's: the gateway draws them from a database
 * sequence so that none is ever reused (005010 TR3 appendix B: ISA13 must be unique per sender).
 */
import { DEFAULT_DELIMITERS, segmentText, X12SerializeError, type X12Out } from './serialize.ts';
import type { X12Delimiters } from './tokens.ts';

export type InterchangeHeader = {
  /** ISA05/ISA06, ISA07/ISA08: qualifier (ZZ mutually defined, 30 federal tax id, …) and id. */
  senderQualifier: string;
  senderId: string;
  receiverQualifier: string;
  receiverId: string;
  /** GS02 / GS03; default the ISA ids. */
  applicationSender?: string;
  applicationReceiver?: string;
  /** ISA13 and GS06 (numbers, at most 9 digits). */
  interchangeControl: number;
  groupControl: number;
  /** ISA15: P production, T test. */
  usage: 'P' | 'T';
  /** ISA14: ask for a TA1. */
  ackRequested: boolean;
  /** GS01: HS for 270, HB for 271, FA for 999. */
  functionalId: string;
  /** GS08 and ST03: `005010X279A1`. */
  version: string;
  now: Date;
};

export type TransactionSet = { id: string; control: string; body: readonly X12Out[] };

export function writeInterchange(
  h: InterchangeHeader,
  sets: readonly TransactionSet[],
  d: X12Delimiters = DEFAULT_DELIMITERS
): string {
  const iso = h.now.toISOString();
  const isa13 = controlNumber(h.interchangeControl, 9);
  const gs06 = String(h.groupControl);
  if (!d.repetition) throw new X12SerializeError('005010 interchanges need a repetition separator (ISA11)');
  const fixed = (v: string, n: number, at: string) => {
    if (v.length > n) throw new X12SerializeError(`${at} "${v}" is longer than its ${n} characters`);
    return v.padEnd(n, ' ');
  };
  const isa = [
    'ISA', '00', ' '.repeat(10), '00', ' '.repeat(10),
    fixed(h.senderQualifier, 2, 'ISA05'), fixed(h.senderId, 15, 'ISA06'),
    fixed(h.receiverQualifier, 2, 'ISA07'), fixed(h.receiverId, 15, 'ISA08'),
    iso.slice(2, 10).replaceAll('-', ''), iso.slice(11, 16).replace(':', ''), d.repetition, '00501', isa13,
    h.ackRequested ? '1' : '0', h.usage, d.component,
  ].join(d.element) + d.segment;
  const seg = (s: X12Out) => segmentText(s, d);
  const out = [
    isa,
    seg(['GS', h.functionalId, h.applicationSender ?? h.senderId, h.applicationReceiver ?? h.receiverId,
      iso.slice(0, 10).replaceAll('-', ''), iso.slice(11, 16).replace(':', ''), gs06, 'X', h.version]),
  ];
  for (const set of sets) {
    out.push(
      seg(['ST', set.id, set.control, h.version]),
      ...set.body.map(seg),
      seg(['SE', String(set.body.length + 2), set.control]),
    );
  }
  out.push(seg(['GE', String(sets.length), gs06]), seg(['IEA', '1', isa13]));
  return out.join('');
}

function controlNumber(n: number, width: number): string {
  if (!Number.isInteger(n) || n < 1 || n >= 10 ** width) {
    throw new X12SerializeError(`control number ${n} out of range`);
  }
  return String(n).padStart(width, '0');
}
