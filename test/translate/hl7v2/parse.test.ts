/**
 * Every parsing rule of issue 5 point 2, on the pure parser: delimiters from MSH-1/2, escapes, repetitions,
 * components and sub-components, segment ends, BOM, empty vs `""`, trailing fields, Z-segments reported as unmapped,
 * batches, versions 2.3–2.8, time zones. MSH-18 character sets and a partner's override: ./charset.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { registrationPlan } from '../../../src/translate/hl7v2/adt.ts';
import { splitBatch } from '../../../src/translate/hl7v2/batch.ts';
import { decodeHl7 } from '../../../src/translate/hl7v2/charset.ts';
import { addMinutes, dateTime, instant } from '../../../src/translate/hl7v2/datatypes.ts';
import { fieldsOf, peekHeader, readHeader } from '../../../src/translate/hl7v2/header.ts';
import { DELETE, Hl7v2Message } from '../../../src/translate/hl7v2/parse.ts';
import { OperationOutcomeError } from '@medplum/core';
import type { OperationOutcome, Patient } from '@medplum/fhirtypes';

const MSH = 'MSH|^~\\&|APP|FAC|FD|FD|20260301101500||ADT^A04^ADT_A01|C1|P|2.5.1';

function patientOf(text: string, timeZone = 'UTC'): Patient {
  const plan = registrationPlan(new Hl7v2Message(text), { timeZone });
  return plan.entries.find((e) => e.resource.resourceType === 'Patient')!.resource as Patient;
}

/** The OperationOutcome a function throws (undefined when it throws none, or something else). */
function outcomeOf(fn: () => unknown): OperationOutcome | undefined {
  try {
    fn();
  } catch (err) {
    if (err instanceof OperationOutcomeError) return err.outcome;
  }
  return undefined;
}

describe('delimiters come from MSH-1 and MSH-2', () => {
  it('reads a message written with # as field separator and other encoding characters', () => {
    const text = 'MSH#$*!@#APP#FAC#FD#FD#20260301##ADT$A04#C1#P#2.5.1\rPID#1##M1$$$FAC$MR*M2$$$OTHER#' + '#Doe$Jane@Ann##19800101#F';
    const h = readHeader(text);
    expect(h.delimiters).toEqual({ field: '#', component: '$', repetition: '*', escape: '!', subcomponent: '@' });
    expect(h.code).toBe('ADT');
    const pid = new Hl7v2Message(text).first('PID')!;
    expect(pid.text(3, 1, 1, 1)).toBe('M2');
    expect(pid.text(5, 2, 1)).toBe('Jane');
    expect(pid.text(5, 2, 2)).toBe('Ann');
  });

  it('refuses delimiters that are letters or repeated', () => {
    expect(() => readHeader('MSHA^~\\&|x')).toThrow(/distinct/);
    expect(() => readHeader('MSH|^^\\&|x')).toThrow(/distinct/);
    expect(() => readHeader('PID|1')).toThrow(/MSH/);
  });

  it('reads an old feed’s MSH-2 of three characters, sub-components then separated by &', () => {
    const text = 'MSH|^~\\|APP|FAC|FD|FD|20260301||ADT^A04|C1|P|2.3\rPID|1||M1^^^FAC&1.2.3&ISO^MR||Doe^Jane';
    const h = readHeader(text);
    expect(h.delimiters).toEqual({ field: '|', component: '^', repetition: '~', escape: '\\', subcomponent: '&' });
    expect([h.code, h.trigger, h.controlId, h.version]).toEqual(['ADT', 'A04', 'C1', '2.3']);
    const pid = new Hl7v2Message(text).first('PID')!;
    expect(pid.text(3, 4, 2)).toBe('1.2.3');
    expect(pid.text(5, 2)).toBe('Jane');
  });

  it('reads v2.7’s fifth encoding character, the truncation character, written \\P\\ in data', () => {
    const text = 'MSH|^~\\&#|APP|FAC|FD|FD|20260301||ADT^A04^ADT_A01|C1|P|2.7\rNTE|1||Room #4^cut\\P\\';
    const h = readHeader(text);
    expect(h.delimiters).toEqual({ field: '|', component: '^', repetition: '~', escape: '\\', subcomponent: '&', truncation: '#' });
    expect([h.code, h.trigger, h.controlId, h.version]).toEqual(['ADT', 'A04', 'C1', '2.7']);
    const nte = new Hl7v2Message(text).first('NTE')!;
    expect(nte.text(3, 1)).toBe('Room #4');
    expect(nte.text(3, 2)).toBe('cut#');
  });

  it('refuses an MSH-2 of fewer than 3 or more than 5 characters', () => {
    expect(() => readHeader('MSH|^~|APP')).toThrow(/MSH-2 holds 2 encoding characters/);
    expect(() => readHeader('MSH|^~\\&#!|APP')).toThrow(/MSH-2 holds 6 encoding characters/);
  });
});

