-- The outbox is the message table itself: an outbound HL7 v2 row is written with status `pending` in the
-- transaction of the resource change that causes it (a crash can neither lose it nor send a message for a change
-- that rolled back), and the delivery worker gives it its fate there, so the message log shows attempts, the
-- last error and the ACK. `destination` names where it goes (`Endpoint/<id>`); a destination's messages leave in
-- `queue_seq` order (enqueuers of one destination take a lock, so that order is their commit order; `$resend`
-- puts a dead letter at the end), one at a time: a worker holds the destination's lease in `outbox_lease` while
-- it sends, and every write of a delivery's fate checks that it still holds it. A crashed worker's lease runs out
-- and its message is sent again with the same MSH-10.
ALTER TABLE message
  ADD COLUMN destination     text,
  ADD COLUMN queue_seq       bigint,
  ADD COLUMN queued_at       timestamptz,
  ADD COLUMN attempts        integer     NOT NULL DEFAULT 0,
  ADD COLUMN next_attempt_at timestamptz,
  ADD COLUMN last_error      text;
CREATE SEQUENCE outbox_queue_seq;
CREATE INDEX message_outbox ON message (destination, queue_seq) WHERE direction = 'outbound' AND status = 'pending';

CREATE TABLE outbox_lease (
  destination text        PRIMARY KEY,
  holder      uuid        NOT NULL,
  lease_until timestamptz NOT NULL
);
