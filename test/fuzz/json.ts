/**
 * @module test/fuzz/json — FHIR JSON bodies made hostile: the R4 examples of test/fixtures/r4-examples with values
 * replaced (huge and odd numbers written raw, NUL and lone surrogates, very long strings, wrong types), elements
 * deleted, values nested thousands deep (arrays, objects, and extensions inside extensions, which a schema
 * follows), arrays widened; then the text itself cut, flipped or given invalid UTF-8 (./corpus.ts mutations).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { mutationArb, mutate, type Format } from './corpus.ts';

const EXAMPLES = join(import.meta.dirname, '../fixtures/r4-examples');

export const R4_EXAMPLES: readonly Record<string, unknown>[] = readdirSync(EXAMPLES)
  .filter((f) => /^[A-Z].*\.json$/.test(f))
  .sort()
  .map((f) => JSON.parse(readFileSync(join(EXAMPLES, f), 'utf8')) as Record<string, unknown>);

/** Numbers JSON allows but JavaScript cannot hold, written into the text as they are. */
const RAW = [
  '1e400', '-1e400', '123456789012345678901234567890', '1e-400', '-0', '9007199254740993', '1E+2',
  '0.30000000000000004',
];
const HOSTILE: readonly unknown[] = [
  null, true, 0, -1, 2 ** 31, 1.5, '', ' ', '\u0000', 'a\u0000b', '\ud800', '\udfff', '\u202e', 'x'.repeat(70_000),
  '2026-02-30', '2026-13-01', '2026-01-05T25:00:00Z', '0000-01-01', '9999-12-31T23:59:59.9999999999+14:00',
  'urn:uuid:00000000-0000-0000-0000-000000000000', '#', '%', '%00', 'Patient/../../x', 'Patient/', '/', '?', '*',
  [], {}, [null], [[]], { resourceType: 'Patient' }, { reference: 'Patient?identifier=' }, { reference: 'urn:uuid:x' },
  "'; DROP TABLE resource;--", '$1', '\\', '"', '𝒜'.repeat(20), ...RAW.map((_, i) => `\u0001RAW${i}\u0001`),
];

/** Put inside a string that stays a string (and so passes the schema): what the database or a parser may choke on. */
const TAINTS = [
  '\ud800', '\udc00', '\u0000', '\u202e', '%00', '\\', "'", '$1', '\uFEFF', '\u2028', '𝒜', 'x'.repeat(10_000),
];

export type JsonMutation =
  | { kind: 'replace'; path: number[]; value: number }
  | { kind: 'taint'; path: number[]; taint: number; at: number }
  | { kind: 'delete'; path: number[] }
  | { kind: 'nest'; path: number[]; depth: number; shape: 'array' | 'object' | 'extension' }
  | { kind: 'widen'; path: number[]; times: number };

const path = fc.array(fc.integer({ min: 0, max: 999 }), { minLength: 1, maxLength: 6 });

export const jsonMutationArb: fc.Arbitrary<JsonMutation> = fc.oneof(
  fc.record({ kind: fc.constant('replace' as const), path, value: fc.nat(HOSTILE.length - 1) }),
  fc.record({ kind: fc.constant('taint' as const), path, taint: fc.nat(TAINTS.length - 1), at: fc.nat(64) }),
  fc.record({ kind: fc.constant('delete' as const), path }),
  fc.record({
    kind: fc.constant('nest' as const), path, depth: fc.constantFrom(2, 50, 1000, 5000, 20_000),
    shape: fc.constantFrom('array' as const, 'object' as const, 'extension' as const),
  }),
  fc.record({ kind: fc.constant('widen' as const), path, times: fc.constantFrom(2, 100, 5000) })
);

/** Walks `path` (each step an index among the children, modulo their number); returns the parent and the key. */
type Place = { parent: Record<string, unknown> | unknown[]; key: string | number };

function locate(root: unknown, steps: number[]): Place | undefined {
  let parent: unknown = root;
  let found: Place | undefined;
  for (const step of steps) {
    if (!parent || typeof parent !== 'object') break;
    const keys: (string | number)[] = Array.isArray(parent) ? parent.map((_, i) => i) : Object.keys(parent);
    if (!keys.length) break;
    const key = keys[step % keys.length] as string | number;
    found = { parent: parent as Record<string, unknown>, key };
    parent = (parent as Record<string | number, unknown>)[key];
  }
  return found;
}

