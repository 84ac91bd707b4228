/**
 * @module translate/x12/envelope — the ASC X12 5010 interchange envelope: ISA/IEA, GS/GE, ST/SE read with the
 * interchange's own delimiters, and the acknowledgments that answer it — TA1 (interchange) and 999
 * (005010X231A1, implementation acknowledgment) — pure.
 *
 * Delimiters and segments come from ./tokens.ts (ISA11 a repetition separator only from 00402 on; BOM, line breaks
 * after terminators, `\n` or 0x1D terminators tolerated). Control numbers and counts in the trailers are checked
 * (IEA01/IEA02, GE01/GE02, SE01/SE02) and a mismatch is reported, not guessed at. Which transaction sets the
 * gateway understands is the caller's: a set it does not is answered in the 999 with IK5 R, code 1 "Transaction
 * Set Not Supported", never dropped.
 */
import { tokenize, type X12Delimiters, type X12Segment } from './tokens.ts';

export type { X12Delimiters } from './tokens.ts';

export type X12Transaction = { id: string; control: string; reference: string; segments: X12Segment[] };
export type X12Group = {
  functionalId: string;
  sender: string;
  receiver: string;
  control: string;
  version: string;
  transactions: X12Transaction[];
  problems: string[];
};

export type X12Interchange = {
  delimiters: X12Delimiters;
  isa: string[];
  senderQualifier: string;
  sender: string;
  receiverQualifier: string;
  receiver: string;
  date: string;
  time: string;
  version: string;
  control: string;
  ackRequested: boolean;
  usage: string;
  groups: X12Group[];
  /** TA1 segments (interchange acknowledgments) carried before the first GS. */
  ta1: X12Segment[];
  /** Interchange-level problems with their TA1 note code (e.g. 001 control numbers differ). */
  problems: { code: string; text: string }[];
};

/** The envelope's errors are syntax errors with a TA1 note code. */
export { X12SyntaxError as X12EnvelopeError } from './tokens.ts';

export function readInterchange(input: string): X12Interchange {
  const { delimiters, segments: all } = tokenize(input);
  const [isa = [], ...segments] = all;
  const f = (n: number) => isa[n] ?? '';
  const version = f(12);
  const ix: X12Interchange = {
    delimiters,
    isa,
    senderQualifier: f(5).trim(),
    sender: f(6).trim(),
    receiverQualifier: f(7).trim(),
    receiver: f(8).trim(),
    date: f(9),
    time: f(10),
    version,
    control: f(13),
    ackRequested: f(14) === '1',
    usage: f(15),
    groups: [],
    ta1: [],
    problems: [],
  };
  let group: X12Group | undefined;
  let tx: X12Transaction | undefined;
  let iea: string[] | undefined;
  for (const seg of segments) {
    const id = seg[0];
    if (id === 'GS') {
      group = {
        functionalId: seg[1] ?? '', sender: seg[2] ?? '', receiver: seg[3] ?? '', control: seg[6] ?? '',
        version: seg[8] ?? '', transactions: [], problems: [],
      };
      ix.groups.push(group);
    } else if (id === 'ST') {
      tx = { id: seg[1] ?? '', control: seg[2] ?? '', reference: seg[3] ?? '', segments: [seg] };
      if (group) group.transactions.push(tx);
      else ix.problems.push({ code: '024', text: 'ST outside a functional group' });
    } else if (id === 'SE') {
      if (tx) {
        tx.segments.push(seg);
        if (Number(seg[1]) !== tx.segments.length) {
          group?.problems.push(
            `SE01 of ST ${tx.control} counts ${seg[1]} segments, the set holds ${tx.segments.length}`,
          );
        }
        if (seg[2] !== tx.control) group?.problems.push(`SE02 ${seg[2]} does not match ST02 ${tx.control}`);
      }
      tx = undefined;
    } else if (id === 'GE') {
      if (group) {
        if (Number(seg[1]) !== group.transactions.length) {
          group.problems.push(`GE01 counts ${seg[1]} transaction sets, the group holds ${group.transactions.length}`);
        }
        if (seg[2] !== group.control) group.problems.push(`GE02 ${seg[2]} does not match GS06 ${group.control}`);
      }
      group = undefined;
    } else if (id === 'IEA') {
      iea = seg;
    } else if (id === 'TA1' && !group) {
      ix.ta1.push(seg);
    } else if (tx) {
      tx.segments.push(seg);
    }
  }
  if (!iea) ix.problems.push({ code: '023', text: 'The interchange has no IEA trailer (cut short?)' });
  else {
    if (iea[2] !== ix.control) {
      ix.problems.push({ code: '001', text: `IEA02 ${iea[2]} does not match ISA13 ${ix.control}` });
    }
    if (Number(iea[1]) !== ix.groups.length) {
      ix.problems.push({
        code: '021',
        text: `IEA01 counts ${iea[1]} groups, the interchange holds ${ix.groups.length}`,
      });
    }
  }
  return ix;
}

