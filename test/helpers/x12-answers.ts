/**
 * What a payer answers a 270 with, written by hand (plain string work, not the gateway's own X12 code, so a test
 * of the gateway's reader does not pass because both sides share a mistake). Fictional plans and amounts.
 */

/** Reads the few 270 values a payer echoes: ISA ids and control, TRN, the subscriber's NM1 and the payer's. */
export function read270(x12: string) {
  const text = x12.replace(/^\uFEFF/, '');
  const el = text.charAt(3);
  const term = text.charAt(105);
  const segs = text.split(term).map((s) => s.replace(/^\s+/, '')).filter(Boolean).map((s) => s.split(el));
  const find = (id: string, q?: string) => segs.find((s) => s[0] === id && (q === undefined || s[1] === q));
  return {
    segs,
    isaSender: (segs[0]?.[6] ?? '').trim(),
    isaReceiver: (segs[0]?.[8] ?? '').trim(),
    control: segs[0]?.[13] ?? '',
    trn: find('TRN')?.slice(1) ?? [],
    subscriber: find('NM1', 'IL') ?? [],
    payer: find('NM1', 'PR') ?? [],
    provider: find('NM1', '1P') ?? [],
    dependent: find('NM1', '03'),
    eq: segs.filter((s) => s[0] === 'EQ').map((s) => s[1] ?? ''),
    dtp: find('DTP', '291')?.slice(2) ?? [],
  };
}

export type Answer = {
  /** EB segments of 2110C, without the terminator (`EB*B**98**GOLD*27*25*****Y`). */
  benefits?: string[];
  /** An AAA at 2100C instead of benefits (`72`, `75`, …). */
  aaa?: string;
  /** A different member id in the answer's 2100C. */
  memberId?: string;
};

export const ACTIVE_PPO: Answer = {
  benefits: [
    'EB*1*IND*30*PR*SILVER PPO 500',
    'EB*B*IND*98***27*25*****Y',
    'EB*B*IND*98***27*60*****N',
    'EB*C*IND*30***23*500*****Y',
    'EB*C*IND*30***29*350*****Y',
    'EB*A*IND*30*****0.2****Y',
    'EB*G*IND*30***23*3000*****Y',
    'EB*I**AL',
    'MSG*VISION NOT COVERED UNDER THIS PLAN',
  ],
};

export const INACTIVE: Answer = { benefits: ['EB*6*IND*30'] };

/** A 271 answering the 270, with the 270's trace echoed (TRN*2) and the answer's own control numbers. */
export function answer271(x12: string, a: Answer = ACTIVE_PPO): string {
  const r = read270(x12);
  const trn = ['TRN', '2', ...r.trn.slice(1)].join('*');
  const sub = [...r.subscriber];
  if (a.memberId) sub[9] = a.memberId;
  const body = [
    'BHT*0022*11*ANSWER1*20261204*1200',
    'HL*1**20*1',
    r.payer.join('*'),
    'HL*2*1*21*1',
    r.provider.join('*'),
    'HL*3*2*22*0',
    trn,
    sub.join('*'),
    ...(a.aaa ? [`AAA*N**${a.aaa}*C`] : ['DMG*D8*19800101*F', 'DTP*346*D8*20260101', 'DTP*347*D8*20261231', ...(a.benefits ?? [])]),
  ];
  const st = ['ST*271*0001*005010X279A1', ...body, `SE*${body.length + 2}*0001`];
  const isa = `ISA*00*          *00*          *ZZ*${r.isaReceiver.padEnd(15)}*ZZ*${r.isaSender.padEnd(15)}*261204*1200*^*00501*000000777*0*P*:`;
  return [isa, 'GS*HB*PAYER*FRONTDESK*20261204*1200*777*X*005010X279A1', ...st, 'GE*1*777', 'IEA*1*000000777'].join('~') + '~';
}

/** A 999 rejecting the 270 (IK5 R 5: one or more segments in error). */
export function reject999(x12: string): string {
  const r = read270(x12);
  const isa = `ISA*00*          *00*          *ZZ*${r.isaReceiver.padEnd(15)}*ZZ*${r.isaSender.padEnd(15)}*261204*1200*^*00501*000000778*0*P*:`;
  const body = ['AK1*HS*1*005010X279A1', 'AK2*270*0001*005010X279A1', 'IK3*NM1*8*2100C*8', 'IK4*9*67*1', 'IK5*R*5', 'AK9*R*1*1*0'];
  return [isa, 'GS*FA*PAYER*FRONTDESK*20261204*1200*778*X*005010X231A1', 'ST*999*0001*005010X231A1', ...body,
    `SE*${body.length + 2}*0001`, 'GE*1*778', 'IEA*1*000000778'].join('~') + '~';
}

/** A TA1 refusing the interchange (note 006: invalid interchange sender id). */
export function rejectTa1(x12: string): string {
  const r = read270(x12);
  const isa = `ISA*00*          *00*          *ZZ*${r.isaReceiver.padEnd(15)}*ZZ*${r.isaSender.padEnd(15)}*261204*1200*^*00501*000000779*0*P*:`;
  return [isa, `TA1*${r.control}*261204*1200*R*006`, 'IEA*0*000000779'].join('~') + '~';
}
