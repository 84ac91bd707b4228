/**
 * @module translate/hl7v2/header — reads the MSH segment of an HL7 v2 message: what the transport needs to
 * store, de-duplicate and acknowledge a message before (or without) translating it.
 *
 * The delimiters come from the message itself (MSH-1 field separator, MSH-2 encoding characters), never
 * assumed; segments may end in CR, LF or CRLF; a leading UTF-8 BOM is ignored.
 */
export type Delimiters = { field: string; component: string; repetition: string; escape: string; subcomponent: string };

export type MessageHeader = {
  delimiters: Delimiters;
  /** MSH fields by their HL7 number (index 1 = MSH-1), raw (not unescaped). */
  fields: string[];
  sendingApplication: string;
  sendingFacility: string;
  receivingApplication: string;
  receivingFacility: string;
  /** MSH-9, e.g. `ADT^A04^ADT_A01`. */
  messageType: string;
  /** MSH-9.1 and MSH-9.2: `ADT`, `A04`. */
  code: string;
  trigger: string;
  controlId: string;
  processingId: string;
  version: string;
  acceptAckType: string;
  applicationAckType: string;
};

export class HeaderError extends Error {
  /** HL7 table 0357 error condition. */
  readonly code: string;
  constructor(message: string, code = '100') {
    super(message);
    this.code = code;
  }
}

export function splitSegments(text: string): string[] {
  return text.replace(/^\uFEFF/, '').split(/\r\n|\r|\n/).filter((s) => s.trim() !== '');
}

export function readHeader(text: string): MessageHeader {
  const msh = splitSegments(text)[0];
  if (!msh?.startsWith('MSH') || msh.length < 8) {
    throw new HeaderError('The message does not start with an MSH segment');
  }
  const field = msh.charAt(3);
  const enc = msh.slice(4, 8);
  const delimiters: Delimiters = {
    field,
    component: enc.charAt(0) || '^',
    repetition: enc.charAt(1) || '~',
    escape: enc.charAt(2) || '\\',
    subcomponent: enc.charAt(3) || '&',
  };
  if (/[A-Za-z0-9]/.test(field) || new Set([field, ...enc]).size !== 1 + enc.length) {
    throw new HeaderError('MSH-1/MSH-2 do not define distinct delimiter characters');
  }
  // MSH-1 is the field separator itself, so MSH-n is split index n-1.
  const parts = msh.split(field);
  const fields = ['', field, ...parts.slice(1)];
  const f = (n: number): string => fields[n] ?? '';
  const comp = (value: string, i: number): string => value.split(delimiters.repetition)[0]?.split(delimiters.component)[i] ?? '';
  return {
    delimiters,
    fields,
    sendingApplication: f(3),
    sendingFacility: f(4),
    receivingApplication: f(5),
    receivingFacility: f(6),
    messageType: f(9),
    code: comp(f(9), 0),
    trigger: comp(f(9), 1),
    controlId: f(10),
    processingId: comp(f(11), 0),
    version: comp(f(12), 0),
    acceptAckType: f(15),
    applicationAckType: f(16),
  };
}
