/**
 * Small helpers for tests that build HL7 v2 messages by hand.
 */

/** Sets field `n` of one segment (MSH counted as HL7 does: MSH-3 is the third field). */
export function setField(segment: string, n: number, value: string): string {
  const parts = segment.split('|');
  const i = segment.startsWith('MSH|') ? n - 1 : n;
  while (parts.length <= i) parts.push('');
  parts[i] = value;
  return parts.join('|');
}
