/**
 * @module inbound/fhir/json-body — a FHIR JSON body read into a value that every later step can take, or refused
 * as the caller's mistake (400) before it reaches them: JSON that parses but nests deeper than any resource does
 * (the recursive steps after parsing would overflow the stack), and strings PostgreSQL's jsonb cannot hold (a lone
 * UTF-16 surrogate written as `\ud800`, the NUL character `\u0000`).
 */
import { invalid } from '../../outcome.ts';

/** Deeper than any R4 resource nests (the spec's examples reach 12); a Bundle of Bundles still fits. */
export const MAX_DEPTH = 128;

/** An escape that may stand for a lone surrogate or NUL: only bodies holding one are walked. */
const SUSPECT_ESCAPE = /\\u(?:[dD][89a-fA-F]|0000)/;

export function parseJsonBody(text: string, where?: string): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    invalid(`Invalid JSON: ${(err as Error).message}`, where);
  }
  // Depth `n` needs at least 2n characters: short bodies cannot be too deep.
  if (text.length > 2 * MAX_DEPTH && depthOver(text, MAX_DEPTH)) {
    invalid(`The JSON nests deeper than ${MAX_DEPTH} levels`, where);
  }
  if (SUSPECT_ESCAPE.test(text)) {
    const bad = badString(value);
    if (bad !== undefined) invalid(`The JSON holds ${bad}, which cannot be stored`, where);
  }
  return value;
}

/** Whether brackets outside strings nest deeper than `max`, by one pass over the text. */
function depthOver(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
}

/** What is wrong with the first string (or key) PostgreSQL would refuse, or undefined. Iterative: depth is bounded. */
function badString(root: unknown): string | undefined {
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v === 'string') {
      const bad = stringProblem(v);
      if (bad) return bad;
    } else if (Array.isArray(v)) stack.push(...v);
    else if (v !== null && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        const bad = stringProblem(k);
        if (bad) return bad;
        stack.push(x);
      }
    }
  }
  return undefined;
}

function stringProblem(s: string): string | undefined {
  if (!s.isWellFormed()) return 'a lone UTF-16 surrogate (\\ud800–\\udfff without its pair)';
  if (s.includes('\0')) return 'a NUL character (\\u0000)';
  return undefined;
}
