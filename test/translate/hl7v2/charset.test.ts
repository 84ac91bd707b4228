/**
 * MSH-18 character sets (HL7 table 0211) and a partner's override, for the bytes of a message (../charset.ts) and for
 * its `\Xhh..\` escapes (../parse.ts): each test gives text that only the rule it names produces (the lenient
 * fallback, invalid UTF-8 read as Latin-1, would give something else).
 */
import type { Patient } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { registrationPlan } from '../../../src/translate/hl7v2/adt.ts';
import { decodeHl7 } from '../../../src/translate/hl7v2/charset.ts';
import { readHeader } from '../../../src/translate/hl7v2/header.ts';
import { Hl7v2Message } from '../../../src/translate/hl7v2/parse.ts';
import { translate } from '../../../src/translate/hl7v2/translate.ts';

function patientOf(text: string): Patient {
  const plan = registrationPlan(new Hl7v2Message(text), { timeZone: 'UTC' });
  return plan.entries.find((e) => e.resource.resourceType === 'Patient')!.resource as Patient;
}

describe('MSH-18 character sets', () => {
  const msg = (charset: string) => `MSH|^~\\&|APP|FAC|FD|FD|20260301||ADT^A04|C1|P|2.5.1||||||${charset}\rPID|1||M1^^^FAC^MR||Muñoz^José\r`;
  it('reads ISO 8859-1 when MSH-18 says 8859/1', () => {
    const d = decodeHl7(Buffer.from(msg('8859/1'), 'latin1'));
    expect(d.charset).toBe('ISO 8859-1');
    expect(patientOf(d.text).name?.[0]).toEqual({ family: 'Muñoz', given: ['José'] });
  });
  it('reads ISO 8859-1 when MSH-18 says 8859/1 even where the bytes would be valid UTF-8 (C3 A9 is Ã©)', () => {
    const d = decodeHl7(Buffer.from(msg('8859/1'), 'utf8'));
    expect(d.charset).toBe('ISO 8859-1');
    expect(patientOf(d.text).name?.[0]).toEqual({ family: 'MuÃ±oz', given: ['JosÃ©'] });
  });
  it.each([
    ['8859/15', 0xa4, '€'],
    ['8859/2', 0xb1, 'ą'],
  ])('reads %s where its bytes differ from Latin-1', (charset, byte, char) => {
    const bytes = Buffer.concat([Buffer.from(msg(charset).replace('Muñoz', 'Price'), 'latin1'), Buffer.from([byte])]);
    const d = decodeHl7(bytes);
    expect(d.text.endsWith(`\r${char}`)).toBe(true);
    expect(d.problem).toBeUndefined();
  });
  it('reads UTF-8 when MSH-18 says UNICODE UTF-8', () => {
    const d = decodeHl7(Buffer.from(msg('UNICODE UTF-8'), 'utf8'));
    expect(patientOf(d.text).name?.[0]?.family).toBe('Muñoz');
    expect(d.problem).toBeUndefined();
  });
  it('reads ASCII', () => {
    const d = decodeHl7(Buffer.from(msg('ASCII').replace('ñ', 'n').replace('é', 'e'), 'ascii'));
    expect(patientOf(d.text).name?.[0]?.family).toBe('Munoz');
  });
  it('without MSH-18: UTF-8 when the bytes are UTF-8, else ISO 8859-1', () => {
    expect(patientOf(decodeHl7(Buffer.from(msg(''), 'utf8')).text).name?.[0]?.family).toBe('Muñoz');
    expect(patientOf(decodeHl7(Buffer.from(msg(''), 'latin1')).text).name?.[0]?.family).toBe('Muñoz');
  });
  it('a partner’s configured character set wins over a wrong MSH-18', () => {
    const bytes = Buffer.from(msg('UNICODE UTF-8'), 'latin1'); // says UTF-8, is Latin-1
    expect(decodeHl7(bytes).problem).toMatch(/not valid UTF-8/);
    expect(patientOf(decodeHl7(bytes, '8859/1').text).name?.[0]?.family).toBe('Muñoz');
  });
  it('a partner’s configured 8859/1 reads bytes that are valid UTF-8 as Latin-1', () => {
    const d = decodeHl7(Buffer.from(msg('UNICODE UTF-8'), 'utf8'), '8859/1');
    expect(d.charset).toBe('ISO 8859-1');
    expect(patientOf(d.text).name?.[0]).toEqual({ family: 'MuÃ±oz', given: ['JosÃ©'] });
  });
  describe('with a leading UTF-8 BOM', () => {
    const bom = (text: string, encoding: BufferEncoding) => Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text, encoding)]);
    it('drops the BOM and reads MSH-18 8859/1 bytes that are not UTF-8 as Latin-1', () => {
      const d = decodeHl7(bom(msg('8859/1'), 'latin1'));
      expect(d.text.startsWith('MSH|')).toBe(true);
      expect(readHeader(d.text).controlId).toBe('C1');
      expect(patientOf(d.text).name?.[0]).toEqual({ family: 'Muñoz', given: ['José'] });
      expect(d.problem).toBeUndefined();
    });
    it('reads valid UTF-8 as UTF-8 when MSH-18 says 8859/1, and reports it', () => {
      const d = decodeHl7(bom(msg('8859/1'), 'utf8'));
      expect(d.charset).toBe('UTF-8');
      expect(patientOf(d.text).name?.[0]).toEqual({ family: 'Muñoz', given: ['José'] });
      expect(d.problem).toMatch(/MSH-18 says 8859\/1 but the message starts with a UTF-8 byte order mark/);
    });
    it('leaves a partner’s configured character set in force', () => {
      const d = decodeHl7(bom(msg('8859/1'), 'utf8'), '8859/1');
      expect(d.text.startsWith('MSH|')).toBe(true);
      expect(patientOf(d.text).name?.[0]?.family).toBe('MuÃ±oz');
      expect(d.problem).toBeUndefined();
    });
  });
  it('reports a character set it does not know', () => {
    expect(decodeHl7(Buffer.from(msg('KLINGON'))).problem).toMatch(/KLINGON/);
  });
});

