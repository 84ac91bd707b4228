/**
 * @module workflows/outbound-changes — the change hook the composition root hands the store (src/store/changes.ts):
 * which resource changes send HL7 v2 to partner offices, and through which workflow.
 */
import type { ChangeHook } from '../store/changes.ts';
import type { OutboundContext } from './outbound-hl7.ts';
import { appointmentChanged } from './appointment-out.ts';
import { referralChanged } from './referral-out.ts';

export function outboundChanges(ctx: OutboundContext): ChangeHook {
  return {
    types: new Set(['ServiceRequest', 'Appointment']),
    changed: (tx, change) =>
      change.type === 'ServiceRequest' ? referralChanged(tx, ctx, change) : appointmentChanged(tx, ctx, change),
  };
}
