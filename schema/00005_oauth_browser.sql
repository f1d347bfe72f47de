-- +goose Up
-- The browser that opened an authorization link (/oauth/start) is the only one whose
-- callback counts: it gets a random cookie, whose SHA-256 is stored here, and
-- /oauth/callback requires it. A link that leaks after it was opened is useless, and a
-- forged callback cannot connect an attacker's accounts through an admin's browser.
ALTER TABLE oauth_states ADD COLUMN browser_hash bytea;

-- +goose Down
ALTER TABLE oauth_states DROP COLUMN browser_hash;
