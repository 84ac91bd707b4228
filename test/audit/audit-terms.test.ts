/**
 * Which AuditEvent terms records share (src/store/audit-terms.ts): the events of one kind from one client or
 * partner must share one shape whatever resources, patients and message ids they name, or the trail would grow a
 * shape per record.
 */
import { describe, expect, it } from 'vitest';
import { messageEvent, restEvent } from '../../src/audit/events.ts';
import { auditTerms, splitTerms } from '../../src/store/audit-terms.ts';

const split = (e: object) => splitTerms(auditTerms({ ...e, id: 'x' } as never));

const message = (n: number) =>
  messageEvent({
    direction: 'inbound',
    protocol: 'HL7v2',
    messageType: 'ADT^A04',
    controlId: `CTRL${n}`,
    messageId: `m-${n}`,
    peer: '10.1.0.4',
    sender: 'REGAPP^FAC',
    ack: 'AA',
    resources: [`Patient/p${n}`, `Coverage/c${n}`],
    partner: 'Organization/o1',
  });
const read = (n: number, status = 200) =>
  restEvent({
    clientId: 'ehr-1',
    address: '10.0.0.5',
    method: 'GET',
    interaction: 'read',
    status,
    references: [`Patient/p${n}`],
    patients: [`Patient/p${n}`],
  });

describe('AuditEvent term shapes', () => {
  it('gives messages of one type from one partner one shape, their ids and resources their own terms', () => {
    const [a, b] = [split(message(1)), split(message(2))];
    expect(a.key).toBe(b.key);
    expect(a.own).toEqual(
      expect.arrayContaining(['t:entity:identifier:urn:frontdesk:message|m-1', 'r:patient:Patient/p1'])
    );
    expect(a.own.some((t) => t.includes('CTRL1'))).toBe(true);
  });

  it('gives reads by one client one shape and a failed read another', () => {
    expect(split(read(1)).key).toBe(split(read(2)).key);
    expect(split(read(1, 404)).key).not.toBe(split(read(1)).key);
  });

  it('keeps every term, shared or own, exactly once', () => {
    const terms = auditTerms({ ...message(3), id: 'x' } as never);
    const { own, shared } = splitTerms(terms);
    expect([...own, ...shared].sort()).toEqual([...terms].sort());
  });
});
