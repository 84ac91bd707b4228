/**
 * @module test/fuzz/corpus — the seeds the fuzz properties start from (the fixtures the golden and unit tests
 * already use, so the suite runs where ../shared does not exist) and the mutations that make bad input of them:
 * bytes flipped, delimiters swapped, segments cut or repeated, fields repeated, hostile tokens (escape sequences,
 * huge numbers, invalid UTF-8) inserted. Mutations are data (positions as fractions of the length), so fast-check
 * shrinks them like any other value and a failing input is the mutated bytes themselves.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { tokenize } from '../../src/translate/x12/tokens.ts';

const FIXTURES = join(import.meta.dirname, '../fixtures');

export type Seed = { name: string; bytes: Uint8Array };

function seedsIn(dir: string, ext: string): Seed[] {
  return readdirSync(join(FIXTURES, dir))
    .filter((f) => f.endsWith(ext))
    .sort()
    .map((f) => ({ name: `${dir}/${f}`, bytes: new Uint8Array(readFileSync(join(FIXTURES, dir, f))) }));
}

/** MSH-9 of a seed as `CODE^TRIGGER` (fixtures are ASCII in the MSH, whatever else they hold). */
export function messageType(bytes: Uint8Array): string {
  const first = Buffer.from(bytes).toString('latin1').replace(/^\uFEFF|^\xEF\xBB\xBF/, '').split(/\r|\n/)[0] ?? '';
  const msh9 = first.split('|')[8] ?? '';
  return msh9.split('^').slice(0, 2).join('^');
}

export const HL7_SEEDS: readonly Seed[] = [...seedsIn('hl7v2', '.hl7'), rriSeed(), batchSeed()];
export const X12_SEEDS: readonly Seed[] = [...seedsIn('x12', '.edi'), ...seedsIn('x12/edge', '.edi')];

/**
 * An RRI^I12 (the specialist's answer) made of REF-I12-01, as test/translate/hl7v2/ref.test.ts does by hand: there
 * is no RRI among the public samples, and the RRI translator deserves its own starting point.
 */
function rriSeed(): Seed {
  const ref = readFileSync(join(FIXTURES, 'hl7v2/REF-I12-01.hl7'), 'latin1').replace(/^\xEF\xBB\xBF/, '');
  const segments = ref.split(/\r\n|\r|\n/).filter(Boolean);
  const msh = (segments[0] ?? '').split('|');
  const control = msh[9] ?? '';
  [msh[2], msh[3], msh[4], msh[5]] = [msh[4] ?? '', msh[5] ?? '', msh[2] ?? '', msh[3] ?? ''];
  [msh[8], msh[9]] = ['RRI^I12^RRI_I12', 'RRI0001'];
  const accepted = (s: string) => s.replace(/^RF1\|[^|]*/, 'RF1|A^Accepted^HL70283');
  const rest = segments.slice(1).map((s) => (s.startsWith('RF1|') ? accepted(s) : s));
  const text = [msh.join('|'), `MSA|AA|${control}`, ...rest].join('\r');
  return { name: 'synthetic/RRI-I12 (from REF-I12-01)', bytes: new Uint8Array(Buffer.from(text, 'latin1')) };
}

/** Two samples in a batch envelope (v2.5 §2.10.3), for the batch reader and the batch acknowledgment. */
function batchSeed(): Seed {
  const message = (name: string) =>
    readFileSync(join(FIXTURES, 'hl7v2', name), 'latin1')
      .replace(/^\xEF\xBB\xBF/, '')
      .split(/\r\n|\r|\n/)
      .filter(Boolean);
  const text = [
    'FHS|^~\\&|BATCHAPP|BATCHFAC|FRONTDESK|FD|20260105120000||||F001',
    'BHS|^~\\&|BATCHAPP|BATCHFAC|FRONTDESK|FD|20260105120000||||B001',
    ...message('ADT-A04-01.hl7'),
    ...message('ADT-A08-01.hl7'),
    'BTS|2',
    'FTS|1',
  ].join('\r');
  return { name: 'synthetic/batch (ADT-A04-01, ADT-A08-01)', bytes: new Uint8Array(Buffer.from(text, 'latin1')) };
}

/**
 * What a wire format's structure is made of: its delimiters (swapped for one another), its field separator and
 * repetition separator (to repeat a field), and its segment ends (to cut or repeat a segment).
 */
