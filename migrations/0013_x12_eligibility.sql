-- X12 control numbers (ISA13, GS06, ST02) for what the gateway sends: one sequence, never cycling, so a number is
-- never used twice by this sender (005010 TR3 appendix B), whichever gateway process draws it.
CREATE SEQUENCE x12_control MINVALUE 1 MAXVALUE 999999999 NO CYCLE;
-- A message's counterpart: the payer's answer (271, 999, TA1) points at the 270 sent, a forwarded 270 at the
-- practice's interchange it came from, so the message log shows both sides of an exchange.
ALTER TABLE message ADD COLUMN related bigint REFERENCES message (id);
CREATE INDEX message_related ON message (related) WHERE related IS NOT NULL;
