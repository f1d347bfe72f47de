// Package store is the PostgreSQL repository (sqlx over lib/pq) for connected pages, their
// configuration and sealed tokens, and application settings.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq" // PostgreSQL driver
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/igdirect/bridge/internal/keys"
	"github.com/igdirect/bridge/schema"
)

// ErrNotFound is returned when no row matches.
var ErrNotFound = errors.New("not found")

// Store is safe for concurrent use.
type Store struct {
	db     *sqlx.DB
	sealer *Sealer
}

// Open connects (retrying briefly, so a process may start before PostgreSQL) and checks
// the connection. It does not migrate; call Migrate.
func Open(ctx context.Context, dsn string, sealer *Sealer) (*Store, error) {
	db, err := sqlx.Open("postgres", dsn)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	db.SetMaxOpenConns(20)
	db.SetMaxIdleConns(10)
	db.SetConnMaxIdleTime(5 * time.Minute)
	var pingErr error
	for attempt := 0; attempt < 30; attempt++ {
		if pingErr = db.PingContext(ctx); pingErr == nil {
			return &Store{db: db, sealer: sealer}, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
	db.Close()
	return nil, fmt.Errorf("connect to database: %w", pingErr)
}

// Migrate applies the embedded migrations under a PostgreSQL advisory lock.
func (s *Store) Migrate(ctx context.Context) error {
	// Retry the lock every second (the default is every 5 s): a worker and an ingress that
	// start together otherwise wait seconds for each other.
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockTimeout(1, 120))
	if err != nil {
		return err
	}
	p, err := goose.NewProvider(goose.DialectPostgres, s.db.DB, schema.FS, goose.WithSessionLocker(locker))
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("apply migrations: %w", err)
	}
	return nil
}

// Ping checks the database, for readiness probes.
func (s *Store) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

// Close closes the pool.
func (s *Store) Close() error { return s.db.Close() }

// Page is a connected page and its per-page configuration. The token is not a field: it
// is only ever read through PageToken, so a Page can be logged or returned by the admin API.
type Page struct {
	PageID          string    `db:"page_id" json:"page_id"`
	IGAccountID     string    `db:"ig_account_id" json:"ig_account_id"`
	IGUsername      string    `db:"ig_username" json:"ig_username"`
	Name            string    `db:"name" json:"name"`
	HasToken        bool      `db:"has_token" json:"has_token"`
	Subscribed      bool      `db:"subscribed" json:"subscribed"`
	NeedsReauth     bool      `db:"needs_reauth" json:"needs_reauth"`
	Department      string    `db:"department" json:"department"`
	WelcomeMessage  string    `db:"welcome_message" json:"welcome_message"`
	FinishedMessage string    `db:"finished_message" json:"finished_message"`
	OfflineMessage  string    `db:"offline_message" json:"offline_message"`
	CreatedAt       time.Time `db:"created_at" json:"created_at"`
	UpdatedAt       time.Time `db:"updated_at" json:"updated_at"`
	// RemovedAt is when an uninstall removed the page's token (nil: never, or connected
	// again since). A removed page is listed as removed, not as broken.
	RemovedAt *time.Time `db:"removed_at" json:"removed_at,omitempty"`
}

const pageColumns = `page_id, ig_account_id, ig_username, name, access_token IS NOT NULL AS has_token,
	subscribed, needs_reauth, department, welcome_message, finished_message, offline_message, created_at, updated_at, removed_at`

// PageByAccount finds a page by its Instagram account ID (webhook entry.id).
func (s *Store) PageByAccount(ctx context.Context, account string) (Page, error) {
	return s.getPage(ctx, `SELECT `+pageColumns+` FROM pages WHERE ig_account_id = $1`, account)
}

// FindPage finds a page by page ID, Instagram account ID or Instagram username (with or
// without a leading @), which is what admins type.
func (s *Store) FindPage(ctx context.Context, ref string) (Page, error) {
	ref = strings.TrimPrefix(strings.TrimSpace(ref), "@")
	return s.getPage(ctx, `SELECT `+pageColumns+` FROM pages
		WHERE page_id = $1 OR ig_account_id = $1 OR (ig_username <> '' AND lower(ig_username) = lower($1))
		ORDER BY page_id = $1 DESC LIMIT 1`, ref)
}

// Pages lists every page, ordered by username.
func (s *Store) Pages(ctx context.Context) ([]Page, error) {
	var out []Page
	err := s.db.SelectContext(ctx, &out, `SELECT `+pageColumns+` FROM pages ORDER BY lower(ig_username), page_id`)
	return out, err
}

