/**
 * @module translate/x12/eligibility-271 — reads an 005010X279A1 271 eligibility response (one ST … SE set, as
 * ./envelope.ts cuts it) into the typed shape of ./eligibility-271-model.ts, pure.
 *
 * The HL levels come from ./hl.ts (20 payer 2000A, 21 receiver 2000B, 22 subscriber 2000C, 23 dependent 2000D);
 * within a level the loops are cut here by their first segment, as the TR3 orders them (stupidedi
 * `X279A1-HB271.rb`): the 2100x name loop starts at NM1, each 2110x loop at an EB, a 2120x related entity at an
 * NM1 between `LS*2120` and `LE*2120`. The 005010X279 (pre-addenda) layout is the same, so it is read alike.
 * Nothing is dropped: a segment this reader does not type is listed in its level's `unmapped` with its loop,
 * and a level it does not know in the result's. EB03 repeats only with a 5010 ISA11 (in 4010 it is `U`, data).
 */
import type { X12Transaction } from './envelope.ts';
import { hlTree, type HlNode } from './hl.ts';
import { components, repeats, type X12Delimiters, type X12Segment } from './tokens.ts';
import type {
  Aaa, AaaLoop, Address, Benefit, Contact, DateRef, Eligibility271, InformationReceiver, InformationSource, Member,
  RelatedEntity, Subscriber, X12Name,
} from './eligibility-271-model.ts';

export type * from './eligibility-271-model.ts';

export function read271(tx: X12Transaction, d: X12Delimiters): Eligibility271 {
  const tree = hlTree(tx.segments);
  const st = tx.segments[0] ?? [];
  const out: Eligibility271 = {
    control: tx.control,
    implementation: tx.reference || (st[3] ?? ''),
    bht: { purpose: '' },
    sources: [],
    unmapped: [],
    problems: [...tree.problems],
  };
  for (const seg of tree.header) {
    if (seg[0] === 'BHT') {
      const [purpose = '', reference, date, time] = seg.slice(2);
      out.bht = { purpose, reference: reference || undefined, date: d8(date) || undefined, time: time || undefined };
    } else if (seg[0] !== 'ST') out.unmapped.push(`header ${seg[0]}`);
  }
  const levels = new Map<string, InformationSource | InformationReceiver | Subscriber>();
  const last: { source?: InformationSource; receiver?: InformationReceiver; subscriber?: Subscriber } = {};
  // A level whose HL02 names no level of the expected kind hangs under the last one of that kind (hl.ts reports it).
  const parentOf = <T extends object>(node: HlNode, kind: (x: object) => x is T, fallback?: T): T | undefined => {
    const p = levels.get(node.parentId);
    return p && kind(p) ? p : fallback;
  };
  for (const node of tree.nodes) {
    if (node.level === '20') {
      const source = readSource(node);
      out.sources.push(source);
      levels.set(node.id, (last.source = source));
    } else if (node.level === '21') {
      const receiver = readReceiver(node);
      const parent = parentOf(node, isSource, last.source);
      if (parent) parent.receivers.push(receiver);
      else out.problems.push(`HL ${node.id} (2000B) has no 2000A above it`);
      levels.set(node.id, (last.receiver = receiver));
    } else if (node.level === '22') {
      const subscriber: Subscriber = { ...readMember(node, d, 'C'), dependents: [] };
      const parent = parentOf(node, isReceiver, last.receiver);
      if (parent) parent.subscribers.push(subscriber);
      else out.problems.push(`HL ${node.id} (2000C) has no 2000B above it`);
      levels.set(node.id, (last.subscriber = subscriber));
    } else if (node.level === '23') {
      const parent = parentOf(node, isSubscriber, last.subscriber);
      if (parent) parent.dependents.push(readMember(node, d, 'D'));
      else out.problems.push(`HL ${node.id} (2000D) has no 2000C above it`);
    } else {
      out.unmapped.push(`HL ${node.id} level ${node.level}`);
    }
  }
  return out;
}

const isSource = (x: object): x is InformationSource => 'receivers' in x;
const isReceiver = (x: object): x is InformationReceiver => 'subscribers' in x;
const isSubscriber = (x: object): x is Subscriber => 'dependents' in x;

/** 2000A (AAA before the NM1) and 2100A (NM1, PER, AAA). */
function readSource(node: HlNode): InformationSource {
  const source: InformationSource = { hl: node.id, contacts: [], aaa: [], receivers: [], unmapped: [] };
  let loop: '2000A' | '2100A' = '2000A';
  for (const seg of node.segments) {
    const id = seg[0];
    if (id === 'NM1') {
      loop = '2100A';
      source.name = name(seg);
    } else if (id === 'AAA') source.aaa.push(aaa(seg, loop));
    else if (id === 'PER' && loop === '2100A') source.contacts.push(contact(seg));
    else source.unmapped.push(`${loop} ${id}`);
  }
  return source;
}

