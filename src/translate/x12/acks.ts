/**
 * @module translate/x12/acks — the payer's acknowledgments read: the 999 implementation acknowledgment
 * (005010X231A1: AK1, AK2/IK3/CTX/IK4/IK5 per transaction set, AK9) and the TA1 interchange acknowledgment, and
 * what they say turned into an OperationOutcome a clerk can read ("segment NM1 at 8 in loop 2100C: …"), pure.
 *
 * The code lists are data: X12 elements I18 (TA1 note), 620 (IK3-4), 621 (IK4-3), 618 (IK5-2…), 717 (IK5-1 and
 * AK9-1) and 716 (AK9-5…), with the wording of X12.5/X12.6 and the X231A1 TR3. Each issue also carries its code
 * as a coding under `urn:frontdesk:x12:{element}`, the namespace of ./systems.ts, for programs.
 */
import type { OperationOutcome, OperationOutcomeIssue } from '@medplum/fhirtypes';
import type { X12Transaction } from './envelope.ts';
import { components, type X12Delimiters, type X12Segment } from './tokens.ts';

/** I18 interchange note codes (TA1-5). */
export const TA1_NOTE_CODES: Readonly<Record<string, string>> = {
  '000': 'No error',
  '001': 'The interchange control number in the header and trailer do not match',
  '002': 'This standard as noted in the control standards identifier is not supported',
  '003': 'This version of the controls is not supported',
  '004': 'The segment terminator is invalid',
  '005': 'Invalid interchange ID qualifier for sender',
  '006': 'Invalid interchange sender ID',
  '007': 'Invalid interchange ID qualifier for receiver',
  '008': 'Invalid interchange receiver ID',
  '009': 'Unknown interchange receiver ID',
  '010': 'Invalid authorization information qualifier value',
  '011': 'Invalid authorization information value',
  '012': 'Invalid security information qualifier value',
  '013': 'Invalid security information value',
  '014': 'Invalid interchange date value',
  '015': 'Invalid interchange time value',
  '016': 'Invalid interchange standards identifier value',
  '017': 'Invalid interchange version ID value',
  '018': 'Invalid interchange control number value',
  '019': 'Invalid acknowledgment requested value',
  '020': 'Invalid test indicator value',
  '021': 'Invalid number of included groups value',
  '022': 'Invalid control structure',
  '023': 'Improper (premature) end-of-file (transmission)',
  '024': 'Invalid interchange content (e.g., invalid GS segment)',
  '025': 'Duplicate interchange control number',
  '026': 'Invalid data element separator',
  '027': 'Invalid component element separator',
  '028': 'Invalid delivery date in deferred delivery request',
  '029': 'Invalid delivery time in deferred delivery request',
  '030': 'Invalid delivery time code in deferred delivery request',
  '031': 'Invalid grade of service code',
};

/** 620 implementation segment syntax error codes (IK3-4). */
export const IK3_CODES: Readonly<Record<string, string>> = {
  '1': 'Unrecognized segment ID',
  '2': 'Unexpected segment',
  '3': 'Required segment missing',
  '4': 'Loop occurs over maximum times',
  '5': 'Segment exceeds maximum use',
  '6': 'Segment not in defined transaction set',
  '7': 'Segment not in proper sequence',
  '8': 'Segment has data element errors',
  I4: 'Implementation "not used" segment present',
  I6: 'Implementation dependent segment missing',
  I7: 'Implementation loop occurs under minimum times',
  I8: 'Implementation segment below minimum use',
  I9: 'Implementation dependent "not used" segment present',
};

/** 621 implementation data element syntax error codes (IK4-3). */
export const IK4_CODES: Readonly<Record<string, string>> = {
  '1': 'Required data element missing',
  '2': 'Conditional required data element missing',
  '3': 'Too many data elements',
  '4': 'Data element too short',
  '5': 'Data element too long',
  '6': 'Invalid character in data element',
  '7': 'Invalid code value',
  '8': 'Invalid date',
  '9': 'Invalid time',
  '10': 'Exclusion condition violated',
  '12': 'Too many repetitions',
  '13': 'Too many components',
  I6: 'Code value not used in implementation',
  I9: 'Implementation dependent data element missing',
  I10: 'Implementation "not used" data element present',
  I11: 'Implementation too few repetitions',
  I12: 'Implementation pattern match failure',
  I13: 'Implementation dependent "not used" data element present',
};

/** 717 acknowledgment codes (IK5-1 for a transaction set, AK9-1 for the group). */
export const ACK_CODES: Readonly<Record<string, string>> = {
  A: 'Accepted',
  E: 'Accepted but errors were noted',
  M: 'Rejected, message authentication code (MAC) failed',
  P: 'Partially accepted, at least one transaction set was rejected',
  R: 'Rejected',
  W: 'Rejected, assurance failed validity tests',
  X: 'Rejected, content after decryption could not be analyzed',
};

