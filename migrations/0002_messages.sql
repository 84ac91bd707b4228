-- The message store: every inbound and outbound message, kept raw with what happened to it, whatever that was.
-- (sender, control id) is unique per protocol for inbound messages: a resend gets the first answer again.
CREATE TABLE message (
  id           bigserial   PRIMARY KEY,
  direction    text        NOT NULL CHECK (direction IN ('inbound', 'outbound')),
  protocol     text        NOT NULL,            -- hl7v2 | x12
  transport    text        NOT NULL,            -- mllp | http
  peer         text        NOT NULL DEFAULT '', -- remote address
  sender       text        NOT NULL DEFAULT '', -- HL7 v2: MSH-3^MSH-4
  receiver     text        NOT NULL DEFAULT '', -- HL7 v2: MSH-5^MSH-6
  control_id   text        NOT NULL DEFAULT '', -- HL7 v2: MSH-10
  message_type text        NOT NULL DEFAULT '', -- HL7 v2: MSH-9
  received_at  timestamptz NOT NULL DEFAULT now(),
  processed_at timestamptz,
  status       text        NOT NULL,            -- received | processed | rejected | error
  raw          bytea       NOT NULL,
  outcome      jsonb,
  response     text,                            -- the acknowledgment sent back
  resources    text[]      NOT NULL DEFAULT '{}',
  unmapped     text[]      NOT NULL DEFAULT '{}'
);
CREATE UNIQUE INDEX message_inbound_once ON message (protocol, sender, control_id)
  WHERE direction = 'inbound' AND control_id <> '';
CREATE INDEX message_received_at ON message (received_at DESC);
CREATE INDEX message_status ON message (status, received_at DESC);
