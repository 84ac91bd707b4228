-- The resource an outbound message is about (`ServiceRequest/<id>`, `Appointment/<id>`): what the referral and
-- appointment workflows find the last message they sent with (to send a change only when it says something new),
-- and what a referral's ACK moves the Task of. `related` stays the message one answers or forwards.
ALTER TABLE message ADD COLUMN subject text;
CREATE INDEX message_outbound_subject ON message (subject, destination, id) WHERE subject IS NOT NULL;
