-- +goose Up
-- Single-use, expiring OAuth states of the authorization workflow. The state itself is not
-- stored, only its SHA-256, so a copy of the database cannot complete a pending
-- authorization. /oauth/callback consumes a state atomically (used_at) and stores the code
-- Meta returned, sealed, until the workflow exchanges it.
CREATE TABLE oauth_states (
    state_hash  bytea PRIMARY KEY,
    workflow_id text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    -- AES-256-GCM sealed authorization code; cleared once exchanged.
    code        bytea
);

-- Long-lived user access tokens from completed authorizations, sealed. They are kept only
-- to revoke the app's permissions on uninstall (DELETE me/permissions needs a user token);
-- page tokens live in pages.access_token.
CREATE TABLE meta_user_tokens (
    id         bigserial PRIMARY KEY,
    state_hash bytea NOT NULL UNIQUE,
    token      bytea NOT NULL,
    long_lived boolean NOT NULL DEFAULT false,
    expires_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- What the last health check found wrong with a page ('' = healthy), so that only changes
-- are reported in the setup channel.
ALTER TABLE pages ADD COLUMN health_problem text NOT NULL DEFAULT '';
ALTER TABLE pages ADD COLUMN health_checked_at timestamptz;

-- +goose Down
ALTER TABLE pages DROP COLUMN health_checked_at;
ALTER TABLE pages DROP COLUMN health_problem;
DROP TABLE meta_user_tokens;
DROP TABLE oauth_states;
