package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Account administration: what authorization, subscriptions, the health check and the
// admin commands need beyond store.go.

// PageAndToken returns a page by its Facebook page ID with its clear token
// (ErrNotFound when there is no such page or it has no token).
func (s *Store) PageAndToken(ctx context.Context, pageID string) (Page, string, error) {
	p, err := s.getPage(ctx, `SELECT `+pageColumns+` FROM pages WHERE page_id = $1`, pageID)
	if err != nil {
		return Page{}, "", err
	}
	var sealed []byte
	if err := s.db.GetContext(ctx, &sealed, `SELECT access_token FROM pages WHERE page_id = $1`, pageID); err != nil {
		return Page{}, "", err
	}
	if sealed == nil {
		return p, "", ErrNotFound
	}
	token, err := s.sealer.Open(sealed, pageID)
	return p, token, err
}

// SetSubscribed records whether the page's webhooks are subscribed (what the admin wants
// and Meta confirmed); the health check re-subscribes only pages marked subscribed.
func (s *Store) SetSubscribed(ctx context.Context, pageID string, subscribed bool) error {
	return s.updatePage(ctx, `UPDATE pages SET subscribed = $2, updated_at = now() WHERE page_id = $1`, pageID, subscribed)
}

// MarkNeedsReauth flags a page whose token Meta no longer accepts.
func (s *Store) MarkNeedsReauth(ctx context.Context, pageID string) error {
	return s.updatePage(ctx, `UPDATE pages SET needs_reauth = true, updated_at = now() WHERE page_id = $1`, pageID)
}

func (s *Store) updatePage(ctx context.Context, q string, args ...any) error {
	res, err := s.db.ExecContext(ctx, q, args...)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// RecordHealth stores what a health check found wrong with a page ("" = nothing) and
// returns what the previous check had found.
func (s *Store) RecordHealth(ctx context.Context, pageID, problem string) (previous string, err error) {
	err = s.db.GetContext(ctx, &previous, `UPDATE pages p SET health_problem = $2, health_checked_at = now()
		FROM (SELECT page_id, health_problem FROM pages WHERE page_id = $1 FOR UPDATE) old
		WHERE p.page_id = old.page_id RETURNING old.health_problem`, pageID, problem)
	if errors.Is(err, sql.ErrNoRows) {
		return "", ErrNotFound
	}
	return previous, err
}

// ClearHealthProblem forgets what the last health check found, for a page that was just
// connected again: the next check starts from a clean slate.
func (s *Store) ClearHealthProblem(ctx context.Context, pageID string) error {
	return s.updatePage(ctx, `UPDATE pages SET health_problem = '' WHERE page_id = $1`, pageID)
}

// PageHealth is the health-check record of a page.
type PageHealth struct {
	PageID    string     `db:"page_id" json:"page_id"`
	Problem   string     `db:"health_problem" json:"problem"`
	CheckedAt *time.Time `db:"health_checked_at" json:"checked_at,omitempty"`
}

// Health returns the health-check record of every page, by page ID.
func (s *Store) Health(ctx context.Context) (map[string]PageHealth, error) {
	var rows []PageHealth
	if err := s.db.SelectContext(ctx, &rows, `SELECT page_id, health_problem, health_checked_at FROM pages`); err != nil {
		return nil, err
	}
	out := make(map[string]PageHealth, len(rows))
	for _, r := range rows {
		out[r.PageID] = r
	}
	return out, nil
}

// SetSettings stores several application settings at once: all or none. Callers validate
// them first (appsettings.Validate).
func (s *Store) SetSettings(ctx context.Context, values map[string]string) error {
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	for k, v := range values {
		if _, err := tx.ExecContext(ctx, `INSERT INTO app_settings (key, value) VALUES ($1, $2)
			ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()`, k, v); err != nil {
			return fmt.Errorf("store setting %s: %w", k, err)
		}
	}
	return tx.Commit()
}

// FlagNeedsReauth marks a page whose token Meta refused (Graph error 190) and reports whether
// it was not marked before, so the re-authorization prompt is posted once.
func (s *Store) FlagNeedsReauth(ctx context.Context, account string) (page Page, first bool, err error) {
	var pageID string
	err = s.db.GetContext(ctx, &pageID, `UPDATE pages SET needs_reauth = true, updated_at = now()
		WHERE ig_account_id = $1 AND NOT needs_reauth RETURNING page_id`, account)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		page, err = s.PageByAccount(ctx, account)
		return page, false, err
	case err != nil:
		return Page{}, false, err
	}
	page, err = s.PageByAccount(ctx, account)
	return page, true, err
}