func (s *Store) getPage(ctx context.Context, q string, args ...any) (Page, error) {
	var p Page
	err := s.db.GetContext(ctx, &p, q, args...)
	if errors.Is(err, sql.ErrNoRows) {
		return Page{}, ErrNotFound
	}
	return p, err
}

// ConnectPage inserts or updates a page's identity and token (sealed). Configuration
// columns keep their values on update, so re-authorizing never loses a page's settings.
func (s *Store) ConnectPage(ctx context.Context, p Page, token string) error {
	sealed, err := s.sealer.Seal(token, p.PageID)
	if err != nil {
		return err
	}
	_, err = s.db.ExecContext(ctx, `INSERT INTO pages (page_id, ig_account_id, ig_username, name, access_token, needs_reauth)
		VALUES ($1, $2, $3, $4, $5, false)
		ON CONFLICT (page_id) DO UPDATE SET ig_account_id = EXCLUDED.ig_account_id,
			ig_username = EXCLUDED.ig_username, name = EXCLUDED.name,
			access_token = EXCLUDED.access_token, needs_reauth = false, removed_at = NULL, updated_at = now()`,
		p.PageID, p.IGAccountID, p.IGUsername, p.Name, sealed)
	return err
}

// PageConfig is the editable per-page configuration; nil fields are left unchanged.
type PageConfig struct {
	Department      *string `json:"department,omitempty"`
	WelcomeMessage  *string `json:"welcome_message,omitempty"`
	FinishedMessage *string `json:"finished_message,omitempty"`
	OfflineMessage  *string `json:"offline_message,omitempty"`
}

// UpdatePageConfig changes the configuration of the page found by ref (see FindPage).
func (s *Store) UpdatePageConfig(ctx context.Context, ref string, c PageConfig) (Page, error) {
	p, err := s.FindPage(ctx, ref)
	if err != nil {
		return Page{}, err
	}
	_, err = s.db.ExecContext(ctx, `UPDATE pages SET
		department = COALESCE($2, department), welcome_message = COALESCE($3, welcome_message),
		finished_message = COALESCE($4, finished_message), offline_message = COALESCE($5, offline_message),
		updated_at = now() WHERE page_id = $1`,
		p.PageID, c.Department, c.WelcomeMessage, c.FinishedMessage, c.OfflineMessage)
	if err != nil {
		return Page{}, err
	}
	return s.FindPage(ctx, p.PageID)
}

// PageToken returns the clear access token of the page of an Instagram account.
func (s *Store) PageToken(ctx context.Context, account string) (pageID, token string, err error) {
	var row struct {
		PageID string `db:"page_id"`
		Token  []byte `db:"access_token"`
	}
	err = s.db.GetContext(ctx, &row, `SELECT page_id, access_token FROM pages WHERE ig_account_id = $1`, account)
	if errors.Is(err, sql.ErrNoRows) {
		return "", "", ErrNotFound
	}
	if err != nil {
		return "", "", err
	}
	if row.Token == nil {
		return row.PageID, "", ErrNotFound
	}
	token, err = s.sealer.Open(row.Token, row.PageID)
	return row.PageID, token, err
}

// Settings returns every stored application setting.
func (s *Store) Settings(ctx context.Context) (map[string]string, error) {
	rows, err := s.db.QueryxContext(ctx, `SELECT key, value FROM app_settings`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return nil, err
		}
		out[k] = v
	}
	return out, rows.Err()
}

// SetSetting stores one application setting.
func (s *Store) SetSetting(ctx context.Context, key, value string) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO app_settings (key, value) VALUES ($1, $2)
		ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()`, key, value)
	return err
}

// OpenMigrated is how both processes start with the database: it connects (waiting for
// PostgreSQL) and applies the migrations. Secrets are sealed with the ring's current key
// and opened with any of its keys; a seal-only store (ingress) never opens one.
func OpenMigrated(ctx context.Context, dsn string, ring *keys.Ring, sealOnly bool) (*Store, error) {
	sealer, err := NewSealer(ring)
	if err != nil {
		return nil, err
	}
	if sealOnly {
		sealer = sealer.SealOnly()
	}
	st, err := Open(ctx, dsn, sealer)
	if err != nil {
		return nil, err
	}
	if err := st.Migrate(ctx); err != nil {
		st.Close()
		return nil, err
	}
	return st, nil
}
