/** The message audit event, both ways: what the outbound doors still to come will record, and what inbound records. */
import { describe, expect, it } from 'vitest';
import { messageEvent } from '../../src/audit/events.ts';

const base = { protocol: 'hl7v2', messageType: 'SIU^S12', controlId: 'C1', messageId: '42', peer: '10.0.0.9:2575', sender: 'FRONTDESK^FD', resources: ['Appointment/a1'] };

describe('messageEvent', () => {
  it('records an outbound message as a DICOM Export with the partner as recipient', () => {
    const e = messageEvent({ ...base, direction: 'outbound', ack: 'AA', partner: 'Organization/o1' });
    expect(e.type.code).toBe('110106');
    expect(e.action).toBe('R');
    expect(e.outcome).toBe('0');
    expect(e.agent[0]).toMatchObject({ who: { reference: 'Organization/o1' }, requestor: false, network: { address: '10.0.0.9:2575' } });
    expect(e.entity?.map((x) => x.what)).toEqual([{ identifier: { system: 'urn:frontdesk:message', value: '42' } }, { reference: 'Appointment/a1' }]);
  });

  it('records an inbound message as an Import; a refusal is a failure', () => {
    const e = messageEvent({ ...base, direction: 'inbound', ack: 'AR' });
    expect(e.type.code).toBe('110107');
    expect(e.outcome).toBe('4');
    expect(messageEvent({ ...base, direction: 'inbound', ack: 'CA+AA' }).outcome).toBe('0');
    expect(messageEvent({ ...base, protocol: 'x12', direction: 'inbound', ack: '999-A' }).outcome).toBe('0');
  });
});
