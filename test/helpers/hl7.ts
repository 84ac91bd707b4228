/**
 * Small helpers for tests that build HL7 v2 messages by hand.
 */
import { getToken, type TestGateway } from './gateway.ts';

/** Sets field `n` of one segment (MSH counted as HL7 does: MSH-3 is the third field). */
export function setField(segment: string, n: number, value: string): string {
  const parts = segment.split('|');
  const i = segment.startsWith('MSH|') ? n - 1 : n;
  while (parts.length <= i) parts.push('');
  parts[i] = value;
  return parts.join('|');
}

/** An HL7 v2 message posted to the gateway's `POST /hl7v2` with a token: the ACK as text and as segments. */
export async function postHl7(
  g: TestGateway, message: string
): Promise<{ status: number; segments: string[]; text: string }> {
  const token = await getToken(g);
  const res = await fetch(`${new URL(g.fhirUrl).origin}/hl7v2`, {
    method: 'POST', body: message.replace(/\n/g, '\r'), headers: { authorization: `Bearer ${token}` },
  });
  const text = await res.text();
  return { status: res.status, segments: text.split('\r').filter(Boolean), text };
}
