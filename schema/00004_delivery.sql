-- +goose Up
-- Exactly-once delivery (issue 12). A delivery intent is written before each call whose
-- effect cannot be deduplicated by the other side: a Send API call (Meta has no idempotency
-- key) or a file upload into Rocket.Chat. A retry that finds the intent still "calling" knows
-- the earlier attempt's outcome is unknown, and resolves it (Meta's echo, the room's history)
-- instead of calling again blindly. message_id is what the other side answered: for sends,
-- the Instagram mid, which ingress uses to drop the echoes of our own sends.
CREATE TABLE delivery_intents (
    key          text PRIMARY KEY,
    account      text NOT NULL,
    igsid        text NOT NULL,
    state        text NOT NULL CHECK (state IN ('calling', 'done', 'not_done')),
    attempts     integer NOT NULL DEFAULT 1,
    message_id   text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX delivery_intents_message_id ON delivery_intents (message_id) WHERE message_id IS NOT NULL;
CREATE INDEX delivery_intents_created_at ON delivery_intents (created_at);

-- What a conversation must remember between runs that end (a closed room whose run
-- completed) and the next run of the same customer: the hashed dedup keys of the Instagram
-- events it took in, so a redelivery by Meta (which retries for about an hour) is recognised.
CREATE TABLE conversation_memory (
    workflow_id  text PRIMARY KEY,
    seen         bytea NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now()
);

-- Notices to the admins (setup channel) that must be posted once per cause, however many
-- conversations run into it: "account X is not connected", "department Y does not exist".
-- The row is removed when the cause is gone, so a recurrence is reported again.
CREATE TABLE admin_notices (
    key          text PRIMARY KEY,
    posted_at    timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE admin_notices;
DROP TABLE conversation_memory;
DROP TABLE delivery_intents;
