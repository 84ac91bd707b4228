/**
 * @module translate/hl7v2/parse — an HL7 v2 message as segments → fields → repetitions → components →
 * sub-components, with the message's own delimiters (MSH-1, MSH-2) and escape sequences decoded (v2.5 §2.7).
 * `\Xhh..\` bytes are read in the message's character set: the partner's, when configured, else MSH-18.
 *
 * Written here rather than taken from `@medplum/core` `Hl7Message` or `node-hl7-client`, which do not decode
 * escapes or tell `""` (delete this value) from an empty field (no information).
 */
import { decodeAs } from './charset.ts';
import { fieldsOf, readHeader, splitSegments, type Delimiters } from './header.ts';

/** `""` in a field: the sender asks to delete the stored value (v2.5 §2.5.3). */
export const DELETE = Symbol('delete');

export type Hl7Value = string | typeof DELETE | undefined;

export class Segment {
  readonly name: string;
  /** fields[n] is field n (1-based, as in `PID-3`); for MSH, fields[1] is the field separator. */
  readonly fields: string[];
  private readonly d: Delimiters;
  /** HL7 table 0211 name of the character set `\Xhh..\` escapes are read in; none: UTF-8, else ISO 8859-1. */
  private readonly charset: string | undefined;
  /** Field numbers a translation has looked at: the others that hold a value were not mapped. */
  private readonly read = new Set<number>();
  /**
   * Repetitions of each field, split once: `get` is called for every repetition, and splitting the field anew
   * each time made a field of n repetitions cost n² (6 677 repetitions in 107 KB took 10 s, the event loop held).
   */
  private readonly split = new Map<number, string[]>();

  constructor(raw: string, d: Delimiters, charset?: string) {
    this.d = d;
    this.charset = charset;
    this.fields = fieldsOf(raw, d.field);
    this.name = this.fields[0] ?? '';
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
  repetitions(n: number): readonly string[] {
    const f = this.raw(n);
    let reps = this.split.get(n);
    if (!reps) this.split.set(n, (reps = f === '' ? [] : f.split(this.d.repetition)));
    return reps;
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
    return unescape(sub, this.d, this.charset);
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

export type MessageOptions = {
  /** The sending partner's configured character set (HL7 table 0211), for senders whose MSH-18 is missing or wrong. */
  charset?: string;
};

export class Hl7v2Message {
  readonly segments: Segment[];
  readonly delimiters: Delimiters;
  /** The character set of the message (HL7 table 0211): the partner's, else MSH-18; undefined when neither says. */
  readonly charset: string | undefined;

  constructor(text: string, options: MessageOptions = {}) {
    const header = readHeader(text);
    this.delimiters = header.delimiters;
    this.charset = options.charset || header.characterSet;
    this.segments = splitSegments(text).map((s) => new Segment(s, header.delimiters, this.charset));
  }

  first(name: string): Segment | undefined {
    return this.segments.find((s) => s.name === name);
  }

  all(name: string): Segment[] {
    return this.segments.filter((s) => s.name === name);
  }
}

/**
 * Decodes `\F\ \S\ \T\ \R\ \E\ \P\ \Xhh..\ \.br\` with the message's own escape character (v2.5 §2.7.4–2.7.6),
 * hex bytes in `charset` (HL7 table 0211). Leniently, as real feeds need: a sequence it does not know (`\temp\`
 * of `C:\temp\x`), an invalid hex escape (`\XE\`) and a lone escape character are kept as written.
 */
export function unescape(s: string, d: Delimiters, charset?: string): string {
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
    out += escaped(seq, d, charset) ?? s.slice(i, end + 1);
    i = end;
  }
  return out;
}

/** The text of one escape sequence (between the escape characters), undefined when it is not one. */
function escaped(seq: string, d: Delimiters, charset: string | undefined): string | undefined {
  switch (seq) {
    case 'F':
      return d.field;
    case 'S':
      return d.component;
    case 'T':
      return d.subcomponent;
    case 'R':
      return d.repetition;
    case 'E':
      return d.escape;
    case 'P':
      return d.truncation;
    case '.br':
      return '\n';
    case 'H':
    case 'N':
      return ''; // highlighting on and off: no text
  }
  if (/^\.(sp|fi|nf|in|ti|sk|ce)( ?[+-]?\d+)?$/.test(seq)) return ''; // formatted text commands (FT): no text
  const hex = /^X((?:[0-9A-Fa-f]{2})+)$/.exec(seq)?.[1];
  if (hex === undefined) return undefined;
  const text = decodeAs(Buffer.from(hex, 'hex'), charset).text;
  // `\X00\` is no character (PostgreSQL text cannot hold a NUL either): kept as written, like an invalid escape.
  return text.includes('\u0000') ? undefined : text;
}
