/**
 * @module translate/x12/hl — the hierarchical level (HL) tree of a transaction set, pure.
 *
 * 270/271, 276/277, 278 and 837 nest their loops by HL segments: `HL*{id}*{parent id}*{level code}*{child code}`.
 * In 005010X279A1 the level codes are 20 information source (2000A), 21 information receiver (2000B),
 * 22 subscriber (2000C) and 23 dependent (2000D). The segments between one HL and the next belong to that level;
 * the loops inside it (2100x names, 2110x benefits, 2120x related entities) are the transaction reader's to cut,
 * since they depend on the set. Problems (a parent that does not exist, an HL01 out of order) are reported
 * with the tree, not thrown: a 271 with a bad HL still carries what the front desk needs to read.
 */
import type { X12Segment } from './tokens.ts';

export type HlNode = {
  id: string;
  parentId: string;
  /** HL03: 20, 21, 22, 23, … */
  level: string;
  /** HL04: 1 = has children, 0 = none. */
  hasChildren: boolean;
  /** The segments after this HL up to the next HL (or the SE), the HL itself excluded. */
  segments: X12Segment[];
  children: HlNode[];
  /** Index of the HL segment within the transaction set (ST = 0), for error positions (999 IK3-2 counts from 1). */
  position: number;
};

export type HlTree = {
  /** Segments before the first HL (ST, BHT). */
  header: X12Segment[];
  roots: HlNode[];
  /** Every node in document order. */
  nodes: HlNode[];
  problems: string[];
};

/** Builds the tree from a transaction set's segments (ST … SE; the SE is left out of every node). */
export function hlTree(set: readonly X12Segment[]): HlTree {
  const tree: HlTree = { header: [], roots: [], nodes: [], problems: [] };
  const byId = new Map<string, HlNode>();
  let current: HlNode | undefined;
  set.forEach((seg, i) => {
    const id = seg[0];
    if (id === 'SE') return;
    if (id !== 'HL') {
      (current ? current.segments : tree.header).push(seg);
      return;
    }
    const node: HlNode = {
      id: seg[1] ?? '',
      parentId: seg[2] ?? '',
      level: seg[3] ?? '',
      hasChildren: seg[4] === '1',
      segments: [],
      children: [],
      position: i,
    };
    if (String(tree.nodes.length + 1) !== node.id) {
      tree.problems.push(`HL01 "${node.id}" at segment ${i + 1}: expected ${tree.nodes.length + 1}`);
    }
    if (byId.has(node.id)) tree.problems.push(`HL01 "${node.id}" is used twice`);
    byId.set(node.id, node);
    tree.nodes.push(node);
    const parent = node.parentId ? byId.get(node.parentId) : undefined;
    if (node.parentId && !parent) {
      tree.problems.push(`HL02 "${node.parentId}" of HL ${node.id} names no earlier HL`);
      tree.roots.push(node);
    } else if (parent) {
      parent.children.push(node);
    } else {
      tree.roots.push(node);
    }
    current = node;
  });
  for (const n of tree.nodes) {
    if (!n.hasChildren && n.children.length) tree.problems.push(`HL ${n.id} says HL04 0 but has children`);
  }
  return tree;
}

/** Splits a level's segments into loops, each starting at a segment whose id is in `starts` (`['NM1']`, …). */
export function loops(segments: readonly X12Segment[], starts: readonly string[]): X12Segment[][] {
  const out: X12Segment[][] = [];
  for (const seg of segments) {
    if (starts.includes(seg[0] ?? '') || out.length === 0) out.push([seg]);
    else out[out.length - 1]?.push(seg);
  }
  return out;
}
