import { describe, expect, it } from 'vitest';
import { buildAck, errorLocation } from '../../../src/translate/hl7v2/ack.ts';
import { HeaderError, readHeader } from '../../../src/translate/hl7v2/header.ts';

const ADT = [
  'MSH|^~\\&|SENDAPP|SENDFAC|RECVAPP|RECVFAC|20260105120000||ADT^A04^ADT_A01|CTRL123|P|2.5.1',
  'PID|1||MRN1^^^HOSP^MR||Doe^Jane',
].join('\r');
const time = new Date('2026-01-05T12:00:01Z');

describe('HL7 v2 header', () => {
  it('reads delimiters from MSH-1 and MSH-2 instead of assuming them', () => {
    const h = readHeader('MSH#@*$%#APP#FAC#R#RF#2026##SIU@S12#C9#P#2.3');
    expect(h.delimiters).toEqual({ field: '#', component: '@', repetition: '*', escape: '$', subcomponent: '%' });
    expect(h.code).toBe('SIU');
    expect(h.trigger).toBe('S12');
    expect(h.controlId).toBe('C9');
  });

  it('accepts CR, LF and CRLF segment ends and a leading BOM', () => {
    for (const sep of ['\r', '\n', '\r\n']) {
      expect(readHeader('\uFEFF' + ADT.replace('\r', sep)).controlId).toBe('CTRL123');
    }
  });

  it('refuses text that does not start with MSH', () => {
    expect(() => readHeader('PID|1||x')).toThrow(HeaderError);
  });
});

describe('HL7 v2 ACK', () => {
  it('swaps sender and receiver and echoes MSH-10 in MSA-2', () => {
    const ack = buildAck(readHeader(ADT), { code: 'AA', controlId: 'ACK1', time });
    const [msh, msa] = ack.split('\r');
    expect(msh).toBe('MSH|^~\\&|RECVAPP|RECVFAC|SENDAPP|SENDFAC|20260105120001+0000||ACK^A04^ACK|ACK1|P|2.5.1');
    expect(msa).toBe('MSA|AA|CTRL123');
    expect(ack.endsWith('\r')).toBe(true);
  });

  it('carries an ERR segment with location, table 0357 code and escaped text', () => {
    const ack = buildAck(readHeader(ADT), {
      code: 'AR',
      controlId: 'ACK2',
      time,
      text: 'Message type ADT^A04 is not supported',
      error: { code: '200', text: 'Message type ADT^A04 is not supported', location: 'MSH^1^9' },
    });
    const segments = ack.split('\r');
    expect(segments[1]).toBe('MSA|AR|CTRL123|Message type ADT\\S\\A04 is not supported');
    expect(segments[2]).toBe('ERR||MSH^1^9|200^Unsupported message type^HL70357|E||||Message type ADT\\S\\A04 is not supported');
  });

  it('writes ERR-2 as an ERL (segment ^ sequence ^ field ^ repetition ^ component ^ sub-component) in the message\'s separators', () => {
    expect(errorLocation('PID')).toEqual({ erl: ['PID', '1'] });
    expect(errorLocation('PID-3')).toEqual({ erl: ['PID', '1', '3'] });
    expect(errorLocation('NK1[2]-16')).toEqual({ erl: ['NK1', '2', '16'] });
    expect(errorLocation('PID-3.4.1')).toEqual({ erl: ['PID', '1', '3', '', '4', '1'] });
    expect(errorLocation('MSH^1^9')).toEqual({ erl: ['MSH', '1', '9'] });
    expect(errorLocation('Patient.telecom[0].value')).toEqual({ other: 'Patient.telecom[0].value' });
    const h = readHeader('MSH#@*$%#APP#FAC#R#RF#2026##ADT@A04#C9#P#2.5');
    const err = buildAck(h, { code: 'AE', controlId: 'A', time, error: { code: '102', text: 'bad date', location: 'IN1[2]-12' } }).split('\r')[2];
    expect(err).toBe('ERR##IN1@2@12#102@Data type error@HL70357#E####bad date');
    // Not a segment position: ERR-2 stays empty and the element goes in ERR-7 (diagnostic information).
    const other = buildAck(readHeader(ADT), { code: 'AE', controlId: 'A', time, error: { code: '102', text: 'invalid', location: 'Patient.telecom[0].value' } }).split('\r')[2];
    expect(other).toBe('ERR|||102^Data type error^HL70357|E|||Patient.telecom[0].value|invalid');
  });

  it('fills ERR-1 (ELD) as well for messages of versions before 2.5', () => {
    const h = readHeader('MSH|^~\\&|APP|FAC|R|RF|2026||ADT^A04|C9|P|2.3');
    const err = buildAck(h, { code: 'AE', controlId: 'A', time, error: { code: '101', text: 'no id', location: 'PID-3' } }).split('\r')[2];
    expect(err).toBe('ERR|PID^1^3^101&Required field missing&HL70357|PID^1^3|101^Required field missing^HL70357|E||||no id');
    const whole = buildAck(h, { code: 'AE', controlId: 'A', time, error: { code: '100', text: 'no PID', location: 'PID' } }).split('\r')[2];
    expect(whole?.startsWith('ERR|PID^1^^100&Segment sequence error&HL70357|PID^1|')).toBe(true);
  });

  it('answers in the delimiters of the message it acknowledges', () => {
    const h = readHeader('MSH#@*$%#APP#FAC#R#RF#2026##SIU@S12#C9#P#2.3');
    const ack = buildAck(h, { code: 'AA', controlId: 'A', time });
    expect(ack.startsWith('MSH#@*$%#R#RF#APP#FAC#')).toBe(true);
    expect(ack).toContain('\rMSA#AA#C9');
  });
});
