import { describe, expect, it } from 'vitest';
import { buildAck } from '../../../src/translate/hl7v2/ack.ts';
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
    expect(segments[2]).toBe('ERR||MSH\\S\\1\\S\\9|200^Unsupported message type^HL70357|E||||Message type ADT\\S\\A04 is not supported');
  });

  it('answers in the delimiters of the message it acknowledges', () => {
    const h = readHeader('MSH#@*$%#APP#FAC#R#RF#2026##SIU@S12#C9#P#2.3');
    const ack = buildAck(h, { code: 'AA', controlId: 'A', time });
    expect(ack.startsWith('MSH#@*$%#R#RF#APP#FAC#')).toBe(true);
    expect(ack).toContain('\rMSA#AA#C9');
  });
});
