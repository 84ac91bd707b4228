/**
 * @module translate/hl7v2/ack — builds the acknowledgment (ACK) of an HL7 v2 message (v2.5 chapter 2.9).
 *
 * The ACK's MSH swaps sender and receiver, MSA-2 echoes MSH-10, and an error carries an ERR segment with the
 * location, the HL7 table 0357 code and a message (ERR-2, ERR-3, ERR-4, ERR-8).
 */
import type { MessageHeader } from './header.ts';

export const AckCode = { AA: 'AA', AE: 'AE', AR: 'AR', CA: 'CA', CE: 'CE', CR: 'CR' } as const;
export type AckCode = (typeof AckCode)[keyof typeof AckCode];

export type AckError = { code: string; text: string; location?: string; severity?: 'E' | 'W' | 'I' };

export type AckOptions = {
  code: AckCode;
  controlId: string;
  time: Date;
  text?: string;
  error?: AckError;
  /** Our own application/facility names, used when the message did not say whom it was for. */
  self?: { application: string; facility: string };
};

const TABLE_0357: Record<string, string> = {
  '0': 'Message accepted',
  '100': 'Segment sequence error',
  '101': 'Required field missing',
  '102': 'Data type error',
  '103': 'Table value not found',
  '200': 'Unsupported message type',
  '201': 'Unsupported event code',
  '202': 'Unsupported processing id',
  '203': 'Unsupported version id',
  '204': 'Unknown key identifier',
  '205': 'Duplicate key identifier',
  '206': 'Application record locked',
  '207': 'Application internal error',
};

/** The ACK as text with CR segment ends; `header` is undefined when the message could not be read at all. */
export function buildAck(header: MessageHeader | undefined, o: AckOptions): string {
  const d = header?.delimiters ?? { field: '|', component: '^', repetition: '~', escape: '\\', subcomponent: '&' };
  const F = d.field;
  const enc = `${d.component}${d.repetition}${d.escape}${d.subcomponent}`;
  const esc = (s: string): string => escapeText(s, d);
  const msh = [
    'MSH',
    enc,
    header?.receivingApplication || o.self?.application || 'FRONTDESK',
    header?.receivingFacility || o.self?.facility || '',
    header?.sendingApplication ?? '',
    header?.sendingFacility ?? '',
    hl7Time(o.time),
    '',
    `ACK${d.component}${header?.trigger ?? ''}${d.component}ACK`,
    o.controlId,
    header?.fields[11] || 'P',
    header?.fields[12] || '2.5.1',
  ].join(F);
  const msa = ['MSA', o.code, header?.controlId ?? '', esc(o.text ?? '')].join(F).replace(new RegExp(`\\${F}+$`), '');
  const segments = [msh, msa];
  if (o.error) {
    const e = o.error;
    const cwe = [e.code, TABLE_0357[e.code] ?? '', 'HL70357'].join(d.component);
    segments.push(['ERR', '', esc(e.location ?? ''), cwe, e.severity ?? 'E', '', '', '', esc(e.text)].join(F));
  }
  return segments.join('\r') + '\r';
}

/** HL7 DTM with seconds and offset: `20260105143000+0000`. */
export function hl7Time(t: Date): string {
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${t.getUTCFullYear()}${p(t.getUTCMonth() + 1)}${p(t.getUTCDate())}${p(t.getUTCHours())}${p(t.getUTCMinutes())}${p(t.getUTCSeconds())}+0000`;
}

/** Escapes delimiters in free text (v2.5 2.7.4: \F\ \S\ \T\ \R\ \E\). */
function escapeText(s: string, d: { field: string; component: string; repetition: string; escape: string; subcomponent: string }): string {
  let out = '';
  for (const ch of s.replace(/[\r\n]+/g, ' ')) {
    if (ch === d.escape) out += `${d.escape}E${d.escape}`;
    else if (ch === d.field) out += `${d.escape}F${d.escape}`;
    else if (ch === d.component) out += `${d.escape}S${d.escape}`;
    else if (ch === d.repetition) out += `${d.escape}R${d.escape}`;
    else if (ch === d.subcomponent) out += `${d.escape}T${d.escape}`;
    else out += ch;
  }
  return out;
}
