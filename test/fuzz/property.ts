/**
 * @module test/fuzz/property — how every fuzz property runs.
 *
 * - One seed per run: `FUZZ_SEED` when given (to replay a failure), else a fixed one under CI (a run that finds
 *   nothing new stays green for whoever submits next), else one drawn at random so that local runs keep
 *   exploring. fast-check prints the seed and the shrink path of any failure; `FUZZ_SEED=<seed>` replays it.
 * - `FUZZ_RUNS=<factor>` multiplies every property's number of runs, for a long hunt (`FUZZ_RUNS=50`).
 * - Every input that once failed is kept in `regressions/<file>.json` (written at the failure, shrunk) and
 *   replayed first by the same property, forever. An entry with `open` names a bug that is not fixed yet (in code
 *   this suite may not change): it is expected to fail, and fails the suite the day it passes, so that the mark is
 *   removed with the fix.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

const drawn = process.env.CI ? 20260105 : Date.now() % 2 ** 31;
export const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : drawn;
const SCALE = Number(process.env.FUZZ_RUNS ?? 1) || 1;
const KEPT = join(import.meta.dirname, 'regressions');

/**
 * A failure that matches a bug this suite already found and reported in code it may not change (each one kept as
 * an `open` regression): generated runs that hit it again pass, so that a new bug is what makes the suite fail.
 */
export class KnownBug extends Error {
  override readonly name = 'KnownBug';
}

type Kept = { property: string; input: unknown; seed?: number; found?: string; open?: string; note?: string };

export type PropertyOptions = { numRuns: number; timeoutMs?: number };

/**
 * Declares `name` for `file`: a test per kept failing input, then the property itself, whose failure keeps its
 * shrunk counterexample. `check` resolves when the property holds and throws (with the reason) when it does not.
 */
export function fuzz<T>(
  file: string,
  name: string,
  arb: fc.Arbitrary<T>,
  check: (input: T) => Promise<void>,
  o: PropertyOptions
): void {
  const kept = load(file).filter((k) => k.property === name);
  describe(name, () => {
    kept.forEach((k, i) => {
      const title = `kept input ${i + 1}${k.note ? `: ${k.note}` : ''}`;
      if (k.open) {
        it(`${title} (open: ${k.open})`, async () => {
          const fixed = 'fixed? then remove `open` here and its entry in KNOWN';
          await expect(check(decode(k.input) as T), fixed).rejects.toBeInstanceOf(KnownBug);
        });
      } else it(title, () => check(decode(k.input) as T), o.timeoutMs);
    });
    it(`holds for ${o.numRuns * SCALE} generated inputs (seed ${SEED})`, async () => {
      const known = async (input: T) => {
        try {
          await check(input);
        } catch (err) {
          if (!(err instanceof KnownBug)) throw err;
        }
      };
      const numRuns = Math.ceil(o.numRuns * SCALE);
      const details = await fc.check(fc.asyncProperty(arb, known), { seed: SEED, numRuns });
      if (!details.failed) return;
      const input = details.counterexample?.[0];
      const found = new Date().toISOString().slice(0, 10);
      if (input !== undefined) keep(file, { property: name, input: encode(input), seed: SEED, found });
      const e = details.errorInstance;
      const error = e instanceof Error ? e.message : String(e);
      const where = `seed ${details.seed}, path "${details.counterexamplePath}", shrunk ${details.numShrinks} times`;
      throw new Error(
        `Property failed after ${details.numRuns} runs (${where})\n` +
          `Input: ${describeInput(input)}\nError: ${error}\n` +
          `Kept in test/fuzz/regressions/${file}.json; replay the run with FUZZ_SEED=${SEED}`
      );
    }, (o.timeoutMs ?? 30_000) * SCALE);
  });
}

/** An input short enough to read: bytes as text, long runs of one character and long texts cut. */
export function describeInput(value: unknown): string {
  const bytes = (v: Uint8Array) => `<${v.length} bytes> ${Buffer.from(v).toString('utf8')}`;
  const text = JSON.stringify(value, (_k, v: unknown) => (v instanceof Uint8Array ? bytes(v) : v));
  const runs = (text ?? String(value)).replace(/(.)\1{19,}/gs, (run, c: string) => `${c}…(${run.length}×)`);
  return runs.length > 3000 ? `${runs.slice(0, 3000)}…(${runs.length} characters)` : runs;
}

function load(file: string): Kept[] {
  const path = join(KEPT, `${file}.json`);
  return existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as Kept[]) : [];
}

function keep(file: string, entry: Kept): void {
  const all = load(file);
  if (all.some((k) => k.property === entry.property && JSON.stringify(k.input) === JSON.stringify(entry.input))) return;
  writeFileSync(join(KEPT, `${file}.json`), `${JSON.stringify([...all, entry], null, 2)}\n`);
}

/**
 * JSON for what the properties take: bytes become `{ "$utf8": text }` when they are valid UTF-8 (readable in a
 * review), else `{ "$bytes": base64 }`; the rest is plain JSON.
 */
export function encode(value: unknown): unknown {
  if (value instanceof Uint8Array) {
    const text = Buffer.from(value).toString('utf8');
    if (Buffer.from(text, 'utf8').equals(value)) return { $utf8: text };
    return { $bytes: Buffer.from(value).toString('base64') };
  }
  if (Array.isArray(value)) return value.map(encode);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, encode(v)]));
  }
  return value;
}

export function decode(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(decode);
  if (value && typeof value === 'object') {
    const { $bytes, $utf8, $concat } = value as { $bytes?: unknown; $utf8?: unknown; $concat?: unknown };
    if (typeof $bytes === 'string') return new Uint8Array(Buffer.from($bytes, 'base64'));
    if (typeof $utf8 === 'string') return new Uint8Array(Buffer.from($utf8, 'utf8'));
    // Written by hand for inputs too large to keep as they are: `{ "$concat": ["text", ["unit", 5000], "text"] }`.
    if (Array.isArray($concat)) {
      const parts = $concat.map((p) => (Array.isArray(p) ? String(p[0]).repeat(Number(p[1])) : String(p)));
      return new Uint8Array(Buffer.from(parts.join(''), 'utf8'));
    }
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, decode(v)]));
  }
  return value;
}