export type Format = { delimiters: readonly string[]; field: string; repetition: string; segmentEnds: string };
export const HL7: Format = {
  delimiters: ['|', '^', '~', '\\', '&', '#', '\r', '\n'],
  field: '|',
  repetition: '~',
  segmentEnds: '\r\n',
};
export const X12: Format = {
  delimiters: ['*', ':', '^', '>', '~', '\n', '\r', '\x1D', '|'],
  field: '*',
  repetition: '^',
  segmentEnds: '~\r\n',
};

/** Tokens that have broken parsers before: escapes, "" (delete), huge and odd numbers, dates, invalid UTF-8. */
const HOSTILE: readonly (string | number[])[] = [
  '\\X\\', '\\X00\\', '\\XE\\', '\\XC3A9\\', '\\XFFFE\\', '\\X0\\', '\\E\\', '\\F\\\\S\\', '\\.sp99999999\\',
  '\\.br\\', '\\Z123\\',
  '\\', '""', '"', '^^^^^', '~~~~', '&&&', '\\H\\\\N\\', '\\P\\',
  '9'.repeat(40), '-0', '1e400', 'NaN', '0x1F', '-99999999999999999999', '1.7976931348623157e309',
  '20260230', '20261301', '99999999999999', '2026010512', '202601051230+2500', '20260105123000.12345-0000',
  '19000101', '00000000', '202602291200', '\u0000', '\u202E', '\uD800', '\uFFFF', '𝒜', 'ﬃ', 'İ',
  [0xc3, 0x28], [0xff, 0xfe], [0xed, 0xa0, 0x80], [0xc0, 0xaf], [0xf4, 0x90, 0x80, 0x80], [0xe2, 0x82], [0x80],
  [0xef, 0xbb, 0xbf], [0x0b], [0x1c], [0x1c, 0x0d], [0x00],
];

export type Mutation =
  | { kind: 'flip'; at: number; byte: number }
  | { kind: 'swap'; from: number; to: number; all: boolean; at: number }
  | { kind: 'cut'; at: number; whole: boolean }
  | { kind: 'repeat'; at: number; times: number; unit: 'segment' | 'field' }
  | { kind: 'insert'; at: number; token: number }
  | { kind: 'number'; at: number; digits: number };

/** A position as a fraction of the length: fc.double leans hard towards 0, which would mostly break the MSH. */
const at = fc.integer({ min: 0, max: 9999 }).map((n) => n / 10000);

export const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at, byte: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('swap' as const), from: fc.nat(8), to: fc.nat(8), all: fc.boolean(), at }),
  fc.record({ kind: fc.constant('cut' as const), at, whole: fc.boolean() }),
  fc.record({
    kind: fc.constant('repeat' as const),
    at,
    // Now and then thousands: what is quadratic in the repetitions shows there (a 100 KB field once took 10 s).
    times: fc.oneof({ weight: 9, arbitrary: fc.integer({ min: 2, max: 60 }) }, fc.constantFrom(1000, 5000)),
    unit: fc.constantFrom('segment' as const, 'field' as const),
  }),
  fc.record({ kind: fc.constant('insert' as const), at, token: fc.nat(HOSTILE.length - 1) }),
  fc.record({ kind: fc.constant('number' as const), at, digits: fc.integer({ min: 10, max: 400 }) })
);

/** Applies one mutation to bytes of the given format. */
export function mutate(input: Uint8Array, m: Mutation, format: Format): Uint8Array {
  const b = Buffer.from(input);
  const pos = Math.floor(m.at * (b.length + 1));
  const { delimiters } = format;
  const ends = [...format.segmentEnds].map((d) => d.charCodeAt(0));
  const isEnd = (c: number) => ends.includes(c);
  switch (m.kind) {
    case 'flip':
      if (b.length === 0) return new Uint8Array([m.byte]);
      b[Math.min(pos, b.length - 1)] = m.byte;
      return new Uint8Array(b);
    case 'swap': {
      const [from, to] = [delimiters[m.from % delimiters.length] ?? '|', delimiters[m.to % delimiters.length] ?? '^'];
      const text = b.toString('latin1');
      if (m.all) return latin1(text.replaceAll(from, to));
      const i = text.indexOf(from, pos);
      return i < 0 ? input : latin1(text.slice(0, i) + to + text.slice(i + 1));
    }
    case 'cut': {
      if (!m.whole) return new Uint8Array(b.subarray(0, pos));
      const [s, e] = around(b, pos, isEnd);
      return new Uint8Array(Buffer.concat([b.subarray(0, s), b.subarray(e)]));
    }
    case 'repeat': {
      const field = format.field.charCodeAt(0);
      const [s, e] = around(b, pos, m.unit === 'segment' ? isEnd : (c) => c === field || isEnd(c));
      const unit = Buffer.from(b.subarray(s, e));
      const sep = Buffer.from(m.unit === 'segment' ? format.segmentEnds.charAt(0) : format.repetition, 'latin1');
      // 256 KB at most (repeats of repeats would reach hundreds of megabytes): enough for what is quadratic to show
      // (72 KB took 33 s), small enough for the suite's time.
      const times = Math.max(1, Math.min(m.times, Math.floor((256 << 10) / (unit.length + 1))));
      const copies = Array.from({ length: times }, () => unit);
      const joined = Buffer.concat(copies.flatMap((c, i) => (i === 0 ? [c] : [sep, c])));
      return new Uint8Array(Buffer.concat([b.subarray(0, s), joined, b.subarray(e)]));
    }
    case 'insert': {
      const t = HOSTILE[m.token] ?? '';
      const bytes = typeof t === 'string' ? Buffer.from(t, 'utf8') : Buffer.from(t);
      return new Uint8Array(Buffer.concat([b.subarray(0, pos), bytes, b.subarray(pos)]));
    }
    case 'number': {
      const text = b.toString('latin1');
      const found = /\d+/g;
      found.lastIndex = pos;
      const hit = found.exec(text) ?? /\d+/.exec(text);
      const digits = '9'.repeat(m.digits);
      if (!hit) return latin1(text.slice(0, pos) + digits + text.slice(pos));
      return latin1(text.slice(0, hit.index) + digits + text.slice(hit.index + hit[0].length));
    }
  }
  return m satisfies never;
}

