/**
 * The X12 serializer: X12 cannot escape a delimiter, so data holding one is refused with its position named,
 * never written; trailing empty elements and components are left out (X12.6).
 */
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_DELIMITERS, serialize, segmentText, X12SerializeError,
} from '../../../src/translate/x12/serialize.ts';
import type { X12Delimiters } from '../../../src/translate/x12/tokens.ts';

describe('X12 serializer', () => {
  it('writes elements with the default delimiters and keeps empty elements in the middle', () => {
    expect(segmentText(['NM1', 'PR', '2', 'ACME HEALTH', '', '', '', '', 'PI', '12345']))
      .toBe('NM1*PR*2*ACME HEALTH*****PI*12345~');
  });

  it('leaves out trailing empty elements', () => {
    expect(segmentText(['HL', '1', '', '20', '1', '', ''])).toBe('HL*1**20*1~');
    expect(segmentText(['NM1', 'IL', '1', 'DOE', '', '', '', ''])).toBe('NM1*IL*1*DOE~');
  });

  it('writes composites and leaves out their trailing empty components', () => {
    expect(segmentText(['EQ', '', ['HC', '99213', '25', '']])).toBe('EQ**HC:99213:25~');
    expect(segmentText(['EQ', '', ['HC', '99213', '', '']])).toBe('EQ**HC:99213~');
  });

  it('writes repeats with the repetition separator, each simple or composite', () => {
    expect(segmentText(['EQ', { repeat: ['1', '33', '35'] }])).toBe('EQ*1^33^35~');
    expect(segmentText(['X', { repeat: [['A', '1'], 'B'] }])).toBe('X*A:1^B~');
    expect(segmentText(['EQ', { repeat: [] }, ['HC', '99213']])).toBe('EQ**HC:99213~');
  });

  it('writes with other delimiters, and a newline after each segment when asked', () => {
    const d: X12Delimiters = { element: '|', component: '>', repetition: '!', segment: '\n' };
    expect(serialize([['EQ', { repeat: ['1', '33'] }, ['HC', '99213']], ['SE', '2', '0001']], d))
      .toBe('EQ|1!33|HC>99213\nSE|2|0001\n');
    expect(serialize([['ST', '270', '0001'], ['SE', '2', '0001']], DEFAULT_DELIMITERS, '\r\n'))
      .toBe('ST*270*0001~\r\nSE*2*0001~\r\n');
  });

  it.each([
    ['an element separator in an element', ['NM1', 'IL', '1', 'O*BRIEN'], 'NM103', '*'],
    ['a segment terminator in an element', ['REF', '6P', 'GRP~1'], 'REF02', '~'],
    ['a component separator in a simple element', ['TRN', '1', 'A:B', '9FRONTDESK'], 'TRN02', ':'],
    ['a repetition separator in a simple element', ['NM1', 'IL', '1', 'DOE', 'JANE', '', '', '', 'MI', 'AB^12'],
      'NM109', '^'],
    ['a delimiter in a component', ['EQ', '', ['HC', '992*13']], 'EQ02-2', '*'],
    ['a delimiter in a repetition', ['EQ', { repeat: ['1', '3:3'] }], 'EQ01', ':'],
    ['a delimiter in a component of a repetition', ['X', { repeat: ['A', ['B', 'C~']] }], 'X01-2', '~'],
  ] as const)('refuses %s, naming the position', (_what, segment, position, delimiter) => {
    let caught: unknown;
    try {
      segmentText(segment);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(X12SerializeError);
    expect((caught as Error).message).toBe(`${position} holds the delimiter "${delimiter}", which X12 cannot escape`);
  });

  it('names a newline terminator readably', () => {
    const d: X12Delimiters = { ...DEFAULT_DELIMITERS, segment: '\n' };
    expect(() => segmentText(['NM1', 'IL', '1', 'DOE\nJANE'], d)).toThrow('NM103 holds the delimiter "\\n"');
  });

  it('refuses a repeat when there is no repetition separator (4010)', () => {
    const d: X12Delimiters = { ...DEFAULT_DELIMITERS, repetition: undefined };
    expect(() => segmentText(['EQ', { repeat: ['1', '33'] }], d)).toThrow('EQ01 repeats, but no repetition separator');
    expect(segmentText(['EQ', { repeat: ['30'] }], d)).toBe('EQ*30~');
  });
});
