-- +goose Up
-- Console sessions are tied to what granted them (issue 20): `grant_key` names it
-- ("token:<fingerprint of ADMIN_API_TOKEN>" or "rocketchat:<user id>", checked on every
-- request), and `generation` is the console generation they were made in. Signing out
-- everywhere and an uninstall start a new generation: every session and unused sign-in
-- link of an older one is dead. Sessions made before this migration have no grant and end.
CREATE TABLE console_generation (
    id          boolean PRIMARY KEY DEFAULT true CHECK (id),
    generation  bigint NOT NULL,
    changed_at  timestamptz NOT NULL DEFAULT now()
);
INSERT INTO console_generation (generation) VALUES (1);

ALTER TABLE console_sessions ADD COLUMN user_id text NOT NULL DEFAULT '';
ALTER TABLE console_sessions ADD COLUMN grant_key text NOT NULL DEFAULT '';
ALTER TABLE console_sessions ADD COLUMN generation bigint NOT NULL DEFAULT 0;
ALTER TABLE console_logins ADD COLUMN generation bigint NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE console_logins DROP COLUMN generation;
ALTER TABLE console_sessions DROP COLUMN generation;
ALTER TABLE console_sessions DROP COLUMN grant_key;
ALTER TABLE console_sessions DROP COLUMN user_id;
DROP TABLE console_generation;
