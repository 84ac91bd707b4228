/**
 * @module translate/hl7v2/charset — bytes to text: the sending partner's configured character set when it has one
 * (for senders whose MSH-18 is missing or wrong), else MSH-18 (HL7 table 0211), else UTF-8 when the bytes are
 * valid UTF-8 and ISO 8859-1 when they are not (what feeds without MSH-18 usually are).
 *
 * MSH-18 is read before decoding (header.ts `peekHeader`): every HL7 character set keeps ASCII where MSH is.
 * A leading UTF-8 byte order mark is dropped whatever the character set; when MSH-18 (not a partner's setting)
 * names another set, bytes that are valid UTF-8 are read as UTF-8, and the disagreement is reported.
 */
import { peekHeader } from './header.ts';

export type Decoded = { text: string; charset: string; problem?: string };

/** HL7 table 0211 → WHATWG encoding label (Node's TextDecoder). */
const TABLE_0211: Record<string, string> = {
  ASCII: 'utf-8', // a subset: bytes above 0x7F from a sender that says ASCII are read as UTF-8, else Latin-1
  '8859/1': 'latin1',
  '8859/2': 'iso-8859-2',
  '8859/3': 'iso-8859-3',
  '8859/4': 'iso-8859-4',
  '8859/5': 'iso-8859-5',
  '8859/6': 'iso-8859-6',
  '8859/7': 'iso-8859-7',
  '8859/8': 'iso-8859-8',
  '8859/9': 'windows-1254',
  '8859/15': 'iso-8859-15',
  'UNICODE UTF-8': 'utf-8',
  'UNICODE': 'utf-8',
  'UTF-8': 'utf-8',
  'UNICODE UTF-16': 'utf-16le',
};

export function isHl7Charset(name: string): boolean {
  return name.toUpperCase() in TABLE_0211 || name in TABLE_0211;
}

/** The WHATWG label of an HL7 table 0211 name (`8859/1`, `UNICODE UTF-8`), undefined when not in the table. */
function labelOf(name: string): string | undefined {
  return TABLE_0211[name] ?? TABLE_0211[name.toUpperCase()];
}

export function decodeHl7(bytes: Uint8Array, partnerCharset?: string): Decoded {
  const bom = hasBom(bytes);
  const body = bom ? bytes.subarray(3) : bytes;
  const declared = peekHeader(body)?.characterSet;
  if (bom && !partnerCharset && declared && labelOf(declared) && labelOf(declared) !== 'utf-8') {
    // The BOM says UTF-8 and MSH-18 says otherwise: bytes that are valid UTF-8 side with the BOM.
    const d = lenient(body);
    if (d.charset === 'UTF-8') return { ...d, problem: `MSH-18 says ${declared} but the message starts with a UTF-8 byte order mark and is valid UTF-8; read as UTF-8` };
  }
  return decodeAs(body, partnerCharset || declared);
}

/**
 * Bytes in a character set named as in HL7 table 0211 (MSH-18, or a partner's setting): the bytes of a whole
 * message, or those of one `\Xhh..\` escape (v2.5 §2.7.5). None, ASCII or UTF-8: UTF-8 when valid, else ISO 8859-1.
 */
export function decodeAs(bytes: Uint8Array, charset: string | undefined): Decoded {
  const label = charset ? labelOf(charset) : undefined;
  if (charset && !label) {
    const d = lenient(bytes);
    return { ...d, problem: `Character set "${charset}" (MSH-18) is not supported; read as ${d.charset}` };
  }
  if (!label || label === 'utf-8') {
    const d = lenient(bytes);
    if (label && d.charset !== 'UTF-8') return { ...d, problem: `MSH-18 says ${charset} but the bytes are not valid UTF-8; read as ISO 8859-1` };
    return d;
  }
  if (label === 'latin1') return { text: Buffer.from(bytes).toString('latin1'), charset: 'ISO 8859-1' };
  return { text: new TextDecoder(label).decode(bytes), charset: charset as string };
}

/** A leading UTF-8 byte order mark (EF BB BF), which some senders write whatever MSH-18 says. */
function hasBom(bytes: Uint8Array): boolean {
  return bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf;
}

function lenient(bytes: Uint8Array): Decoded {
  try {
    return { text: new TextDecoder('utf-8', { fatal: true }).decode(bytes), charset: 'UTF-8' };
  } catch {
    return { text: Buffer.from(bytes).toString('latin1'), charset: 'ISO 8859-1' };
  }
}
