-- +goose Up
-- Agents' files on their way to Instagram: Meta fetches attachment media by URL, so the
-- worker stores a file here for a short time and ingress serves it under a signed URL.
-- Rows are deleted after they expire.
CREATE TABLE media (
    id           text PRIMARY KEY,
    content_type text NOT NULL,
    filename     text NOT NULL,
    data         bytea NOT NULL,
    expires_at   timestamptz NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX media_expires_at ON media (expires_at);

-- +goose Down
DROP TABLE media;
