-- The partner a message came from (src/partners.ts): the one its MLLP/TLS client certificate belongs to, else the
-- one whose sender keys match MSH-3/MSH-4. NULL when no configured partner matches.
ALTER TABLE message ADD COLUMN partner text;
CREATE INDEX message_partner ON message (partner, received_at DESC) WHERE partner IS NOT NULL;
