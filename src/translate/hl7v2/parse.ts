/**
 * @module translate/hl7v2/parse — an HL7 v2 message as segments → fields → repetitions → components →
 * sub-components, with the message's own delimiters (MSH-1, MSH-2) and escape sequences decoded (v2.5 §2.7).
 *
 * Written here rather than taken from `@medplum/core` `Hl7Message` or `node-hl7-client`, which do not decode
 * escapes or tell `""` (delete this value) from an empty field (no information).
 */
import { readHeader, splitSegments, type Delimiters } from './header.ts';

/** `""` in a field: the sender asks to delete the stored value (v2.5 §2.5.3). */
export const DELETE = Symbol('delete');

export type Hl7Value = string | typeof DELETE | undefined;

export class Segment {
  readonly name: string;
  /** fields[n] is field n (1-based, as in `PID-3`); for MSH, fields[1] is the field separator. */
  readonly fields: string[];
  private readonly d: Delimiters;
  /** Field numbers a translation has looked at: the others that hold a value were not mapped. */
  private readonly read = new Set<number>();

  constructor(raw: string, d: Delimiters) {
    this.d = d;
    const parts = raw.split(d.field);
    this.name = parts[0] ?? '';
    this.fields = this.name === 'MSH' ? ['MSH', d.field, ...parts.slice(1)] : parts;
  }

  /** Raw (still escaped) text of field `n`. */
  raw(n: number): string {
    this.read.add(n);
    return this.fields[n] ?? '';
  }

  /** Fields holding a value that no translation read (`PID-10`): reported so a partner's mapping can grow. */
  unread(): string[] {
    const out: string[] = [];
    const first = this.name === 'MSH' ? 3 : 1;
    for (let n = first; n < this.fields.length; n++) {
      if (!this.read.has(n) && (this.fields[n] ?? '') !== '') out.push(`${this.name}-${n}`);
    }
    return out;
  }

  /** Repetitions of field `n`, each split into components (raw). */
  repetitions(n: number): string[] {
    const f = this.raw(n);
    return f === '' ? [] : f.split(this.d.repetition);
  }

  /**
   * One value: field `n`, component `c` (1-based), sub-component `s`, repetition `r` (0-based) — decoded.
   * `DELETE` for `""`, undefined when empty.
   */
  get(n: number, c = 1, s = 1, r = 0): Hl7Value {
    const rep = this.repetitions(n)[r];
    if (rep === undefined) return undefined;
    if (rep === '""') return DELETE;
    const comp = rep.split(this.d.component)[c - 1];
    if (comp === undefined) return undefined;
    const sub = comp.split(this.d.subcomponent)[s - 1];
    if (sub === undefined || sub === '') return undefined;
    if (sub === '""') return DELETE;
    return unescape(sub, this.d);
  }

  /** Like `get` but only text: `DELETE` and empty both give undefined. */
  text(n: number, c = 1, s = 1, r = 0): string | undefined {
    const v = this.get(n, c, s, r);
    return typeof v === 'string' ? v : undefined;
  }

  /** Components of one repetition as a decoded accessor: `comp(1)` is the first component. */
  rep(n: number, r: number): (c: number, s?: number) => string | undefined {
    return (c, s = 1) => this.text(n, c, s, r);
  }

  count(n: number): number {
    return this.repetitions(n).length;
  }
}

export class Hl7v2Message {
  readonly segments: Segment[];
  readonly delimiters: Delimiters;

  constructor(text: string) {
    const header = readHeader(text);
    this.delimiters = header.delimiters;
    this.segments = splitSegments(text).map((s) => new Segment(s, header.delimiters));
  }

  first(name: string): Segment | undefined {
    return this.segments.find((s) => s.name === name);
  }

  all(name: string): Segment[] {
    return this.segments.filter((s) => s.name === name);
  }
}

/** Decodes `\F\ \S\ \T\ \R\ \E\ \Xhh..\ \.br\` with the message's own escape character (v2.5 §2.7.4–2.7.6). */
export function unescape(s: string, d: Delimiters): string {
  const e = d.escape;
  if (!s.includes(e)) return s;
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const ch = s[i] as string;
    if (ch !== e) {
      out += ch;
      continue;
    }
    const end = s.indexOf(e, i + 1);
    if (end < 0) {
      out += s.slice(i);
      break;
    }
    const seq = s.slice(i + 1, end);
    switch (seq) {
      case 'F':
        out += d.field;
        break;
      case 'S':
        out += d.component;
        break;
      case 'T':
        out += d.subcomponent;
        break;
      case 'R':
        out += d.repetition;
        break;
      case 'E':
        out += e;
        break;
      case '.br':
        out += '\n';
        break;
      default:
        if (/^X([0-9A-Fa-f]{2})+$/.test(seq)) out += Buffer.from(seq.slice(1), 'hex').toString('utf8');
        else out += ''; // unknown formatting sequences (\H\, \N\, \.sp\ …) carry no text
    }
    i = end;
  }
  return out;
}