/** 618 transaction set syntax error codes (IK5-2 … IK5-6). */
export const IK5_CODES: Readonly<Record<string, string>> = {
  '1': 'Transaction set not supported',
  '2': 'Transaction set trailer missing',
  '3': 'Transaction set control number in header and trailer do not match',
  '4': 'Number of included segments does not match actual count',
  '5': 'One or more segments in error',
  '6': 'Missing or invalid transaction set identifier',
  '7': 'Missing or invalid transaction set control number',
  '8': 'Authentication key name unknown',
  '9': 'Encryption key name unknown',
  '10': 'Requested service (authentication or encryption) not available',
  '11': 'Unknown security recipient',
  '12': 'Incorrect message length (encryption only)',
  '13': 'Message authentication code failed',
  '15': 'Unknown security originator',
  '16': 'Syntax error in decrypted text',
  '17': 'Security not supported',
  '18': 'Transaction set not in functional group',
  '19': 'Invalid transaction set implementation convention reference',
  '23': 'Transaction set control number not unique within the functional group',
  '24': 'S3E security end segment missing for S3S security start segment',
  '25': 'S3S security start segment missing for S3E security end segment',
  '26': 'S4E security end segment missing for S4S security start segment',
  '27': 'S4S security start segment missing for S4E security end segment',
  I5: 'Implementation one or more segments in error',
  I6: 'Implementation convention not supported',
};

/** 716 functional group syntax error codes (AK9-5 … AK9-9). */
export const AK9_CODES: Readonly<Record<string, string>> = {
  '1': 'Functional group not supported',
  '2': 'Functional group version not supported',
  '3': 'Functional group trailer missing',
  '4': 'Group control number in the functional group header and trailer do not agree',
  '5': 'Number of included transaction sets does not match actual count',
  '6': 'Group control number violates syntax',
  '10': 'Authentication key name unknown',
  '11': 'Encryption key name unknown',
  '12': 'Requested service (authentication or encryption) not available',
  '13': 'Unknown security recipient',
  '14': 'Unknown security originator',
  '15': 'Syntax error in decrypted text',
  '16': 'Security not supported',
  '17': 'Incorrect message length (encryption only)',
  '18': 'Message authentication code failed',
  '19': 'Functional group control number not unique within interchange',
  '23': 'S3E security end segment missing for S3S security start segment',
  '24': 'S3S security start segment missing for S3E security end segment',
  '25': 'S4E security end segment missing for S4S security start segment',
  '26': 'S4S security start segment missing for S4E security end segment',
};

/** One IK3 (segment) or IK4 (element, with `element` IK4-1 as `2` or `2-1` and `value` IK4-4) note. */
export type AckError = {
  segment: string;
  position: number;
  loop: string;
  code: string;
  element?: string;
  /** IK4-2, the data element reference number. */
  reference?: string;
  value?: string;
  /** CTX segments after the IK3, as written. */
  context?: string[];
};

export type AckSet = { id: string; control: string; reference: string; accepted: boolean; code: string; syntaxCodes: string[]; errors: AckError[] };

export type Read999 = {
  groupControl: string;
  functionalId: string;
  version: string;
  sets: AckSet[];
  /** AK9-1: A, E, P, R, … ('' when the AK9 is missing). */
  groupStatus: string;
  counts: { included: number; received: number; accepted: number };
  groupCodes: string[];
};

export type ReadTa1 = { control: string; date: string; time: string; accepted: boolean; ackCode: string; code: string; text: string };

export function read999(tx: X12Transaction, d: X12Delimiters): Read999 {
  const out: Read999 = { groupControl: '', functionalId: '', version: '', sets: [], groupStatus: '', counts: { included: 0, received: 0, accepted: 0 }, groupCodes: [] };
  let set: AckSet | undefined;
  let ik3: AckError | undefined;
  for (const s of tx.segments) {
    const f = (n: number) => s[n] ?? '';
    switch (s[0]) {
      case 'AK1':
        Object.assign(out, { functionalId: f(1), groupControl: f(2), version: f(3) });
        break;
      case 'AK2':
        set = { id: f(1), control: f(2), reference: f(3), accepted: false, code: '', syntaxCodes: [], errors: [] };
        out.sets.push(set);
        ik3 = undefined;
        break;
      case 'IK3':
        ik3 = { segment: f(1), position: Number(f(2)), loop: f(3), code: f(4) };
        set?.errors.push(ik3);
        break;
      case 'CTX':
        if (ik3) (ik3.context ??= []).push(s.slice(1).filter(Boolean).join(' '));
        break;
      case 'IK4':
        set?.errors.push({
          segment: ik3?.segment ?? '', position: ik3?.position ?? 0, loop: ik3?.loop ?? '', code: f(3),
          element: components(f(1), d).join('-'), ...(f(2) ? { reference: f(2) } : {}), ...(s.length > 4 ? { value: f(4) } : {}),
        });
        break;
      case 'IK5':
        if (set) Object.assign(set, { code: f(1), accepted: f(1) === 'A' || f(1) === 'E', syntaxCodes: codesFrom(s, 2) });
        set = undefined;
        ik3 = undefined;
        break;
      case 'AK9':
        out.groupStatus = f(1);
        out.counts = { included: Number(f(2)), received: Number(f(3)), accepted: Number(f(4)) };
        out.groupCodes = codesFrom(s, 5);
        break;
    }
  }
  return out;
}

