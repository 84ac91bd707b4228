/**
 * The HL tree of a transaction set: levels nested by HL02, the segments of each level, and problems reported with
 * the tree rather than thrown.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readInterchange } from '../../../src/translate/x12/envelope.ts';
import { hlTree, loops } from '../../../src/translate/x12/hl.ts';
import type { X12Segment } from '../../../src/translate/x12/tokens.ts';

const X12 = join(import.meta.dirname, '../../fixtures/x12');
const setOf = (file: string) =>
  readInterchange(readFileSync(join(X12, file), 'latin1')).groups[0]?.transactions[0]?.segments ?? [];
const split = (text: string): X12Segment[] => text.split('~').filter(Boolean).map((s) => s.split('*'));

describe('HL tree', () => {
  it('nests the 2000A–2000D levels of a dependent 270 by HL02', () => {
    const tree = hlTree(setOf('270-dependent-request-by-physician.edi'));
    expect(tree.problems).toEqual([]);
    expect(tree.header.map((s) => s[0])).toEqual(['ST', 'BHT']);
    expect(tree.nodes.map((n) => [n.id, n.parentId, n.level, n.hasChildren])).toEqual([
      ['1', '', '20', true],
      ['2', '1', '21', true],
      ['3', '2', '22', true],
      ['4', '3', '23', false],
    ]);
    expect(tree.roots).toHaveLength(1);
    const dependent = tree.roots[0]?.children[0]?.children[0]?.children[0];
    expect(dependent?.level).toBe('23');
    expect(dependent?.segments.map((s) => s[0])).toEqual(['TRN', 'NM1', 'DMG', 'DTP', 'EQ']);
    expect(dependent?.position).toBe(8);
  });

  it('keeps the SE out of the last level', () => {
    const tree = hlTree(setOf('270-subscriber-request-by-clinic.edi'));
    expect(tree.nodes.at(-1)?.segments.map((s) => s[0])).toEqual(['TRN', 'NM1', 'DMG', 'DTP', 'EQ']);
  });

  it('reports an HL01 out of order, a parent that does not exist, a reused id and HL04 0 with children', () => {
    const tree = hlTree(split('ST*270*1~HL*1**20*0~HL*3*1*21*1~HL*3*9*22*0~SE*5*1~'));
    expect(tree.problems).toEqual([
      'HL01 "3" at segment 3: expected 2',
      'HL01 "3" is used twice',
      'HL02 "9" of HL 3 names no earlier HL',
      'HL 1 says HL04 0 but has children',
    ]);
    expect(tree.roots.map((n) => n.id)).toEqual(['1', '3']);
  });

  it('cuts a level into loops at the segments that start them', () => {
    const segs = split('NM1*IL~DMG*D8~EQ*30~DTP*291~EQ*1~EQ*33~III*ZZ*11~');
    expect(loops(segs, ['EQ']).map((l) => l.map((s) => s[0])))
      .toEqual([['NM1', 'DMG'], ['EQ', 'DTP'], ['EQ'], ['EQ', 'III']]);
    expect(loops([], ['EQ'])).toEqual([]);
  });
});