export type AckControls = { interchange: string; group: string; now: Date };

/**
 * The answer to an interchange: a TA1 when ISA14 asks for one or the interchange itself is broken, and a 999 per
 * functional group listing each transaction set as accepted or rejected (`accepted(tx)` decides: undefined =
 * accepted, else the IK5 rejection code, 1 = not supported). One interchange back, sender and receiver swapped.
 */
export function acknowledge(
  ix: X12Interchange,
  accepted: (tx: X12Transaction, g: X12Group) => string | undefined,
  c: AckControls,
): string {
  const { element: E, segment: T } = ix.delimiters;
  const seg = (...els: string[]) => els.join(E).replace(new RegExp(`\\${E}+$`), '') + T;
  const yymmdd = c.now.toISOString().slice(2, 10).replaceAll('-', '');
  const ccyymmdd = c.now.toISOString().slice(0, 10).replaceAll('-', '');
  const hhmm = c.now.toISOString().slice(11, 16).replace(':', '');
  const pad = (s: string, n: number) => s.padEnd(n, ' ').slice(0, n);
  const isa = [
    'ISA', '00', pad('', 10), '00', pad('', 10),
    pad(ix.receiverQualifier, 2), pad(ix.receiver, 15), pad(ix.senderQualifier, 2), pad(ix.sender, 15),
    yymmdd, hhmm, ix.delimiters.repetition ?? 'U', ix.version || '00501', c.interchange.padStart(9, '0').slice(-9),
    '0', ix.usage || 'P', ix.delimiters.component,
  ].join(E) + T;
  const out: string[] = [isa];
  const interchangeProblem = ix.problems[0];
  if (ix.ackRequested || interchangeProblem) {
    out.push(
      seg('TA1', ix.control, ix.date, ix.time, interchangeProblem ? 'R' : 'A', interchangeProblem?.code ?? '000'),
    );
  }
  let groups = 0;
  ix.groups.forEach((g, i) => {
    groups++;
    const control = `${c.group}${i}`.slice(-9);
    const body: string[] = [seg('AK1', g.functionalId, g.control, g.version)];
    let ok = 0;
    for (const tx of g.transactions) {
      body.push(seg('AK2', tx.id, tx.control, tx.reference));
      const code = g.problems.length ? '5' : accepted(tx, g);
      if (code === undefined) ok++;
      body.push(code === undefined ? seg('IK5', 'A') : seg('IK5', 'R', code));
    }
    const n = g.transactions.length;
    body.push(seg('AK9', ok === n ? 'A' : ok === 0 ? 'R' : 'P', String(n), String(n), String(ok)));
    const st = seg('ST', '999', '0001', '005010X231A1');
    out.push(
      seg('GS', 'FA', g.receiver, g.sender, ccyymmdd, hhmm, control, 'X', '005010X231A1'),
      st,
      ...body,
      seg('SE', String(body.length + 2), '0001'),
      seg('GE', '1', control),
    );
  });
  out.push(seg('IEA', String(groups), c.interchange.padStart(9, '0').slice(-9)));
  return out.join('');
}
