/**
 * @module translate/x12/serialize — segments to X12 text with chosen delimiters, pure.
 *
 * X12 has no escape mechanism (unlike HL7 v2's `\F\`): a value holding a delimiter would silently become two
 * elements, a new segment or a repetition on the payer's side. So a value containing any delimiter is refused
 * with an error naming the segment and element, and the caller (the 270 builder) either cleans the value where
 * the TR3 allows it (names, per CAQH CORE 258) or reports it. Trailing empty elements and components are
 * omitted, as X12.6 requires.
 */
import { X12SyntaxError, type X12Delimiters } from './tokens.ts';

/** A simple element, a composite (its components), or a repeated element (each repetition simple or composite). */
export type X12Value = string | readonly string[] | { readonly repeat: readonly (string | readonly string[])[] };

/** `['NM1', 'IL', '1', …]`: the id first, then the elements in TR3 order. */
export type X12Out = readonly [string, ...X12Value[]];

/** The delimiters this gateway writes: `*`, `:`, `^` and `~`, the usual 005010 set. */
export const DEFAULT_DELIMITERS: X12Delimiters = { element: '*', component: ':', repetition: '^', segment: '~' };

export class X12SerializeError extends X12SyntaxError {}

export function serialize(segments: readonly X12Out[], d: X12Delimiters = DEFAULT_DELIMITERS, newline = ''): string {
  return segments.map((s) => segmentText(s, d)).join(newline) + (segments.length ? newline : '');
}

export function segmentText(s: X12Out, d: X12Delimiters = DEFAULT_DELIMITERS): string {
  const [id, ...values] = s;
  const forbidden = [d.element, d.segment, d.component, d.repetition].filter((x): x is string => !!x);
  const check = (v: string, at: string): string => {
    const bad = forbidden.find((f) => v.includes(f));
    if (bad !== undefined) {
      throw new X12SerializeError(`${at} holds the delimiter "${bad === '\n' ? '\\n' : bad}", which X12 cannot escape`);
    }
    return v;
  };
  const composite = (parts: readonly string[], at: string) =>
    trimEnd(parts.map((p, i) => check(p, `${at}-${i + 1}`))).join(d.component);
  const elements = values.map((v, i) => {
    const at = `${id}${String(i + 1).padStart(2, '0')}`;
    if (typeof v === 'string') return check(v, at);
    if (isRepeat(v)) {
      if (!d.repetition && v.repeat.length > 1) {
        throw new X12SerializeError(`${at} repeats, but no repetition separator`);
      }
      return v.repeat.map((r) => (typeof r === 'string' ? check(r, at) : composite(r, at))).join(d.repetition ?? '');
    }
    return composite(v as readonly string[], at);
  });
  return [check(id, 'segment id'), ...trimEnd(elements)].join(d.element) + d.segment;
}

function isRepeat(v: X12Value): v is { readonly repeat: readonly (string | readonly string[])[] } {
  return typeof v === 'object' && !Array.isArray(v) && 'repeat' in v;
}

function trimEnd(list: string[]): string[] {
  let n = list.length;
  while (n > 0 && list[n - 1] === '') n--;
  return list.slice(0, n);
}

/**
 * A segment read with one set of delimiters, made ready to be written with another: repetitions and composites
 * become structure again, so a set forwarded to a partner is re-delimited rather than copied as text.
 */
export function restructure(seg: readonly string[], d: X12Delimiters): X12Out {
  const [id = '', ...values] = seg;
  const composite = (v: string): string | string[] => (v.includes(d.component) ? v.split(d.component) : v);
  return [
    id,
    ...values.map((v): X12Value => {
      if (d.repetition && v.includes(d.repetition)) return { repeat: v.split(d.repetition).map(composite) };
      return composite(v);
    }),
  ];
}
