-- +goose Up
-- One row per connected Facebook page with its linked Instagram professional account.
-- Webhooks identify the account by ig_account_id (entry.id); admins may use either ID or
-- the Instagram username.
CREATE TABLE pages (
    page_id          text PRIMARY KEY,
    ig_account_id    text NOT NULL UNIQUE,
    ig_username      text NOT NULL DEFAULT '',
    name             text NOT NULL DEFAULT '',
    -- AES-256-GCM sealed page access token (nonce || ciphertext); never stored in clear.
    access_token     bytea,
    subscribed       boolean NOT NULL DEFAULT false,
    needs_reauth     boolean NOT NULL DEFAULT false,
    department       text NOT NULL DEFAULT '',
    welcome_message  text NOT NULL DEFAULT '',
    finished_message text NOT NULL DEFAULT '',
    offline_message  text NOT NULL DEFAULT '',
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX pages_ig_username ON pages (lower(ig_username)) WHERE ig_username <> '';

-- Application-wide settings (agent display name, file sharing, unsend behaviour, ...), as
-- key/value text so a new setting needs no migration; typed and validated in code.
CREATE TABLE app_settings (
    key        text PRIMARY KEY,
    value      text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE app_settings;
DROP TABLE pages;