/** `TA1*{ISA13}*{ISA09}*{ISA10}*{A|E|R}*{note code}`. */
export function readTa1(seg: X12Segment): ReadTa1 {
  const ackCode = seg[4] ?? '';
  const code = seg[5] ?? '';
  return {
    control: seg[1] ?? '', date: seg[2] ?? '', time: seg[3] ?? '', accepted: ackCode === 'A' || ackCode === 'E', ackCode, code,
    text: TA1_NOTE_CODES[code] ?? `Unknown note code ${code}`,
  };
}

/** An outcome whose issues say in words what the acknowledgment accepted or rejected. */
export function ackOutcome(ack: Read999 | ReadTa1): OperationOutcome {
  const issues = 'sets' in ack ? issues999(ack) : [ta1Issue(ack)];
  return { resourceType: 'OperationOutcome', issue: issues };
}

function ta1Issue(t: ReadTa1): OperationOutcomeIssue {
  const verdict = t.accepted ? (t.ackCode === 'E' ? 'accepted with errors' : 'accepted') : 'rejected';
  const text = `Interchange ${t.control} ${verdict}: ${t.text} (TA1 ${t.code})`;
  return issue(t.accepted ? (t.code === '000' ? 'information' : 'warning') : 'error', t.accepted ? 'informational' : 'structure', text, 'I18', t.code);
}

function issues999(a: Read999): OperationOutcomeIssue[] {
  const out: OperationOutcomeIssue[] = [];
  for (const s of a.sets) {
    const why = s.syntaxCodes.map((c) => `${IK5_CODES[c] ?? `code ${c}`} (IK5 ${c})`).join(', ');
    const text = `Transaction set ${s.id} ${s.control} ${(ACK_CODES[s.code] ?? `acknowledged ${s.code}`).toLowerCase()}${why ? `: ${why}` : ''}`;
    out.push(issue(s.accepted ? (s.code === 'A' ? 'information' : 'warning') : 'error', s.accepted ? 'informational' : 'processing', text, '717', s.code));
    for (const e of s.errors) {
      const where = `segment ${e.segment} at ${e.position}${e.loop ? ` in loop ${e.loop}` : ''}`;
      const severity = s.accepted ? 'warning' : 'error';
      if (e.element === undefined) {
        const context = e.context?.length ? ` [${e.context.join('; ')}]` : '';
        out.push(issue(severity, 'structure', `${where}: ${IK3_CODES[e.code] ?? `code ${e.code}`} (IK3 ${e.code})${context}`, '620', e.code));
      } else {
        const el = `${e.segment}${e.element.replace(/^\d+/, (n) => n.padStart(2, '0'))}`;
        const value = e.value ? ` "${e.value}"` : '';
        out.push(issue(severity, 'value', `${el}${value} in ${where}: ${IK4_CODES[e.code] ?? `code ${e.code}`} (IK4 ${e.code})`, '621', e.code));
      }
    }
  }
  if (a.groupStatus && a.groupStatus !== 'A') {
    const why = a.groupCodes.map((c) => `${AK9_CODES[c] ?? `code ${c}`} (AK9 ${c})`).join(', ');
    const text = `Functional group ${a.groupControl} (${a.functionalId}) ${(ACK_CODES[a.groupStatus] ?? a.groupStatus).toLowerCase()}: ` +
      `${a.counts.accepted} of ${a.counts.included} transaction sets accepted${why ? `; ${why}` : ''}`;
    out.push(issue(a.groupStatus === 'E' ? 'warning' : 'error', 'processing', text, '717', a.groupStatus));
  }
  if (!out.length) out.push(issue('information', 'informational', `Functional group ${a.groupControl} acknowledged with no transaction set`, '717', a.groupStatus));
  return out;
}

function issue(severity: OperationOutcomeIssue['severity'], code: OperationOutcomeIssue['code'], text: string, element: string, value: string): OperationOutcomeIssue {
  return { severity, code, details: { coding: [{ system: `urn:frontdesk:x12:${element}`, code: value }], text }, diagnostics: text };
}

function codesFrom(s: X12Segment, from: number): string[] {
  return s.slice(from).filter(Boolean);
}
