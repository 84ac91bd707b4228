-- The outbox is the message table itself: an outbound HL7 v2 row is written with status `pending` in the
-- transaction of the resource change that causes it (a crash can neither lose it nor send a message for a change
-- that rolled back), and the delivery worker gives it its fate there, so the message log shows attempts, the
-- last error and the ACK. `destination` names where it goes (`Endpoint/<id>`); messages to one destination leave
-- in id order, one at a time. A lease (`lease_until`, set by one compare-and-set) gives a row to one worker of one
-- gateway process; a crashed worker's lease runs out and the row is sent again with the same MSH-10.
ALTER TABLE message
  ADD COLUMN destination     text,
  ADD COLUMN attempts        integer     NOT NULL DEFAULT 0,
  ADD COLUMN next_attempt_at timestamptz,
  ADD COLUMN last_error      text,
  ADD COLUMN lease_until     timestamptz;
CREATE INDEX message_outbox ON message (destination, id) WHERE direction = 'outbound' AND status = 'pending';
