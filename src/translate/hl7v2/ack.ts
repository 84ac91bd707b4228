/**
 * @module translate/hl7v2/ack — builds the acknowledgment (ACK) of an HL7 v2 message (v2.5 chapter 2.9).
 *
 * The ACK's MSH swaps sender and receiver, MSA-2 echoes MSH-10, and an error carries an ERR segment with the
 * location, the HL7 table 0357 code and a message (ERR-2, ERR-3, ERR-4, ERR-8; ERR-1 too for versions before 2.5).
 */
import { randomUUID } from 'node:crypto';
import type { OperationOutcomeIssue } from '@medplum/fhirtypes';
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
    const at = errorLocation(e.location);
    // ERR-2 (ERL) as components of this message's separators; a location that is not a segment position (a FHIR
    // element the validator named) goes in ERR-7, diagnostic information.
    const erl = at.erl ? at.erl.join(d.component) : '';
    // Before v2.5, ERR-1 (ELD: segment ^ sequence ^ field ^ code as CE) was the only error field: filled too for
    // receivers of those versions; ERR-2 onwards are ignored by them.
    const version = header?.fields[12] || '2.5.1';
    const eld = /^2\.[1-4]/.test(version)
      ? [...(at.erl ?? ['', '', '']).slice(0, 3), ...Array(Math.max(0, 3 - (at.erl?.length ?? 3))).fill(''), [e.code, TABLE_0357[e.code] ?? '', 'HL70357'].join(d.subcomponent)].join(d.component)
      : '';
    segments.push(['ERR', eld, erl, cwe, e.severity ?? 'E', '', '', at.erl ? '' : esc(at.other ?? ''), esc(e.text)].join(F));
  }
  return segments.join('\r') + '\r';
}

/**
 * An error location as ERR-2 (data type ERL: segment id ^ segment sequence ^ field position ^ field repetition ^
 * component ^ sub-component), from the forms the translators use: `PID`, `PID-3`, `NK1[2]-16`, `PID-3.4.1`, and
 * `MSH^1^9` (already an ERL, written with `^`). The segment sequence is 1 unless `[n]` says otherwise. Anything
 * else is `other`.
 */
export function errorLocation(location: string | undefined): { erl?: string[]; other?: string } {
  if (!location) return {};
  const erl = /^([A-Z][A-Z0-9]{2})\^(\d+)((?:\^\d*){0,4})$/.exec(location);
  if (erl) return { erl: [erl[1] as string, erl[2] as string, ...(erl[3] ?? '').split('^').slice(1)] };
  const m = /^([A-Z][A-Z0-9]{2})(?:\[(\d+)\])?(?:-(\d+)(?:\.(\d+)(?:\.(\d+))?)?)?$/.exec(location);
  if (!m) return { other: location };
  const parts = [m[1] as string, m[2] ?? '1', m[3] ?? '', '', m[4] ?? '', m[5] ?? ''];
  while (parts.length > 2 && parts[parts.length - 1] === '') parts.pop();
  return { erl: parts };
}

/** HL7 table 0357 code of a content error: given by the handler (details.coding), else from the issue type. */
export function errorCode(issue: OperationOutcomeIssue | undefined): string {
  const given = issue?.details?.coding?.find((c) => c.system === 'http://terminology.hl7.org/CodeSystem/v2-0357')?.code;
  if (given) return given;
  switch (issue?.code) {
    case 'required':
      return '101'; // required field missing
    case 'value':
    case 'invalid':
    case 'structure':
      return '102'; // data type error
    case 'code-invalid':
      return '103'; // table value not found
    default:
      return '207';
  }
}

/** HL7 DTM with seconds and offset: `20260105143000+0000`. */
export function hl7Time(t: Date): string {
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${t.getUTCFullYear()}${p(t.getUTCMonth() + 1)}${p(t.getUTCDate())}${p(t.getUTCHours())}${p(t.getUTCMinutes())}${p(t.getUTCSeconds())}+0000`;
}

/**
 * Escapes delimiters in free text (v2.5 2.7.4: \F\ \S\ \T\ \R\ \E\). Line breaks become spaces, and a NUL (which
 * the ACK, stored as the message's response, could not hold) the replacement character.
 */
function escapeText(s: string, d: { field: string; component: string; repetition: string; escape: string; subcomponent: string }): string {
  let out = '';
  for (const ch of s.replace(/[\r\n]+/g, ' ').replaceAll('\u0000', '\uFFFD')) {
    if (ch === d.escape) out += `${d.escape}E${d.escape}`;
    else if (ch === d.field) out += `${d.escape}F${d.escape}`;
    else if (ch === d.component) out += `${d.escape}S${d.escape}`;
    else if (ch === d.repetition) out += `${d.escape}R${d.escape}`;
    else if (ch === d.subcomponent) out += `${d.escape}T${d.escape}`;
    else out += ch;
  }
  return out;
}

/** A fresh MSH-10: at most 20 characters (v2.5 2.14.9.10). */
export function newControlId(): string {
  return randomUUID().replace(/-/g, '').slice(0, 20);
}