/** The span [start, end) around `pos` bounded by bytes for which `stop` holds (the separators themselves excluded). */
function around(b: Buffer, pos: number, stop: (c: number) => boolean): [number, number] {
  let s = Math.min(pos, b.length);
  while (s > 0 && !stop(b[s - 1] as number)) s--;
  let e = Math.min(pos, b.length);
  while (e < b.length && !stop(b[e] as number)) e++;
  return [s, e];
}

function latin1(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, 'latin1'));
}

/** A seed with up to `max` mutations applied in turn (none: the seed as it is, which must pass too). */
export function mutated(seeds: readonly Seed[], format: Format, max = 4): fc.Arbitrary<Uint8Array> {
  return fc
    .tuple(fc.constantFrom(...seeds), fc.array(mutationArb, { maxLength: max }))
    .map(([seed, ms]) => ms.reduce((bytes, m) => mutate(bytes, m, format), seed.bytes));
}

/** Bytes with no structure at all, and text that merely starts like the format. */
export function noise(prefix: string): fc.Arbitrary<Uint8Array> {
  return fc.oneof(
    fc.uint8Array({ maxLength: 600 }),
    fc.string({ unit: 'binary', maxLength: 400 }).map((s) => new Uint8Array(Buffer.from(prefix + s, 'utf8'))),
    fc
      .array(fc.constantFrom(...HL7.delimiters, ...X12.delimiters, 'MSH', 'ISA', 'PID', 'GS', 'ST', 'a', '1', ' '), {
        maxLength: 200,
      })
      .map((parts) => new Uint8Array(Buffer.from(prefix + parts.join(''), 'latin1')))
  );
}

/**
 * The trailers' counts and control numbers made to agree again after a mutation (SE01/SE02, GE01/GE02, IEA01/IEA02):
 * without this almost every mutated interchange is refused at the envelope, and the 270/271/999 readers behind it
 * would see only intact sets. Input the tokenizer refuses is left as it is.
 */
export function repairedX12(bytes: Uint8Array): Uint8Array {
  let t: ReturnType<typeof tokenize>;
  try {
    t = tokenize(Buffer.from(bytes).toString('latin1'));
  } catch {
    return bytes;
  }
  const segs = t.segments.map((s) => [...s]);
  let st: string[] | undefined;
  let stAt = 0;
  let gs: string[] | undefined;
  let sets = 0;
  let groups = 0;
  segs.forEach((s, i) => {
    if (s[0] === 'GS') [gs, sets, groups] = [s, 0, groups + 1];
    else if (s[0] === 'ST') [st, stAt, sets] = [s, i, sets + 1];
    else if (s[0] === 'SE') [s[1], s[2]] = [String(i - stAt + 1), st?.[2] ?? ''];
    else if (s[0] === 'GE') [s[1], s[2]] = [String(sets), gs?.[6] ?? ''];
    else if (s[0] === 'IEA') [s[1], s[2]] = [String(groups), segs[0]?.[13] ?? ''];
  });
  const { element: E, segment: T } = t.delimiters;
  return new Uint8Array(Buffer.from(segs.map((s) => s.join(E) + T).join(''), 'latin1'));
}