/**
 * Deep nesting is written by ./toText as text: JSON.stringify itself overflows the stack a few thousand levels
 * down, so the document holds a marker (`NEST`) where the nesting goes.
 */
const NEST = '\u0001nest';
const SHAPES = {
  array: ['[', ']'],
  object: ['{"a":', '}'],
  extension: ['{"url":"http://example.org/x","extension":[', ']}'],
} as const;

function nested(inner: unknown, depth: number, shape: keyof typeof SHAPES): unknown {
  return { [NEST]: { depth, shape, inner } };
}

export function mutateJson(doc: unknown, m: JsonMutation): unknown {
  // A JSON copy, not structuredClone: that one keeps shared references, and a value widened into 5000 copies of
  // one object would then grow 5000-fold with every later mutation inside it.
  const root = JSON.parse(JSON.stringify(doc)) as unknown;
  const at = locate(root, m.path);
  if (!at) return root;
  const { parent, key } = at;
  const get = () => (parent as Record<string | number, unknown>)[key];
  const set = (v: unknown) => ((parent as Record<string | number, unknown>)[key] = v);
  switch (m.kind) {
    case 'replace':
      set(structuredClone(HOSTILE[m.value]));
      break;
    case 'taint': {
      // The string leaf the path leads to (or the first one below where it stops), tainted where `at` says.
      let v = get();
      let holder: Place = at;
      while (v && typeof v === 'object') {
        const keys: (string | number)[] = Array.isArray(v) ? v.map((_, i) => i) : Object.keys(v);
        if (!keys.length) break;
        holder = { parent: v as Record<string, unknown>, key: keys[0] as string | number };
        v = (v as Record<string | number, unknown>)[keys[0] as string | number];
      }
      if (typeof v !== 'string') break;
      const i = m.at % (v.length + 1);
      const tainted = v.slice(0, i) + (TAINTS[m.taint] ?? '') + v.slice(i);
      (holder.parent as Record<string | number, unknown>)[holder.key] = tainted;
      break;
    }
    case 'delete':
      if (Array.isArray(parent)) parent.splice(key as number, 1);
      else delete parent[key as string];
      break;
    case 'nest':
      set(nested(get(), m.depth, m.shape));
      break;
    case 'widen': {
      const v = Array.isArray(get()) ? (get() as unknown[])[0] : get();
      // A few megabytes at most: the body limit is not what this is about.
      const times = Math.min(m.times, Math.floor(4_000_000 / (toText(v).length + 1)));
      set(Array.from({ length: Math.max(times, 1) }, () => v));
      break;
    }
  }
  return root;
}

/** JSON text with the raw numbers and the deep nesting put in place of their placeholders. */
export function toText(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(toText).join(',')}]`;
  if (v && typeof v === 'object') {
    const n = (v as Record<string, { depth?: unknown; shape?: unknown; inner?: unknown } | undefined>)[NEST];
    const shape = typeof n?.shape === 'string' && n.shape in SHAPES;
    if (n && shape && Number.isInteger(n.depth) && (n.depth as number) >= 0) {
      const [open, close] = SHAPES[n.shape as keyof typeof SHAPES];
      return open.repeat(n.depth as number) + toText(n.inner) + close.repeat(n.depth as number);
    }
    return `{${Object.entries(v).map(([k, x]) => `${JSON.stringify(k)}:${toText(x)}`).join(',')}}`;
  }
  const raw = typeof v === 'string' ? /^\u0001RAW(\d+)\u0001$/.exec(v) : null;
  if (raw) return RAW[Number(raw[1])] ?? '0';
  return JSON.stringify(v) ?? 'null';
}

const JSON_FORMAT: Format = {
  delimiters: ['{', '}', '[', ']', ',', ':', '"', '\\'],
  field: ',',
  repetition: ',',
  segmentEnds: '}',
};

/** A document mutated as JSON, then (sometimes) as bytes. */
export function hostileJson(docs: fc.Arbitrary<unknown>): fc.Arbitrary<Uint8Array> {
  return fc
    .tuple(docs, fc.array(jsonMutationArb, { maxLength: 3 }), fc.array(mutationArb, { maxLength: 2 }), fc.nat(3))
    .map(([doc, jm, bm, textual]) => {
      const bytes: Uint8Array = new Uint8Array(Buffer.from(toText(jm.reduce(mutateJson, doc)), 'utf8'));
      return textual === 0 ? bm.reduce<Uint8Array>((b, m) => mutate(b, m, JSON_FORMAT), bytes) : bytes;
    });
}
