-- +goose Up
-- Sign-in links of the web console (`instagram console`): single-use, valid 10 minutes. Only
-- the SHA-256 of the link's token is stored, so a copy of the database cannot sign anyone in.
CREATE TABLE console_logins (
    token_hash  bytea PRIMARY KEY,
    user_id     text NOT NULL DEFAULT '',
    username    text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz
);

-- Console sessions (8 hours). The cookie holds a random id; only its SHA-256 is stored here,
-- so every ingress replica can check a session and signing out ends it everywhere.
CREATE TABLE console_sessions (
    id_hash     bytea PRIMARY KEY,
    who         text NOT NULL,
    via         text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL
);
CREATE INDEX console_sessions_expires_at ON console_sessions (expires_at);

-- When each kind of webhook last reached ingress, per source and Instagram account: what
-- `instagram doctor` answers "does Meta deliver this account's messages?" and "has
-- Rocket.Chat's Omnichannel webhook ever called us?" with. Refused calls (a wrong signature
-- or token) are kept too, under account '' and a kind starting with "refused:".
CREATE TABLE webhook_activity (
    source      text NOT NULL,
    account     text NOT NULL,
    kind        text NOT NULL,
    first_at    timestamptz NOT NULL,
    last_at     timestamptz NOT NULL,
    count       bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (source, account, kind)
);

-- When an uninstall removed the page's token: the page is listed as removed, not as a
-- connected page with a broken token. Connecting it again clears it.
ALTER TABLE pages ADD COLUMN removed_at timestamptz;

-- +goose Down
ALTER TABLE pages DROP COLUMN removed_at;
DROP TABLE webhook_activity;
DROP TABLE console_sessions;
DROP TABLE console_logins;