describe('\\Xhh..\\ escapes are bytes in the message’s character set', () => {
  const msg = (charset: string, name: string) =>
    `MSH|^~\\&|APP|FAC|FD|FD|20260301||ADT^A04^ADT_A01|C1|P|2.5.1||||||${charset}\rPID|1||M1^^^FAC^MR||${name}^Jane`;
  const family = (m: Hl7v2Message) => m.first('PID')!.text(5);
  it('reads them in ISO 8859-1 when MSH-18 says 8859/1', () => {
    expect(family(new Hl7v2Message(msg('8859/1', 'Mu\\XF1\\oz')))).toBe('Muñoz');
    expect(family(new Hl7v2Message(msg('8859/1', 'Jos\\XC3A9\\')))).toBe('JosÃ©'); // two Latin-1 characters, not é
  });
  it('reads them in UTF-8 when MSH-18 says UNICODE UTF-8', () => {
    expect(family(new Hl7v2Message(msg('UNICODE UTF-8', 'Jos\\XC3A9\\')))).toBe('José');
  });
  it('reads them in ISO 8859-15 when MSH-18 says 8859/15 (0xA4 is €, ¤ in Latin-1)', () => {
    expect(family(new Hl7v2Message(msg('8859/15', '\\XA4\\5')))).toBe('€5');
  });
  it('reads them in the partner’s configured character set over MSH-18', () => {
    const text = msg('UNICODE UTF-8', 'Jos\\XC3A9\\');
    expect(new Hl7v2Message(text, { charset: '8859/1' }).charset).toBe('8859/1');
    expect(family(new Hl7v2Message(text, { charset: '8859/1' }))).toBe('JosÃ©');
    const plan = translate(text, { timeZone: 'UTC', charset: '8859/1' });
    const patient = plan.entries.find((e) => e.resource.resourceType === 'Patient')!.resource as Patient;
    expect(patient.name?.[0]?.family).toBe('JosÃ©');
  });
});
