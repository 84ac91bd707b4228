/**
 * @module translate/hl7v2/header — reads the MSH segment of an HL7 v2 message, the one place that does: what the
 * transport needs to store, de-duplicate and acknowledge a message before (or without) translating it, the
 * character set its bytes are in (MSH-18), and how MSH fields are numbered (MSH-1 is the separator itself).
 *
 * The delimiters come from the message itself (MSH-1 field separator, MSH-2 encoding characters), never
 * assumed; segments may end in CR, LF or CRLF; a leading UTF-8 BOM is ignored, decoded or read as Latin-1.
 */
export type Delimiters = {
  field: string;
  component: string;
  repetition: string;
  escape: string;
  subcomponent: string;
  /** The fifth MSH-2 character of v2.7+ (`#`): written `\P\` in data. */
  truncation?: string;
};

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
  /** MSH-18, first repetition (HL7 table 0211): the character set the message says it is written in. */
  characterSet: string | undefined;
};

export class HeaderError extends Error {
  /** HL7 table 0357 error condition. */
  readonly code: string;
  constructor(message: string, code = '100') {
    super(message);
    this.code = code;
  }
}

/** A leading UTF-8 byte order mark: decoded (U+FEFF), or its three bytes read as Latin-1 (`ï»¿`). */
const BOM = /^(?:\uFEFF|\u00EF\u00BB\u00BF)/;

export function splitSegments(text: string): string[] {
  return text
    .replace(BOM, '')
    .split(/\r\n|\r|\n/)
    .filter((s) => s.trim() !== '');
}

/** The first segment that is not blank, without splitting the rest of the message. */
function firstSegment(text: string): string | undefined {
  const body = text.replace(BOM, '');
  const line = /[^\r\n]*[^\s][^\r\n]*/.exec(body);
  return line?.[0];
}

/**
 * A segment's fields by their HL7 number: `fields[n]` is field n. For MSH, MSH-1 is the field separator itself and
 * MSH-2 the encoding characters, so its text splits one place short.
 */
export function fieldsOf(segment: string, field: string): string[] {
  const parts = segment.split(field);
  return parts[0] === 'MSH' ? ['MSH', field, ...parts.slice(1)] : parts;
}

export function readHeader(text: string): MessageHeader {
  const msh = firstSegment(text);
  if (!msh?.startsWith('MSH') || msh.length < 7) {
    throw new HeaderError('The message does not start with an MSH segment');
  }
  // NUL is no character of any HL7 character set, and PostgreSQL text cannot hold it: an MSH carrying one (echoed in
  // the ACK, stored as the sender) would leave the message unrecorded. Refused here, it is stored and answered AR.
  if (msh.includes('\u0000')) throw new HeaderError('The MSH segment holds a NUL character');
  const field = msh.charAt(3);
  const delimiters = delimitersOf(field, msh.slice(4).split(field)[0] ?? '');
  const fields = fieldsOf(msh, field);
  const f = (n: number): string => fields[n] ?? '';
  const comp = (value: string, i: number): string =>
    value.split(delimiters.repetition)[0]?.split(delimiters.component)[i] ?? '';
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
    characterSet: f(18).split(delimiters.repetition)[0]?.trim() || undefined,
  };
}

/**
 * The header read from a message's bytes before they are decoded — every HL7 character set keeps ASCII where the
 * MSH segment is, so its first 4 KB read as Latin-1 hold it — or undefined when there is none to read.
 */
export function peekHeader(bytes: Uint8Array): MessageHeader | undefined {
  try {
    return readHeader(Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.length, 4096)).toString('latin1'));
  } catch {
    return undefined;
  }
}

/**
 * MSH-1 and MSH-2 (v2.5 §2.14.9.2): component, repetition, escape and sub-component characters, and from v2.7 a
 * fifth, the truncation character. Old feeds send only the first three: their sub-component separator is `&`.
 */
function delimitersOf(field: string, enc: string): Delimiters {
  const distinct = () => new HeaderError('MSH-1/MSH-2 do not define distinct delimiter characters');
  if (/[A-Za-z0-9]/.test(field)) throw distinct();
  if (enc.length < 3 || enc.length > 5) {
    throw new HeaderError(
      `MSH-2 holds ${enc.length} encoding characters, not 3 to 5 (component, repetition, escape, sub-component, truncation)`
    );
  }
  const chars = enc.length === 3 ? `${enc}&` : enc;
  if (new Set([field, ...chars]).size !== 1 + chars.length) throw distinct();
  // A control character or a space cannot delimit: it is not printable, and would also be the ACK's delimiter.
  if (/[\u0000-\u0020\u007F]/.test(field + chars)) {
    throw new HeaderError('MSH-1/MSH-2 hold a control character or a space, which cannot delimit');
  }
  const d: Delimiters = {
    field,
    component: chars.charAt(0),
    repetition: chars.charAt(1),
    escape: chars.charAt(2),
    subcomponent: chars.charAt(3),
  };
  if (chars.length === 5) d.truncation = chars.charAt(4);
  return d;
}
