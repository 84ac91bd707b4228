-- An outbound message whose fate a workflow must still act on (a referral's Task moved by the ACK): set with the
-- final fate in the same transaction, cleared once the workflow has acted, so a crash in between is caught up
-- at the next start.
ALTER TABLE message ADD COLUMN follow_up_pending boolean NOT NULL DEFAULT false;
CREATE INDEX message_follow_up_pending ON message (id) WHERE follow_up_pending;