describe('escape sequences', () => {
  const seg = (field: string) => new Hl7v2Message(`${MSH}\rNTE|1||${field}`).first('NTE')!;
  it.each([
    ['a\\F\\b', 'a|b'],
    ['a\\S\\b', 'a^b'],
    ['a\\T\\b', 'a&b'],
    ['a\\R\\b', 'a~b'],
    ['a\\E\\b', 'a\\b'],
    ['line\\.br\\next', 'line\nnext'],
    ['caf\\XC3A9\\', 'café'],
    ['\\H\\bold\\N\\', 'bold'],
    ['lone \\ backslash', 'lone \\ backslash'],
  ])('%s → %s', (raw, decoded) => expect(seg(raw).text(3)).toBe(decoded));

  it.each([
    ['C:\\temp\\x', 'C:\\temp\\x'],
    ['odd \\XE\\ hex', 'odd \\XE\\ hex'],
    ['not \\XZZ\\ hex', 'not \\XZZ\\ hex'],
    ['empty \\X\\ hex', 'empty \\X\\ hex'],
    ['local \\Zfoo\\ escape', 'local \\Zfoo\\ escape'],
    ['no truncation character: \\P\\', 'no truncation character: \\P\\'],
  ])('keeps a sequence it does not know as written: %s', (raw, kept) => expect(seg(raw).text(3)).toBe(kept));

  it('decodes escapes with the message’s own escape character', () => {
    const m = new Hl7v2Message('MSH|^~!&|A|F|B|G|20260301||ADT^A04|C|P|2.5\rNTE|1||x!F!y');
    expect(m.first('NTE')!.text(3)).toBe('x|y');
  });
});

describe('repetitions, components, sub-components, empty and trailing fields', () => {
  const m = new Hl7v2Message(`${MSH}\rPID|1||A1^^^FAC&1.2.3&ISO^MR~B2^^^OTHER^PI||Doe^Jane~Roe^Janie^^^^^M|||||||||||`);
  const pid = m.first('PID')!;
  it('reads each repetition', () => {
    expect(pid.count(3)).toBe(2);
    expect(pid.text(3, 1, 1, 1)).toBe('B2');
    expect(pid.text(5, 1, 1, 1)).toBe('Roe');
  });
  it('reads sub-components', () => {
    expect(pid.text(3, 4, 2)).toBe('1.2.3');
    expect(pid.text(3, 4, 3)).toBe('ISO');
  });
  it('gives undefined for empty, missing and trailing fields', () => {
    expect(pid.get(4)).toBeUndefined();
    expect(pid.get(15)).toBeUndefined();
    expect(pid.get(99)).toBeUndefined();
    expect(pid.text(5, 9, 1, 7)).toBeUndefined();
  });
});

