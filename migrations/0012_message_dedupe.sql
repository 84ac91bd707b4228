-- A message refused before its content was looked at because of who sent it or how (a certificate or OAuth client
-- speaking for another partner's MSH-3/MSH-4, several messages in one MLLP frame) must not claim its sender's
-- (sender, MSH-10): otherwise partner A, sending as B, would make B's real message X a "duplicate" answered with
-- A's refusal, forever. Such rows are stored with dedupe = false and take no part in the duplicate check.
ALTER TABLE message ADD COLUMN dedupe boolean NOT NULL DEFAULT true;
DROP INDEX message_inbound_once;
CREATE UNIQUE INDEX message_inbound_once ON message (protocol, sender, control_id)
  WHERE direction = 'inbound' AND control_id <> '' AND dedupe;
-- Rows refused for their certificate before migration 0011 recorded how the partner was known.
UPDATE message SET partner_authenticated = true
  WHERE direction = 'inbound' AND protocol = 'hl7v2' AND status = 'rejected' AND partner IS NOT NULL
    AND response LIKE '%whose certificate this connection presented%';
