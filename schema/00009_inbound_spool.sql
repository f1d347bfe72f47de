-- +goose Up
-- The inbound queue's overflow (issue 19): a conversation keeps at most a few hundred of its
-- customer's events in its workflow state; the later ones wait here until the queue runs
-- short, so a flood of messages neither grows the run's history without end nor makes what
-- it carries to its next run too large. event is the event's JSON sealed with the token
-- encryption key (it holds what the customer wrote); rows are ordered by Meta's timestamp,
-- then the event's dedup key.
CREATE TABLE inbound_spool (
    workflow_id  text NOT NULL,
    ts           bigint NOT NULL,
    key          text COLLATE "C" NOT NULL, -- byte order: the order the conversation sorts keys in
    event        bytea NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workflow_id, ts, key)
);

-- Notes for the agents a completed run could not show (no room was open): the customer's
-- next run shows them in its room. Sealed like the spool's events.
ALTER TABLE conversation_memory ADD COLUMN notes bytea;

-- +goose Down
ALTER TABLE conversation_memory DROP COLUMN notes;
DROP TABLE inbound_spool;