describe('"" deletes, empty keeps', () => {
  const text = `${MSH}\rPID|1||M1^^^FAC^MR||Doe^Jane||""|F|||""`;
  it('tells "" from an empty field', () => {
    const pid = new Hl7v2Message(text).first('PID')!;
    expect(pid.get(7)).toBe(DELETE);
    expect(pid.get(6)).toBeUndefined();
  });
  it('turns "" into a removal in the plan and leaves empty fields out', () => {
    const plan = registrationPlan(new Hl7v2Message(text), { timeZone: 'UTC' });
    const p = plan.entries.find((e) => e.resource.resourceType === 'Patient')!;
    expect(p.remove).toEqual(expect.arrayContaining(['birthDate', 'address']));
    expect(p.resource).not.toHaveProperty('birthDate');
    expect((p.resource as Patient).gender).toBe('female');
  });
});

describe('segment ends and byte order mark', () => {
  const body = ['PID|1||M1^^^FAC^MR||Doe^Jane||19800101|F', 'ZXX|custom'];
  it.each([
    ['CR', '\r'],
    ['LF', '\n'],
    ['CRLF', '\r\n'],
  ])('reads segments ended by %s, with a trailing newline', (_n, end) => {
    const m = new Hl7v2Message([MSH, ...body].join(end) + end + end);
    expect(m.segments.map((s) => s.name)).toEqual(['MSH', 'PID', 'ZXX']);
    expect(patientOf([MSH, ...body].join(end)).birthDate).toBe('1980-01-01');
  });
  it('ignores a leading UTF-8 BOM', () => {
    const text = decodeHl7(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from([MSH, ...body].join('\r'))])).text;
    expect(readHeader(text).controlId).toBe('C1');
    expect(new Hl7v2Message(text).segments[0]!.name).toBe('MSH');
  });
  it('ignores a BOM read as Latin-1 (ï»¿), as the transport peeks at the header', () => {
    const text = `\u00EF\u00BB\u00BF${[MSH, ...body].join('\r')}`;
    expect(readHeader(text).controlId).toBe('C1');
    expect(new Hl7v2Message(text).segments.map((s) => s.name)).toEqual(['MSH', 'PID', 'ZXX']);
  });
  it('skips blank lines before MSH, and reads the header from the bytes before decoding', () => {
    const text = `\r\n  \n${[MSH, ...body].join('\r')}`;
    expect(readHeader(text).controlId).toBe('C1');
    const latin = Buffer.from(`${MSH}||||||8859/1\rPID|1||M1^^^FAC^MR||Mu\xF1oz`, 'latin1');
    expect(peekHeader(latin)?.characterSet).toBe('8859/1');
    expect(decodeHl7(latin).text).toContain('Muñoz');
    expect(peekHeader(Buffer.from('PID|1'))).toBeUndefined();
  });
  it('numbers MSH fields from the separator (MSH-1), other segments from their first field', () => {
    expect(fieldsOf('MSH|^~\\&|APP', '|').slice(0, 4)).toEqual(['MSH', '|', '^~\\&', 'APP']);
    expect(fieldsOf('PID|1||M1', '|')).toEqual(['PID', '1', '', 'M1']);
    const m = new Hl7v2Message([MSH, ...body].join('\r'));
    expect(m.first('MSH')!.raw(10)).toBe(readHeader(MSH).controlId);
  });
  it('keeps Z-segments and reports them as unmapped', () => {
    const plan = registrationPlan(new Hl7v2Message([MSH, ...body].join('\r')), { timeZone: 'UTC' });
    expect(plan.unmapped).toContain('ZXX');
  });
});

