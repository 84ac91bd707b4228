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
import { TA1_NOTE_CODES, IK3_CODES, IK4_CODES, ACK_CODES, IK5_CODES, AK9_CODES } from './acks-codes.ts';

export { TA1_NOTE_CODES, IK3_CODES, IK4_CODES, ACK_CODES, IK5_CODES, AK9_CODES } from './acks-codes.ts';

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

export type AckSet = {
  id: string; control: string; reference: string; accepted: boolean; code: string; syntaxCodes: string[];
  errors: AckError[];
};

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

export type ReadTa1 = {
  control: string; date: string; time: string; accepted: boolean; ackCode: string; code: string; text: string;
};

export function read999(tx: X12Transaction, d: X12Delimiters): Read999 {
  const out: Read999 = {
    groupControl: '', functionalId: '', version: '', sets: [], groupStatus: '',
    counts: { included: 0, received: 0, accepted: 0 }, groupCodes: [],
  };
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
          element: components(f(1), d).join('-'), ...(f(2) ? { reference: f(2) } : {}),
          ...(s.length > 4 ? { value: f(4) } : {}),
        });
        break;
      case 'IK5':
        if (set) {
          Object.assign(set, { code: f(1), accepted: f(1) === 'A' || f(1) === 'E', syntaxCodes: codesFrom(s, 2) });
        }
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
    control: seg[1] ?? '', date: seg[2] ?? '', time: seg[3] ?? '', accepted: ackCode === 'A' || ackCode === 'E',
    ackCode, code, text: TA1_NOTE_CODES[code] ?? `Unknown note code ${code}`,
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
  return issue(
    t.accepted ? (t.code === '000' ? 'information' : 'warning') : 'error', t.accepted ? 'informational' : 'structure',
    text, 'I18', t.code,
  );
}

function issues999(a: Read999): OperationOutcomeIssue[] {
  const out: OperationOutcomeIssue[] = [];
  for (const s of a.sets) {
    const why = s.syntaxCodes.map((c) => `${IK5_CODES[c] ?? `code ${c}`} (IK5 ${c})`).join(', ');
    const text = `Transaction set ${s.id} ${s.control} ` +
      `${(ACK_CODES[s.code] ?? `acknowledged ${s.code}`).toLowerCase()}${why ? `: ${why}` : ''}`;
    out.push(issue(
      s.accepted ? (s.code === 'A' ? 'information' : 'warning') : 'error', s.accepted ? 'informational' : 'processing',
      text, '717', s.code,
    ));
    for (const e of s.errors) {
      const where = `segment ${e.segment} at ${e.position}${e.loop ? ` in loop ${e.loop}` : ''}`;
      const severity = s.accepted ? 'warning' : 'error';
      if (e.element === undefined) {
        const context = e.context?.length ? ` [${e.context.join('; ')}]` : '';
        out.push(issue(
          severity, 'structure',
          `${where}: ${IK3_CODES[e.code] ?? `code ${e.code}`} (IK3 ${e.code})${context}`, '620', e.code,
        ));
      } else {
        const el = `${e.segment}${e.element.replace(/^\d+/, (n) => n.padStart(2, '0'))}`;
        const value = e.value ? ` "${e.value}"` : '';
        out.push(issue(
          severity, 'value',
          `${el}${value} in ${where}: ${IK4_CODES[e.code] ?? `code ${e.code}`} (IK4 ${e.code})`, '621', e.code,
        ));
      }
    }
  }
  if (a.groupStatus && a.groupStatus !== 'A') {
    const why = a.groupCodes.map((c) => `${AK9_CODES[c] ?? `code ${c}`} (AK9 ${c})`).join(', ');
    const text = `Functional group ${a.groupControl} (${a.functionalId}) ` +
      `${(ACK_CODES[a.groupStatus] ?? a.groupStatus).toLowerCase()}: ` +
      `${a.counts.accepted} of ${a.counts.included} transaction sets accepted${why ? `; ${why}` : ''}`;
    out.push(issue(a.groupStatus === 'E' ? 'warning' : 'error', 'processing', text, '717', a.groupStatus));
  }
  if (!out.length) {
    out.push(issue(
      'information', 'informational',
      `Functional group ${a.groupControl} acknowledged with no transaction set`, '717', a.groupStatus,
    ));
  }
  return out;
}

function issue(
  severity: OperationOutcomeIssue['severity'],
  code: OperationOutcomeIssue['code'],
  text: string,
  element: string,
  value: string,
): OperationOutcomeIssue {
  return {
    severity,
    code,
    details: { coding: [{ system: `urn:frontdesk:x12:${element}`, code: value }], text },
    diagnostics: text,
  };
}

function codesFrom(s: X12Segment, from: number): string[] {
  return s.slice(from).filter(Boolean);
}
