import { Hl7Message } from '@medplum/core';
import { describe, expect, it } from 'vitest';
import { parseDestination } from '../../../src/partners-destination.ts';
import { delimitersOf, encodeMessage, HL7_NULL, type OutSegment } from '../../../src/translate/hl7v2/encode.ts';
import { Hl7v2Message } from '../../../src/translate/hl7v2/parse.ts';

const message = (value: string): OutSegment[] => [
  {
    name: 'MSH',
    fields: [
      [['FRONTDESK']],
      undefined,
      [['CARDIOAPP']],
      undefined,
      undefined,
      undefined,
      [['REF', 'I12', 'REF_I12']],
      [['C1']],
      [['P']],
      [['2.5.1']],
    ],
  },
  { name: 'NTE', fields: [[['1']], undefined, [[value]], [['a', ['x', 'y']]]] },
  { name: 'PID', fields: [[['1']], undefined, [['M1'], ['M2']], undefined, [[HL7_NULL]]] },
];

describe('encode (the writer the outbound messages share)', () => {
  const tricky = 'A|B^C~D\\E&F\nG';

  it('escapes every delimiter and line break, and the gateway’s parser reads the value back', () => {
    const text = encodeMessage(message(tricky));
    expect(text.split('\r')[1]).toBe('NTE|1||A\\F\\B\\S\\C\\R\\D\\E\\E\\T\\F\\.br\\G|a^x&y');
    const m = new Hl7v2Message(text);
    expect(m.first('NTE')?.text(3)).toBe(tricky);
    expect(m.first('NTE')?.text(4, 2, 2)).toBe('y');
    expect(m.first('PID')?.count(3)).toBe(2);
    expect(m.first('PID')?.raw(5)).toBe('""');
  });

  it('writes a partner’s own delimiters, read back by @medplum/core and by the gateway', () => {
    const d = delimitersOf('@!$%', '#');
    const text = encodeMessage(message(tricky), d);
    expect(text.startsWith('MSH#@!$%#FRONTDESK##CARDIOAPP')).toBe(true);
    const m = Hl7Message.parse(text.trim());
    expect(m.getSegment('MSH')?.getField(9)?.toString()).toBe('REF@I12@REF_I12');
    expect(new Hl7v2Message(text).first('NTE')?.text(3)).toBe(tricky);
  });

  it('the partners file declares them as `encoding`; anything but five distinct characters is refused', () => {
    const problems: string[] = [];
    const bad = (m: string) => void problems.push(m);
    expect(parseDestination({ host: 'h', port: 2575, encoding: '#@!$%' }, bad)?.delimiters).toMatchObject({
      field: '#',
      component: '@',
    });
    parseDestination({ host: 'h', port: 2575, encoding: '|^^\\&' }, bad);
    parseDestination({ host: 'h', port: 2575, encoding: '|^~' }, bad);
    expect(problems).toHaveLength(2);
    expect(problems[0]).toMatch(/encoding must be MSH-1 and MSH-2/);
  });
});