describe('batches', () => {
  const m = (id: string) => `MSH|^~\\&|APP|FAC|FD|FD|20260301||ADT^A04|${id}|P|2.5.1\rPID|1||${id}^^^FAC^MR`;
  it('splits FHS/BHS/BTS/FTS into messages and checks the counts', () => {
    const b = splitBatch(['FHS|^~\\&|APP|FAC', 'BHS|^~\\&|APP|FAC||||||||B1', m('A'), m('B'), 'BTS|2', 'FTS|1'].join('\r'));
    expect(b.batch).toBe(true);
    expect(b.messages.map((x) => readHeader(x).controlId)).toEqual(['A', 'B']);
    expect(b.problems).toEqual([]);
  });
  it('reports a batch whose BTS-1 count does not match (a cut batch)', () => {
    const b = splitBatch(['BHS|^~\\&|APP|FAC', m('A'), 'BTS|3'].join('\n'));
    expect(b.messages).toHaveLength(1);
    expect(b.problems[0]).toMatch(/BTS-1 declares 3 messages, the batch holds 1/);
  });
  it('reads a file of messages without envelope one by one', () => {
    const b = splitBatch([m('A'), m('B'), m('C')].join('\r\n'));
    expect(b.batch).toBe(false);
    expect(b.messages).toHaveLength(3);
  });
});

describe('versions 2.3 to 2.8', () => {
  it.each(['2.3', '2.3.1', '2.4', '2.5', '2.5.1', '2.6', '2.7', '2.7.1', '2.8'])('reads a v%s registration', (v) => {
    const text = `MSH|^~\\&|APP|FAC|FD|FD|20260301||ADT^A04^ADT_A01|C1|P|${v}\rPID|1||M1^^^FAC^MR||Doe^Jane||19800101|F`;
    expect(readHeader(text).version).toBe(v);
    expect(patientOf(text).gender).toBe('female');
  });
});

describe('times without an offset are read in the sender’s time zone', () => {
  it('uses the offset the sender wrote', () => {
    expect(dateTime('202603051430+0215', 'X', 'America/Chicago')).toBe('2026-03-05T14:30:00+02:15');
  });
  it('uses the partner’s zone, with daylight saving time', () => {
    expect(dateTime('20260115093000', 'X', 'America/Chicago')).toBe('2026-01-15T09:30:00-06:00');
    expect(dateTime('20260715093000', 'X', 'America/Chicago')).toBe('2026-07-15T09:30:00-05:00');
    expect(dateTime('202607150930', 'X', 'Europe/Berlin')).toBe('2026-07-15T09:30:00+02:00');
    expect(dateTime('2026071509', 'X', 'UTC')).toBe('2026-07-15T09:00:00Z');
  });
  it('keeps the precision of a date alone; an instant gets midnight in the zone', () => {
    expect(dateTime('202607', 'X', 'America/Chicago')).toBe('2026-07');
    expect(instant('20260715', 'X', 'America/New_York')).toBe('2026-07-15T00:00:00-04:00');
  });
  it('refuses impossible time zone offsets with a content error (table 0357 code 102) at the field', () => {
    expect(dateTime('202603051430+1400', 'X', 'UTC')).toBe('2026-03-05T14:30:00+14:00');
    expect(dateTime('202603051430-1400', 'X', 'UTC')).toBe('2026-03-05T14:30:00-14:00');
    for (const v of ['202603051430+2500', '202603051430-1401', '202603051430+0160', '202603051430-0599']) {
      const issue = outcomeOf(() => dateTime(v, 'TQ1-7', 'UTC'))?.issue?.[0];
      expect(issue?.details?.text, v).toMatch(/TQ1-7 has an impossible time zone offset/);
      expect(issue?.details?.coding?.[0]?.code).toBe('102');
      expect(issue?.expression).toEqual(['TQ1-7']);
    }
  });
  it('refuses impossible dates and times with a content error at the field', () => {
    expect(() => dateTime('20260231', 'PID-7', 'UTC')).toThrow(/PID-7 is not a calendar date/);
    expect(() => dateTime('202602011260', 'TQ1-7', 'UTC')).toThrow(/impossible time/);
    expect(() => dateTime('tomorrow', 'TQ1-7', 'UTC')).toThrow(/not an HL7 date/);
  });
  it('adds minutes keeping the offset', () => {
    expect(addMinutes('2026-03-08T01:30:00-06:00', 50)).toBe('2026-03-08T02:20:00-06:00');
  });
});
