package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
)

// The web console's sign-in links and sessions. Both are bearer secrets, so only their
// SHA-256 is stored: a copy of the database signs nobody in.

// Sign-in link refusals: what the person who opened the link is told.
var (
	ErrLoginUnknown = errors.New("no such sign-in link")
	ErrLoginExpired = errors.New("the sign-in link has expired")
	ErrLoginUsed    = errors.New("the sign-in link was already used")
)

// ConsoleLogin is who a sign-in link was made for.
type ConsoleLogin struct {
	UserID    string    `db:"user_id"`
	Username  string    `db:"username"`
	ExpiresAt time.Time `db:"expires_at"`
	// Generation is the console generation the link was made in (see EndConsoleSessions).
	Generation int64 `db:"generation"`
}

// currentGeneration is the console generation in SQL: sessions and links of any other one
// are dead.
const currentGeneration = `(SELECT generation FROM console_generation)`

func secretHash(s string) []byte {
	sum := sha256.Sum256([]byte(s))
	return sum[:]
}

// CreateConsoleLogin stores a single-use sign-in link token for a Rocket.Chat user and
// returns when it expires.
func (s *Store) CreateConsoleLogin(ctx context.Context, token, userID, username string, ttl time.Duration) (time.Time, error) {
	var exp time.Time
	err := s.db.GetContext(ctx, &exp, `INSERT INTO console_logins (token_hash, user_id, username, expires_at, generation)
		VALUES ($1, $2, $3, now() + $4 * interval '1 millisecond', `+currentGeneration+`) RETURNING expires_at`,
		secretHash(token), userID, username, ttl.Milliseconds())
	return exp, err
}

// PeekConsoleLogin says whom a link is for without using it (the page that asks the
// person to confirm), or why it cannot be used.
func (s *Store) PeekConsoleLogin(ctx context.Context, token string) (ConsoleLogin, error) {
	var row struct {
		ConsoleLogin
		Used    bool `db:"used"`
		Expired bool `db:"expired"`
	}
	err := s.db.GetContext(ctx, &row, `SELECT user_id, username, expires_at, generation, used_at IS NOT NULL AS used,
		expires_at <= now() AS expired FROM console_logins WHERE token_hash = $1 AND generation = `+currentGeneration, secretHash(token))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return ConsoleLogin{}, ErrLoginUnknown
	case err != nil:
		return ConsoleLogin{}, err
	case row.Used:
		return row.ConsoleLogin, ErrLoginUsed
	case row.Expired:
		return row.ConsoleLogin, ErrLoginExpired
	}
	return row.ConsoleLogin, nil
}

// ConsumeConsoleLogin uses a link, once: of two requests with the same token exactly one
// succeeds.
func (s *Store) ConsumeConsoleLogin(ctx context.Context, token string) (ConsoleLogin, error) {
	var l ConsoleLogin
	err := s.db.GetContext(ctx, &l, `UPDATE console_logins SET used_at = now()
		WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now() AND generation = `+currentGeneration+`
		RETURNING user_id, username, expires_at, generation`, secretHash(token))
	if errors.Is(err, sql.ErrNoRows) {
		if _, perr := s.PeekConsoleLogin(ctx, token); perr != nil {
			return ConsoleLogin{}, perr
		}
		return ConsoleLogin{}, ErrLoginUsed // used between the two statements
	}
	return l, err
}

// ConsoleSession is a signed-in admin.
type ConsoleSession struct {
	Who string `db:"who"`
	Via string `db:"via"`
	// UserID is the Rocket.Chat user of a session from a sign-in link ("" for a token).
	UserID string `db:"user_id"`
	// Grant names what granted the session, checked on every request: "token:<fingerprint
	// of ADMIN_API_TOKEN>" or "rocketchat:<user id>". "" (a session older than grants)
	// never counts.
	Grant     string    `db:"grant_key"`
	ExpiresAt time.Time `db:"expires_at"`
	// Generation: 0 when creating means the current one; a session from a link is made
	// in the link's generation, so a sign-out everywhere between the two kills it too.
	Generation int64 `db:"generation"`
}

// CreateConsoleSession stores a session under the SHA-256 of its id, and drops expired
// sessions and sign-in links on the way.
func (s *Store) CreateConsoleSession(ctx context.Context, id string, cs ConsoleSession, ttl time.Duration) (time.Time, error) {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM console_sessions WHERE expires_at <= now()`); err != nil {
		return time.Time{}, err
	}
	if _, err := s.db.ExecContext(ctx, `DELETE FROM console_logins WHERE expires_at <= now() - interval '1 day'`); err != nil {
		return time.Time{}, err
	}
	var exp time.Time
	err := s.db.GetContext(ctx, &exp, `INSERT INTO console_sessions (id_hash, who, via, user_id, grant_key, generation, expires_at)
		VALUES ($1, $2, $3, $4, $5, CASE WHEN $6 = 0 THEN `+currentGeneration+` ELSE $6 END, now() + $7 * interval '1 millisecond')
		RETURNING expires_at`, secretHash(id), cs.Who, cs.Via, cs.UserID, cs.Grant, cs.Generation, ttl.Milliseconds())
	return exp, err
}

// ConsoleSessionByID returns a session of the current generation that has not expired
// (ErrNotFound otherwise).
func (s *Store) ConsoleSessionByID(ctx context.Context, id string) (ConsoleSession, error) {
	var cs ConsoleSession
	err := s.db.GetContext(ctx, &cs, `SELECT who, via, user_id, grant_key, expires_at, generation FROM console_sessions
		WHERE id_hash = $1 AND expires_at > now() AND generation = `+currentGeneration, secretHash(id))
	if errors.Is(err, sql.ErrNoRows) {
		return cs, ErrNotFound
	}
	return cs, err
}

// DeleteConsoleSession ends a session (sign out).
func (s *Store) DeleteConsoleSession(ctx context.Context, id string) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM console_sessions WHERE id_hash = $1`, secretHash(id))
	return err
}

// EndedSessions counts what EndConsoleSessions ended.
type EndedSessions struct {
	Sessions int `json:"sessions"`
	Links    int `json:"links"`
}

// EndConsoleSessions signs everyone out of the console: it starts a new generation, so
// every session and unused sign-in link of the old one is dead at once on every replica
// (also one being created right now from a link), and deletes them.
func (s *Store) EndConsoleSessions(ctx context.Context) (EndedSessions, error) {
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return EndedSessions{}, err
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	ended, err := endConsoleSessions(ctx, tx)
	if err != nil {
		return ended, err
	}
	return ended, tx.Commit()
}

func endConsoleSessions(ctx context.Context, tx *sqlx.Tx) (EndedSessions, error) {
	var e EndedSessions
	if _, err := tx.ExecContext(ctx, `UPDATE console_generation SET generation = generation + 1, changed_at = now()`); err != nil {
		return e, fmt.Errorf("end console sessions: %w", err)
	}
	res, err := tx.ExecContext(ctx, `DELETE FROM console_sessions WHERE expires_at > now()`)
	if err != nil {
		return e, fmt.Errorf("end console sessions: %w", err)
	}
	n, _ := res.RowsAffected()
	e.Sessions = int(n)
	if res, err = tx.ExecContext(ctx, `DELETE FROM console_logins WHERE used_at IS NULL AND expires_at > now()`); err != nil {
		return e, fmt.Errorf("end console sessions: %w", err)
	}
	n, _ = res.RowsAffected()
	e.Links = int(n)
	if _, err := tx.ExecContext(ctx, `DELETE FROM console_sessions`); err != nil {
		return e, fmt.Errorf("end console sessions: %w", err)
	}
	return e, nil
}