/** 2000B and 2100B (NM1, REF, N3, N4, AAA, PRV). */
function readReceiver(node: HlNode): InformationReceiver {
  const r: InformationReceiver = { hl: node.id, refs: [], aaa: [], subscribers: [], unmapped: [] };
  let loop: '2000B' | '2100B' = '2000B';
  for (const seg of node.segments) {
    const id = seg[0];
    if (id === 'NM1') {
      loop = '2100B';
      r.name = name(seg);
    } else if (loop === '2000B') r.unmapped.push(`2000B ${id}`);
    else if (id === 'REF') r.refs.push(ref(seg));
    else if (id === 'N3' || id === 'N4') r.address = address(r.address, seg);
    else if (id === 'AAA') r.aaa.push(aaa(seg, '2100B'));
    else if (id === 'PRV') r.provider = prv(seg);
    else r.unmapped.push(`2100B ${id}`);
  }
  return r;
}

/** 2000C/D (TRN), 2100C/D (NM1 … DTP), 2110C/D (EB … MSG, 2115 III) and 2120C/D (LS, NM1 … PRV, LE). */
function readMember(node: HlNode, d: X12Delimiters, x: 'C' | 'D'): Member {
  const m: Member = { hl: node.id, traces: [], refs: [], dates: [], aaa: [], benefits: [], unmapped: [] };
  let loop: '2000' | '2100' | '2110' | '2120' = '2000';
  let benefit: Benefit | undefined;
  let entity: RelatedEntity | undefined;
  for (const seg of node.segments) {
    const id = seg[0] ?? '';
    if (id === 'EB') {
      // A payer that forgets LE*2120 still sends benefits after it: they are read, the gap is noted.
      if (loop === '2120') m.unmapped.push(`2120${x} LE missing`);
      loop = '2110';
      m.benefits.push((benefit = eb(seg, d, m.unmapped, `2110${x}`)));
      continue;
    }
    if (loop === '2000') {
      if (id === 'TRN') {
        const [type = '', reference = '', originator = '', additional] = seg.slice(1);
        m.traces.push({ type, reference, originator, additional: additional || undefined });
      } else if (id === 'NM1') {
        loop = '2100';
        m.name = name(seg);
      } else m.unmapped.push(`2000${x} ${id}`);
    } else if (loop === '2100') {
      if (id === 'REF') m.refs.push(ref(seg));
      else if (id === 'N3' || id === 'N4') m.address = address(m.address, seg);
      else if (id === 'AAA') m.aaa.push(aaa(seg, `2100${x}`));
      else if (id === 'PRV') m.provider = prv(seg);
      else if (id === 'DMG') m.demographics = dmg(seg);
      else if (id === 'INS') m.ins = ins(seg);
      else if (id === 'DTP') m.dates.push(dtp(seg));
      else m.unmapped.push(`2100${x} ${id}`);
    } else if (loop === '2110' && benefit) {
      if (id === 'HSD') benefit.delivery.push(seg.slice(1));
      else if (id === 'REF') benefit.refs.push(ref(seg));
      else if (id === 'DTP') benefit.dates.push(dtp(seg));
      else if (id === 'AAA') benefit.aaa.push(aaa(seg, `2110${x}`));
      else if (id === 'MSG') benefit.messages.push(seg[1] ?? '');
      else if (id === 'III') benefit.additional.push(seg.slice(1));
      else if (id === 'LS') {
        loop = '2120';
        entity = undefined;
      } else m.unmapped.push(`2110${x} ${id}`);
    } else if (loop === '2120' && benefit) {
      if (id === 'NM1') benefit.entities.push((entity = { name: name(seg), contacts: [] }));
      else if (id === 'LE') loop = '2110';
      else if (!entity) m.unmapped.push(`2120${x} ${id}`);
      else if (id === 'N3' || id === 'N4') entity.address = address(entity.address, seg);
      else if (id === 'PER') entity.contacts.push(contact(seg));
      else if (id === 'PRV') entity.provider = prv(seg);
      else m.unmapped.push(`2120${x} ${id}`);
    }
  }
  return m;
}

