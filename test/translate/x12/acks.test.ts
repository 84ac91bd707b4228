/**
 * The payer's acknowledgments: the stupidedi 999 (one 837 accepted, two rejected), TA1s accepted and rejected,
 * and the 999/TA1 our own `acknowledge()` writes, read and put into words.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  ackOutcome, read999, readTa1, TA1_NOTE_CODES, IK3_CODES, IK4_CODES,
} from '../../../src/translate/x12/acks.ts';
import { acknowledge, readInterchange } from '../../../src/translate/x12/envelope.ts';
import { writeInterchange } from '../../../src/translate/x12/interchange.ts';

const X12 = join(import.meta.dirname, '../../fixtures/x12');
const ISA =
  'ISA*00*          *00*          *ZZ*PMH01          *ZZ*FRONTDESK      *260302*1406*^*00501*000000077*0*T*:~';

function only999(text: string) {
  const ix = readInterchange(text);
  const tx = ix.groups[0]?.transactions.find((t) => t.id === '999');
  if (!tx) throw new Error('no 999');
  return { ix, ack: read999(tx, ix.delimiters) };
}

describe('999 reader', () => {
  // The fixture starts with a UTF-8 BOM: read as UTF-8, as a payer's HTTP answer is.
  const { ack } = only999(readFileSync(join(X12, '999-ack-for-group-of-3-837s.edi'), 'utf8'));

  it('reads the group it answers and each transaction set, accepted or not', () => {
    expect(ack).toMatchObject({
      functionalId: 'HC', groupControl: '17456', version: '005010X222A2', groupStatus: 'P',
      counts: { included: 3, received: 3, accepted: 1 },
    });
    expect(ack.sets.map((s) => [s.id, s.control, s.accepted, s.code, s.syntaxCodes])).toEqual([
      ['837', '0001', true, 'A', []],
      ['837', '0002', false, 'R', ['5']],
      ['837', '0003', false, 'R', ['5']],
    ]);
  });

  it('reads IK3 segment errors with their CTX, and IK4 element errors under them', () => {
    expect(ack.sets[1]?.errors).toEqual([
      { segment: 'CLM', position: 22, loop: '', code: '8', context: ['CLM01:123456789'] },
      { segment: 'CLM', position: 22, loop: '', code: '1', element: '2', reference: '782' },
    ]);
    expect(ack.sets[2]?.errors).toEqual([
      {
        segment: 'REF', position: 57, loop: '', code: '3',
        context: ['SITUATIONAL TRIGGER CLM 43 5:3', 'CLM01:987654321'],
      },
    ]);
  });

  it('says in words what was rejected', () => {
    const o = ackOutcome(ack);
    expect(o.issue.map((i) => [i.severity, i.diagnostics])).toEqual([
      ['information', 'Transaction set 837 0001 accepted'],
      ['error', 'Transaction set 837 0002 rejected: One or more segments in error (IK5 5)'],
      ['error', 'segment CLM at 22: Segment has data element errors (IK3 8) [CLM01:123456789]'],
      ['error', 'CLM02 in segment CLM at 22: Required data element missing (IK4 1)'],
      ['error', 'Transaction set 837 0003 rejected: One or more segments in error (IK5 5)'],
      ['error',
        'segment REF at 57: Required segment missing (IK3 3) [SITUATIONAL TRIGGER CLM 43 5:3; CLM01:987654321]'],
      ['error',
        'Functional group 17456 (HC) partially accepted, at least one transaction set was rejected: ' +
          '1 of 3 transaction sets accepted'],
    ]);
    expect(o.issue[3]?.details?.coding).toEqual([{ system: 'urn:frontdesk:x12:621', code: '1' }]);
  });

  it('names the loop, a component position and the bad value when the 999 gives them', () => {
    const text = `${ISA}GS*FA*PMH01*FRONTDESK*20260302*1406*77*X*005010X231A1~` +
      'ST*999*0001*005010X231A1~AK1*HS*1001*005010X279A1~' +
      'AK2*270*1001*005010X279A1~IK3*DMG*11*2100C*8~IK4*2*1251*8*19841319~IK4*3:1*1068*7~IK5*R*5*I5~' +
      'AK9*R*1*1*0*5~SE*9*0001~GE*1*77~IEA*1*000000077~';
    const { ack: a } = only999(text);
    expect(a.sets[0]?.errors.slice(1)).toEqual([
      { segment: 'DMG', position: 11, loop: '2100C', code: '8', element: '2', reference: '1251', value: '19841319' },
      { segment: 'DMG', position: 11, loop: '2100C', code: '7', element: '3-1', reference: '1068' },
    ]);
    expect(ackOutcome(a).issue.map((i) => i.diagnostics)).toEqual([
      'Transaction set 270 1001 rejected: One or more segments in error (IK5 5), ' +
        'Implementation one or more segments in error (IK5 I5)',
      'segment DMG at 11 in loop 2100C: Segment has data element errors (IK3 8)',
      'DMG02 "19841319" in segment DMG at 11 in loop 2100C: Invalid date (IK4 8)',
      'DMG03-1 in segment DMG at 11 in loop 2100C: Invalid code value (IK4 7)',
      'Functional group 1001 (HS) rejected: 0 of 1 transaction sets accepted; ' +
        'Number of included transaction sets does not match actual count (AK9 5)',
    ]);
  });

  it('reads the 999 our own acknowledge() writes, one set accepted and one rejected', () => {
    const ours = writeInterchange(
      {
        senderQualifier: 'ZZ', senderId: 'FRONTDESK', receiverQualifier: 'ZZ', receiverId: 'PMH01',
        interchangeControl: 55, groupControl: 55, usage: 'T', ackRequested: true, functionalId: 'HS',
        version: '005010X279A1', now: new Date('2026-03-02T14:05:00Z'),
      },
      [
        { id: '270', control: '0001', body: [['BHT', '0022', '13', '1', '20260302', '1405']] },
        { id: '270', control: '0002', body: [['BHT', '0022', '13', '2', '20260302', '1405']] },
      ]
    );
    const answer = acknowledge(
      readInterchange(ours),
      (tx) => (tx.control === '0002' ? '1' : undefined),
      { interchange: '900', group: '90', now: new Date('2026-03-02T14:06:00Z') }
    );
    const { ix, ack: a } = only999(answer);
    expect(a).toMatchObject({
      functionalId: 'HS', groupControl: '55', version: '005010X279A1', groupStatus: 'P',
      counts: { included: 2, received: 2, accepted: 1 },
    });
    expect(a.sets.map((s) => [s.control, s.reference, s.accepted, s.code, s.syntaxCodes])).toEqual([
      ['0001', '005010X279A1', true, 'A', []],
      ['0002', '005010X279A1', false, 'R', ['1']],
    ]);
    expect(ackOutcome(a).issue[1]?.diagnostics)
      .toBe('Transaction set 270 0002 rejected: Transaction set not supported (IK5 1)');
    // ISA14 asked for a TA1: it comes first, accepting the interchange.
    expect(ix.ta1.map(readTa1)).toEqual([{
      control: '000000055', date: '260302', time: '1405', accepted: true, ackCode: 'A', code: '000', text: 'No error',
    }]);
  });
});

describe('TA1 reader', () => {
  it.each([
    ['accepted', ['TA1', '000001001', '260302', '1405', 'A', '000'], true, 'No error'],
    ['rejected: control numbers differ', ['TA1', '000001001', '260302', '1405', 'R', '001'], false,
      'The interchange control number in the header and trailer do not match'],
    ['rejected: invalid content', ['TA1', '000001001', '260302', '1405', 'R', '024'], false,
      'Invalid interchange content (e.g., invalid GS segment)'],
    ['with a note code it does not know', ['TA1', '000001001', '260302', '1405', 'R', '099'], false,
      'Unknown note code 099'],
  ])('reads a TA1 %s', (_what, seg, accepted, text) => {
    expect(readTa1(seg)).toMatchObject({
      control: '000001001', date: '260302', time: '1405', accepted, code: seg[5], text,
    });
  });

  it('reads a TA1 carried alone in an interchange, and says why it was rejected', () => {
    const ix = readInterchange(`${ISA}TA1*000001001*260302*1405*R*024~IEA*0*000000077~`);
    expect(ix.problems).toEqual([]);
    const ta1 = readTa1(ix.ta1[0] ?? []);
    expect(ta1.accepted).toBe(false);
    expect(ackOutcome(ta1).issue).toEqual([
      {
        severity: 'error', code: 'structure',
        details: {
          coding: [{ system: 'urn:frontdesk:x12:I18', code: '024' }],
          text: 'Interchange 000001001 rejected: Invalid interchange content (e.g., invalid GS segment) (TA1 024)',
        },
        diagnostics: 'Interchange 000001001 rejected: Invalid interchange content (e.g., invalid GS segment) (TA1 024)',
      },
    ]);
    expect(ackOutcome(readTa1(['TA1', '1', '260302', '1405', 'A', '000'])).issue[0])
      .toMatchObject({ severity: 'information', code: 'informational' });
  });

  it('reads the TA1 our acknowledge() writes for an interchange whose trailer does not match (001)', () => {
    const broken = readFileSync(join(X12, '270-subscriber-request-by-clinic.edi'), 'latin1')
      .replace('IEA*1*000010216', 'IEA*1*000010217');
    const answer = acknowledge(
      readInterchange(broken),
      () => undefined,
      { interchange: '5', group: '5', now: new Date('2026-03-02T14:06:00Z') }
    );
    const ta1 = readTa1(readInterchange(answer).ta1[0] ?? []);
    expect(ta1).toMatchObject({ control: '000010216', accepted: false, code: '001', text: TA1_NOTE_CODES['001'] });
  });

  it('keeps the code lists as data, X12 wording', () => {
    expect(Object.keys(TA1_NOTE_CODES)).toHaveLength(32);
    expect(Object.keys(IK3_CODES).filter((c) => /^\d$/.test(c))).toEqual(['1', '2', '3', '4', '5', '6', '7', '8']);
    expect(Object.keys(IK4_CODES).filter((c) => /^\d+$/.test(c)).map(Number))
      .toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 13]);
  });
});
