/**
 * The tokenizer against the ways real interchanges differ from the standard. The edge files in
 * test/fixtures/x12/edge/ are byte transformations of the stupidedi subscriber 270 (see that folder's README), so
 * each must give exactly the segments of the original.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { components, repeats, tokenize, X12SyntaxError } from '../../../src/translate/x12/tokens.ts';

const X12 = join(import.meta.dirname, '../../fixtures/x12');
const read = (name: string) => readFileSync(join(X12, name), 'latin1');
const utf8 = (name: string) => readFileSync(join(X12, name), 'utf8');

const base = tokenize(read('270-subscriber-request-by-clinic.edi'));

describe('X12 tokenizer', () => {
  it('takes every delimiter from the ISA itself', () => {
    expect(base.delimiters).toEqual({ element: '*', component: ':', repetition: '>', segment: '~' });
    expect(base.segments).toHaveLength(17);
    expect(base.segments[0]?.[13]).toBe('000010216');
    expect(base.segments.at(-1)).toEqual(['IEA', '1', '000010216']);
    expect(base.segments.find((s) => s[0] === 'NM1' && s[1] === 'IL'))
      .toEqual(['NM1', 'IL', '1', 'SMITH', 'ROBERT', '', '', '', 'MI', '11122333301']);
  });

  it.each([
    ['a UTF-8 BOM before ISA', 'edge/bom.edi', utf8],
    ['CRLF after each terminator', 'edge/crlf.edi', read],
    ['indentation and line breaks between segments', 'edge/indented.edi', read],
  ])('reads %s as the plain interchange', (_what, file, load) => {
    const t = tokenize(load(file));
    expect(t.delimiters).toEqual(base.delimiters);
    expect(t.segments).toEqual(base.segments);
  });

  it('takes `\\n` as the terminator when the ISA ends with it', () => {
    const t = tokenize(read('edge/newline-terminator.edi'));
    expect(t.delimiters.segment).toBe('\n');
    expect(t.segments).toEqual(base.segments);
  });

  it('takes 0x1D as the terminator, with a CRLF after each', () => {
    const t = tokenize(read('edge/gs-terminator-crlf.edi'));
    expect(t.delimiters.segment).toBe('\x1d');
    expect(t.segments).toEqual(base.segments);
    expect(t.segments.every((s) => s.every((e) => !/[\r\n\x1d]/.test(e)))).toBe(true);
  });

  it('does not take ISA11 `U` of a 4010 interchange as a repetition separator', () => {
    const t = tokenize(read('edge/4010-u.edi'));
    expect(t.segments[0]?.[11]).toBe('U');
    expect(t.segments[0]?.[12]).toBe('00401');
    expect(t.delimiters.repetition).toBeUndefined();
    const nm1 = t.segments.find((s) => s[0] === 'NM1' && s[1] === 'IL');
    expect(nm1?.[9]).toBe('111U2333301');
    expect(repeats(nm1?.[9], t.delimiters)).toEqual(['111U2333301']);
    expect(t.segments.find((s) => s[0] === 'ST')).toEqual(['ST', '270', '1234']);
  });

  it('reads an ISA padded wrongly by counting its separators, not by offsets', () => {
    const t = tokenize(read('edge/isa-padding.edi'));
    expect(t.delimiters).toEqual(base.delimiters);
    expect(t.segments[0]?.[2]).toBe('        ');
    expect(t.segments[0]?.[6]).toBe('CLINIC');
    expect(t.segments.slice(1)).toEqual(base.segments.slice(1));
  });

  it('refuses text that does not start with an ISA', () => {
    expect(() => tokenize(read('edge/no-isa.edi'))).toThrow(X12SyntaxError);
    expect(() => tokenize(read('edge/no-isa.edi'))).toThrow(/does not start with an ISA/);
    expect(() => tokenize('')).toThrow(/does not start with an ISA/);
  });

  it('refuses an ISA cut short, with TA1 note code 024', () => {
    let caught: unknown;
    try {
      tokenize(read('edge/cut-isa.edi'));
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(X12SyntaxError);
    expect((caught as X12SyntaxError).message).toMatch(/shorter than its 16 elements/);
    expect((caught as X12SyntaxError).code).toBe('024');
  });

  it('refuses an ISA whose terminator is a letter', () => {
    const text = read('270-subscriber-request-by-clinic.edi').replace('*T*:~', '*T*:A');
    expect(() => tokenize(text)).toThrow(/distinct segment terminator/);
  });

  it('splits repetitions and components with the interchange delimiters', () => {
    expect(repeats('1>33>35', base.delimiters)).toEqual(['1', '33', '35']);
    expect(repeats('', base.delimiters)).toEqual([]);
    expect(components('HC:99213:25', base.delimiters)).toEqual(['HC', '99213', '25']);
    expect(components(undefined, base.delimiters)).toEqual([]);
  });
});
