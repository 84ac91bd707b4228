/**
 * @module translate/hl7v2/encode — writes HL7 v2 messages: segments of fields → repetitions → components →
 * sub-components as text, with the receiving partner's delimiters and every delimiter inside a value escaped
 * (v2.5 §2.7.4: `\F\ \S\ \R\ \E\ \T\`, line breaks as `\.br\`), the inverse of ./parse.ts.
 *
 * Values are given unescaped; empty components and fields at the end of their parent are left out, as senders do.
 * A value `""` (the HL7 null, "delete what is stored") is written as two double quotes, unescaped.
 */
import type { Delimiters } from './header.ts';

/** A component: its text, or its sub-components. */
export type Component = string | undefined | (string | undefined)[];
/** One repetition of a field: its components, component 1 first. */
export type Repetition = Component[];
/** A field: its repetitions (most fields have one). */
export type Field = Repetition[];
/** A segment to write: `fields[0]` is field 1 (for MSH, MSH-3: MSH-1 and MSH-2 come from the delimiters). */
export type OutSegment = { name: string; fields: (Field | undefined)[] };

/**
 * The HL7 null: tells the receiver to delete what it stores for the field. HL7 v2 has no escape for a double
 * quote, so a value that is exactly `""` reads as this null whoever wrote it.
 */
export const HL7_NULL = '""';

export const STANDARD_DELIMITERS: Delimiters = {
  field: '|',
  component: '^',
  repetition: '~',
  escape: '\\',
  subcomponent: '&',
};

/** MSH-2 (`^~\&`) → the delimiters; the field separator is MSH-1. */
export function delimitersOf(encoding: string, field = '|'): Delimiters {
  const [component, repetition, escape, subcomponent] = [...encoding];
  const distinct = new Set([field, ...encoding]).size === encoding.length + 1;
  if (!component || !repetition || !escape || !subcomponent || !distinct || /[A-Za-z0-9\s]/.test(field + encoding)) {
    throw new Error(`"${field}${encoding}" is not a set of five distinct HL7 delimiters`);
  }
  return { field, component, repetition, escape, subcomponent };
}

/** A field of one repetition of one component: the usual case. */
export function text(value: string | undefined): Field | undefined {
  return value === undefined || value === '' ? undefined : [[value]];
}

/** The message as text, segments ended by CR (v2.5 §2.7). */
export function encodeMessage(segments: OutSegment[], d: Delimiters = STANDARD_DELIMITERS): string {
  return segments.map((s) => encodeSegment(s, d)).join('\r') + '\r';
}

export function encodeSegment(s: OutSegment, d: Delimiters): string {
  const fields = s.fields.map((f) =>
    f
      ? trimJoin(
          f.map((r) => encodeRepetition(r, d)),
          d.repetition
        )
      : ''
  );
  if (s.name === 'MSH') {
    const encoding = `${d.component}${d.repetition}${d.escape}${d.subcomponent}${d.truncation ?? ''}`;
    return `MSH${d.field}${encoding}${d.field}${fields.join(d.field)}`.replace(
      new RegExp(`${reEscape(d.field)}+$`),
      ''
    );
  }
  return trimJoin([s.name, ...fields], d.field);
}

function encodeRepetition(r: Repetition, d: Delimiters): string {
  return trimJoin(
    r.map((c) =>
      Array.isArray(c)
        ? trimJoin(
            c.map((v) => escapeValue(v, d)),
            d.subcomponent
          )
        : escapeValue(c, d)
    ),
    d.component
  );
}

/** Joins parts, leaving out the empty ones at the end. */
function trimJoin(parts: string[], sep: string): string {
  let n = parts.length;
  while (n > 0 && parts[n - 1] === '') n--;
  return parts.slice(0, n).join(sep);
}

/** A value with its delimiters escaped; line breaks become `\.br\`. */
export function escapeValue(v: string | undefined, d: Delimiters): string {
  if (v === undefined) return '';
  if (v === HL7_NULL) return v;
  const e = d.escape;
  let out = '';
  for (let i = 0; i < v.length; i++) {
    const ch = v[i] as string;
    if (ch === e) out += `${e}E${e}`;
    else if (ch === d.field) out += `${e}F${e}`;
    else if (ch === d.component) out += `${e}S${e}`;
    else if (ch === d.repetition) out += `${e}R${e}`;
    else if (ch === d.subcomponent) out += `${e}T${e}`;
    else if (ch === d.truncation) out += `${e}P${e}`;
    else if (ch === '\r' || ch === '\n') {
      if (ch === '\r' && v[i + 1] === '\n') i++;
      out += `${e}.br${e}`;
    } else out += ch;
  }
  return out;
}

function reEscape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
