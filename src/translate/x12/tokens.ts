/**
 * @module translate/x12/tokens — ASC X12 text to segments, with every delimiter taken from the interchange's own
 * ISA header (X12.5 / 005010 TR3 appendix B), pure.
 *
 * The ISA is fixed width, so its 4th character is the element separator, the character after ISA16 the segment
 * terminator and ISA16 itself the component separator. ISA11 is the repetition separator only from version 00402
 * on: in 00401 it holds the standards id `U`, which must never split data. Real files differ from the standard in
 * ways a gateway must absorb: a UTF-8 BOM, whitespace before `ISA`, CR/LF (or indentation) after each terminator,
 * `\n` or 0x1D as the terminator itself, an ISA padded wrongly. The ISA is therefore read by counting its 16
 * element separators rather than by byte offsets, and what follows a terminator up to the next segment id is
 * dropped. A segment is a string array whose index 0 is its id, so `seg[n]` is element n as the TR3 numbers it.
 */

export type X12Delimiters = {
  element: string;
  component: string;
  /** ISA11 from 00402 on; undefined in 4010 (ISA11 `U`) or when it equals another delimiter. */
  repetition: string | undefined;
  segment: string;
};

/** `seg[0]` is the segment id, `seg[n]` element n (`NM1*IL*1` → `['NM1', 'IL', '1']`). */
export type X12Segment = string[];

export class X12SyntaxError extends Error {
  /** TA1 note code (X12 element I18): 024 invalid interchange content, … */
  readonly code: string;
  constructor(message: string, code = '024') {
    super(message);
    this.code = code;
  }
}

/** Reads the delimiters and splits the text into segments (the ISA included, as segment 0). */
export function tokenize(input: string): { delimiters: X12Delimiters; segments: X12Segment[] } {
  // The BOM as UTF-8 text, or as its three bytes when the gateway read the body as Latin-1 (X12's basic set).
  const text = input.replace(/^(\uFEFF|\xEF\xBB\xBF)/, '').replace(/^\s+/, '');
  if (!text.startsWith('ISA')) throw new X12SyntaxError('The interchange does not start with an ISA segment');
  // No X12 character set (X12.6 basic and extended) has NUL, and PostgreSQL text cannot hold one: an ISA06 with a
  // NUL made the interchange unstorable (HTTP 500). Refused whole, as invalid interchange content (TA1 note 024).
  if (text.includes('\u0000')) {
    throw new X12SyntaxError('The interchange holds a NUL character, which no X12 character set has');
  }
  const element = text.charAt(3);
  if (element === '' || /[A-Za-z0-9\s]/.test(element)) {
    throw new X12SyntaxError('The ISA segment has no element separator after "ISA"');
  }
  let at = 3;
  for (let n = 1; n < 16; n++) {
    at = text.indexOf(element, at + 1);
    if (at < 0) throw new X12SyntaxError('The ISA segment is shorter than its 16 elements');
  }
  const component = text.charAt(at + 1);
  const segment = text.charAt(at + 2);
  if (component === '' || segment === '') throw new X12SyntaxError('The ISA segment is cut short before ISA16');
  if (/[A-Za-z0-9 ]/.test(segment) || segment === element || component === element || component === segment) {
    throw new X12SyntaxError('The ISA segment does not end in a component separator and a distinct segment terminator');
  }
  const isa = text.slice(0, at + 2).split(element);
  const version = isa[12] ?? '';
  const isa11 = isa[11] ?? '';
  const repetition =
    version >= '00402' && isa11.length === 1 && !/[A-Za-z0-9 ]/.test(isa11) && isa11 !== component && isa11 !== segment
      ? isa11
      : undefined;
  const segments: X12Segment[] = [isa];
  for (const raw of text.slice(at + 3).split(segment)) {
    // CR/LF and indentation may follow a terminator; a CR may precede a `\n` terminator. Trimmed by character
    // codes: a regular expression per segment cost a third of the tokenizer.
    let start = 0;
    let end = raw.length;
    while (start < end && (raw.charCodeAt(start) <= 32 || raw.charCodeAt(start) === 0x1d)) start++;
    while (end > start && (raw.charCodeAt(end - 1) === 10 || raw.charCodeAt(end - 1) === 13)) end--;
    const s = start === 0 && end === raw.length ? raw : raw.slice(start, end);
    if (s !== '') segments.push(s.split(element));
  }
  return { delimiters: { element, component, repetition, segment }, segments };
}

/** The repetitions of an element (`1>33>35` with `>` as ISA11 → `['1', '33', '35']`). */
export function repeats(value: string | undefined, d: X12Delimiters): string[] {
  if (!value) return [];
  return d.repetition ? value.split(d.repetition) : [value];
}

/** The components of a composite element (`HC:99213` → `['HC', '99213']`). */
export function components(value: string | undefined, d: X12Delimiters): string[] {
  if (!value) return [];
  return value.split(d.component);
}
