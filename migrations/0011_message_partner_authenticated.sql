-- Whether a message's partner was established by the connection's own credentials (its MLLP/TLS client
-- certificate, or over HTTP the OAuth client a partner lists) rather than read from MSH-3/MSH-4. Such a message is
-- held to that partner's senders again when it is reprocessed.
ALTER TABLE message ADD COLUMN partner_authenticated boolean NOT NULL DEFAULT false;