/** 2110C/D EB: EB03 repeats, EB07/EB08/EB10 are decimals (X12 type R), EB13 and EB14 are composites. */
function eb(seg: X12Segment, d: X12Delimiters, unmapped: string[], loop: string): Benefit {
  const num = (n: number): number | undefined => {
    const v = seg[n];
    if (!v) return undefined;
    const parsed = decimal(v);
    if (parsed === undefined) unmapped.push(`${loop} EB${String(n).padStart(2, '0')} not a number`);
    return parsed;
  };
  const [qualifier = '', code = '', ...rest] = components(seg[13], d);
  // Plain properties, `undefined` when absent (JSON leaves them out): a spread per optional element cost more than
  // the whole tokenizer.
  return {
    info: seg[1] ?? '',
    coverageLevel: seg[2] || undefined,
    serviceTypes: repeats(seg[3], d).filter(Boolean),
    insuranceType: seg[4] || undefined,
    planDescription: seg[5] || undefined,
    timePeriod: seg[6] || undefined,
    amount: num(7),
    percent: num(8),
    quantityQualifier: seg[9] || undefined,
    quantity: num(10),
    authorization: seg[11] || undefined,
    network: seg[12] || undefined,
    procedure: seg[13] ? { qualifier, code, modifiers: rest.slice(0, 4).filter(Boolean) } : undefined,
    diagnosisPointers: components(seg[14], d).filter(Boolean),
    delivery: [],
    refs: [],
    dates: [],
    aaa: [],
    messages: [],
    additional: [],
    entities: [],
  };
}

function name(seg: X12Segment): X12Name {
  return {
    entity: seg[1] ?? '',
    entityType: seg[2] ?? '',
    last: seg[3] || undefined,
    first: seg[4] || undefined,
    middle: seg[5] || undefined,
    suffix: seg[7] || undefined,
    idQualifier: seg[8] || undefined,
    id: seg[9] || undefined,
  };
}

function aaa(seg: X12Segment, loop: AaaLoop): Aaa {
  return { loop, valid: seg[1] === 'Y', reason: seg[3] ?? '', followUp: seg[4] ?? '' };
}

/** DMG: only a D8 birth date is a date (DMG01 names the format). */
function dmg(seg: X12Segment): Member['demographics'] {
  return { birthDate: seg[1] === 'D8' ? d8(seg[2]) : undefined, gender: seg[3] || undefined };
}

function ins(seg: X12Segment): Member['ins'] {
  const [insured = '', relationship = '', type, reason] = seg.slice(1);
  return { insured, relationship, maintenanceType: type || undefined, maintenanceReason: reason || undefined };
}

function contact(seg: X12Segment): Contact {
  const numbers: Contact['numbers'] = [];
  for (const n of [3, 5, 7]) {
    const [qualifier, value] = [seg[n], seg[n + 1]];
    if (qualifier && value) numbers.push({ qualifier, value });
  }
  return { function: seg[1] ?? '', name: seg[2] || undefined, numbers };
}

function ref(seg: X12Segment) {
  return { qualifier: seg[1] ?? '', value: seg[2] ?? '', description: seg[3] || undefined };
}

function prv(seg: X12Segment) {
  return { code: seg[1] ?? '', qualifier: seg[2] || undefined, id: seg[3] || undefined };
}

/** N3 adds its lines, N4 the city, state, ZIP and country (N404) to the loop's one address. */
function address(a: Address | undefined, seg: X12Segment): Address {
  const base: Address = a ?? { lines: [] };
  if (seg[0] === 'N3') return { ...base, lines: [...base.lines, ...[seg[1], seg[2]].filter((l): l is string => !!l)] };
  const [city, state, postalCode, country] = seg.slice(1);
  return {
    ...base,
    city: city || undefined,
    state: state || undefined,
    postalCode: postalCode || undefined,
    country: country || undefined,
  };
}

/** DTP with D8 (`CCYYMMDD`) or RD8 (`CCYYMMDD-CCYYMMDD`); another format keeps its raw value only. */
function dtp(seg: X12Segment): DateRef {
  const [qualifier = '', format = '', value = ''] = seg.slice(1);
  const [from, to] = format === 'RD8' ? value.split('-') : [value];
  return { qualifier, format, value, start: d8(from), end: format === 'RD8' ? d8(to) : undefined };
}

/** CCYYMMDD → YYYY-MM-DD, or undefined when it is not a calendar date. */
export function d8(v: string | undefined): string | undefined {
  if (!v || v.length !== 8 || !/^\d{8}$/.test(v)) return undefined;
  const year = Number(v.slice(0, 4));
  const month = Number(v.slice(4, 6));
  const day = Number(v.slice(6, 8));
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1];
  return days !== undefined && day >= 1 && day <= days
    ? `${v.slice(0, 4)}-${v.slice(4, 6)}-${v.slice(6, 8)}`
    : undefined;
}

/** X12 type R: optional sign, digits with an optional decimal point (`.2`, `0.2`, `125.50`, `-3`). */
export function decimal(v: string): number | undefined {
  return /^[+-]?(\d+\.?\d*|\.\d+)$/.test(v.trim()) ? Number(v) : undefined;
}

