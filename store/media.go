package store

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// Media is a stored file on its way to Instagram.
type Media struct {
	ID          string `db:"id"`
	ContentType string `db:"content_type"`
	Filename    string `db:"filename"`
	Data        []byte `db:"data"`
}

// PutMedia stores a file until expires, and removes files whose time is up.
func (s *Store) PutMedia(ctx context.Context, m Media, expires time.Time) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM media WHERE expires_at < now()`); err != nil {
		return err
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO media (id, content_type, filename, data, expires_at)
		VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO UPDATE SET expires_at = EXCLUDED.expires_at`,
		m.ID, m.ContentType, m.Filename, m.Data, expires)
	return err
}

// PurgeExpiredMedia deletes the files whose time is up and returns how many. The worker
// runs it on a schedule: PutMedia alone would leave the last files of a quiet period in the
// database for good.
func (s *Store) PurgeExpiredMedia(ctx context.Context) (int64, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM media WHERE expires_at < now()`)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// GetMedia returns a file that has not expired.
func (s *Store) GetMedia(ctx context.Context, id string) (Media, error) {
	var m Media
	err := s.db.GetContext(ctx, &m, `SELECT id, content_type, filename, data FROM media WHERE id = $1 AND expires_at > now()`, id)
	if errors.Is(err, sql.ErrNoRows) {
		return Media{}, ErrNotFound
	}
	return m, err
}
