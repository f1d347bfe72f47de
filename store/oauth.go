package store

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// Why an OAuth state was refused.
var (
	ErrStateUnknown = errors.New("this authorization link is not valid")
	ErrStateExpired = errors.New("this authorization link has expired")
	ErrStateUsed    = errors.New("this authorization link was already used")
	// ErrStateOtherBrowser: the link was opened in another browser (its binding cookie is
	// missing or different).
	ErrStateOtherBrowser = errors.New("this authorization link was opened in another browser")
)

// BrowserHash is how a browser's binding cookie is stored.
func BrowserHash(cookie string) []byte {
	sum := sha256.Sum256([]byte("oauth-browser\x00" + cookie))
	return sum[:]
}

// BindOAuthBrowser ties a valid, unused state to the browser that opens it first, and
// returns the cookie value that browser must hold. A first opening stores the hash of
// fresh (a new random value) and returns it; opening it again in the same browser
// (presented matches) returns presented; in another browser it is ErrStateOtherBrowser.
// Other refusals: ErrStateUnknown, ErrStateExpired, ErrStateUsed.
func (s *Store) BindOAuthBrowser(ctx context.Context, state, fresh, presented string) (string, error) {
	h := stateHash(state)
	res, err := s.db.ExecContext(ctx, `UPDATE oauth_states SET browser_hash = $2
		WHERE state_hash = $1 AND browser_hash IS NULL AND used_at IS NULL AND expires_at > now()`, h, BrowserHash(fresh))
	if err != nil {
		return "", err
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return fresh, nil
	}
	if _, err := s.CheckOAuthState(ctx, state); err != nil {
		return "", err
	}
	var bound []byte
	if err := s.db.GetContext(ctx, &bound, `SELECT browser_hash FROM oauth_states WHERE state_hash = $1`, h); err != nil {
		return "", err
	}
	if presented != "" && subtle.ConstantTimeCompare(bound, BrowserHash(presented)) == 1 {
		return presented, nil
	}
	return "", ErrStateOtherBrowser
}

// stateHash is the key of a state row: the state itself is never stored.
func stateHash(state string) []byte {
	sum := sha256.Sum256([]byte(state))
	return sum[:]
}

// StateHashHex is a short, non-secret name for a state (logs, notice workflow IDs).
func StateHashHex(state string) string { return hex.EncodeToString(stateHash(state))[:16] }

// Sealed values are bound to their row and purpose, so a value copied elsewhere does not
// decrypt.
func codeBinding(h []byte) string      { return "oauth-code:" + hex.EncodeToString(h) }
func userTokenBinding(h []byte) string { return "user-token:" + hex.EncodeToString(h) }

// CreateOAuthState stores a state valid for ttl and returns when it expires. Storing the
// same state again (an activity retry) keeps the first row and its expiry.
func (s *Store) CreateOAuthState(ctx context.Context, state, workflowID string, ttl time.Duration) (time.Time, error) {
	if state == "" || ttl <= 0 {
		return time.Time{}, errors.New("state and a positive lifetime are required")
	}
	// States are worthless a day after expiry; dropping them here keeps the table small
	// without a janitor process.
	if _, err := s.db.ExecContext(ctx, `DELETE FROM oauth_states WHERE expires_at < now() - interval '1 day'`); err != nil {
		return time.Time{}, err
	}
	var exp time.Time
	err := s.db.GetContext(ctx, &exp, `INSERT INTO oauth_states (state_hash, workflow_id, expires_at)
		VALUES ($1, $2, now() + $3 * interval '1 millisecond')
		ON CONFLICT (state_hash) DO UPDATE SET workflow_id = oauth_states.workflow_id
		RETURNING expires_at`, stateHash(state), workflowID, ttl.Milliseconds())
	return exp, err
}

// CheckOAuthState tells whether a state can still be used, without using it, and names its
// workflow. Errors: ErrStateUnknown, ErrStateExpired, ErrStateUsed.
func (s *Store) CheckOAuthState(ctx context.Context, state string) (workflowID string, err error) {
	var row struct {
		WorkflowID string `db:"workflow_id"`
		Used       bool   `db:"used"`
		Expired    bool   `db:"expired"`
	}
	err = s.db.GetContext(ctx, &row, `SELECT workflow_id, used_at IS NOT NULL AS used, expires_at <= now() AS expired
		FROM oauth_states WHERE state_hash = $1`, stateHash(state))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return "", ErrStateUnknown
	case err != nil:
		return "", err
	case row.Used:
		return row.WorkflowID, ErrStateUsed
	case row.Expired:
		return row.WorkflowID, ErrStateExpired
	}
	return row.WorkflowID, nil
}

// ConsumeOAuthState uses a state once, from the browser that opened it (cookie is its
// binding cookie): it marks it used, stores the code (sealed; "" when Meta returned an
// error instead) and calls deliver with the state's workflow ID, all in one transaction.
// If deliver fails (Temporal unreachable), nothing changes and the same callback can be
// retried; a concurrent second use waits for the first and is refused with ErrStateUsed.
// Other refusals: ErrStateUnknown, ErrStateExpired, ErrStateOtherBrowser (nothing is
// consumed: the right browser can still complete it).
func (s *Store) ConsumeOAuthState(ctx context.Context, state, cookie, code string, deliver func(workflowID string) error) (string, error) {
	h := stateHash(state)
	var sealed []byte
	if code != "" {
		var err error
		if sealed, err = s.sealer.Seal(code, codeBinding(h)); err != nil {
			return "", err
		}
	}
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return "", err
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	var workflowID string
	err = tx.GetContext(ctx, &workflowID, `UPDATE oauth_states SET used_at = now(), code = $2
		WHERE state_hash = $1 AND used_at IS NULL AND expires_at > now() AND browser_hash = $3 RETURNING workflow_id`,
		h, sealed, BrowserHash(cookie))
	if errors.Is(err, sql.ErrNoRows) {
		_ = tx.Rollback()
		wf, why := s.CheckOAuthState(ctx, state)
		if why == nil {
			why = ErrStateOtherBrowser
			var bound []byte
			if s.db.GetContext(ctx, &bound, `SELECT browser_hash FROM oauth_states WHERE state_hash = $1`, h) == nil &&
				cookie != "" && subtle.ConstantTimeCompare(bound, BrowserHash(cookie)) == 1 {
				why = ErrStateUsed // raced with another use that has since rolled back: refuse anyway
			}
		}
		return wf, why
	}
	if err != nil {
		return "", err
	}
	if err := deliver(workflowID); err != nil {
		return workflowID, err
	}
	return workflowID, tx.Commit()
}

// OAuthCode returns the code stored for a state; ErrNotFound once it was exchanged (or
// when Meta returned none).
//
// FOR SHARE matters: ingress signals the workflow inside the transaction that stores the
// code, so this read can come before that transaction commits. The row lock makes it wait
// for the commit (or rollback) and then read the row as committed.
func (s *Store) OAuthCode(ctx context.Context, state string) (string, error) {
	h := stateHash(state)
	var sealed []byte
	err := s.db.GetContext(ctx, &sealed, `SELECT code FROM oauth_states WHERE state_hash = $1 FOR SHARE`, h)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && sealed == nil) {
		return "", ErrNotFound
	}
	if err != nil {
		return "", err
	}
	return s.sealer.Open(sealed, codeBinding(h))
}

// SaveUserToken stores (or replaces) the user token obtained through a state, sealed, and
// forgets the state's code in the same transaction: a code is exchanged once.
// expiresIn is in seconds; 0 = unknown.
func (s *Store) SaveUserToken(ctx context.Context, state, token string, longLived bool, expiresIn int64) error {
	h := stateHash(state)
	sealed, err := s.sealer.Seal(token, userTokenBinding(h))
	if err != nil {
		return err
	}
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	if _, err := tx.ExecContext(ctx, `INSERT INTO meta_user_tokens (state_hash, token, long_lived, expires_at)
		VALUES ($1, $2, $3, CASE WHEN $4 > 0 THEN now() + $4 * interval '1 second' END)
		ON CONFLICT (state_hash) DO UPDATE SET token = EXCLUDED.token, long_lived = EXCLUDED.long_lived,
			expires_at = EXCLUDED.expires_at`, h, sealed, longLived, expiresIn); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE oauth_states SET code = NULL WHERE state_hash = $1`, h); err != nil {
		return err
	}
	return tx.Commit()
}

// UserTokenForState returns the user token obtained through a state (ErrNotFound if none
// yet) and whether it is already the long-lived one.
func (s *Store) UserTokenForState(ctx context.Context, state string) (token string, longLived bool, err error) {
	h := stateHash(state)
	var row struct {
		Token     []byte `db:"token"`
		LongLived bool   `db:"long_lived"`
	}
	err = s.db.GetContext(ctx, &row, `SELECT token, long_lived FROM meta_user_tokens WHERE state_hash = $1`, h)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, ErrNotFound
	}
	if err != nil {
		return "", false, err
	}
	token, err = s.sealer.Open(row.Token, userTokenBinding(h))
	return token, row.LongLived, err
}

// UserToken is a stored user token; Err is set when it cannot be decrypted.
type UserToken struct {
	ID    int64
	Token string
	Err   error
}

// UserTokens returns every stored user token.
func (s *Store) UserTokens(ctx context.Context) ([]UserToken, error) {
	var rows []struct {
		ID        int64  `db:"id"`
		StateHash []byte `db:"state_hash"`
		Token     []byte `db:"token"`
	}
	if err := s.db.SelectContext(ctx, &rows, `SELECT id, state_hash, token FROM meta_user_tokens ORDER BY id`); err != nil {
		return nil, err
	}
	out := make([]UserToken, len(rows))
	for i, r := range rows {
		out[i].ID = r.ID
		out[i].Token, out[i].Err = s.sealer.Open(r.Token, userTokenBinding(r.StateHash))
	}
	return out, nil
}

// DeleteUserToken forgets one user token.
func (s *Store) DeleteUserToken(ctx context.Context, id int64) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM meta_user_tokens WHERE id = $1`, id)
	return err
}

// Forgotten counts what ForgetAllTokens deleted (OAuthStates: links still pending).
type Forgotten struct{ PageTokens, UserTokens, OAuthStates int }

// ForgetAllTokens deletes every page token, user token and OAuth state (with any code not
// yet exchanged) in one transaction, and marks every page unsubscribed; it ends every
// console session and sign-in link too (EndConsoleSessions). Pages and their
// configuration stay.
func (s *Store) ForgetAllTokens(ctx context.Context) (Forgotten, error) {
	var f Forgotten
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return f, err
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	for _, step := range []struct {
		n *int
		q string
	}{
		// A removed page is not "broken": what the health check or a refused token left on it
		// goes too, so it is listed as removed and its replies get a note instead of waiting
		// for a re-authorization (activities.sendGate).
		{&f.PageTokens, `UPDATE pages SET access_token = NULL, subscribed = false, needs_reauth = false, health_problem = '',
			removed_at = now(), updated_at = now() WHERE access_token IS NOT NULL`},
		{nil, `UPDATE pages SET subscribed = false, updated_at = now() WHERE subscribed`},
		{&f.UserTokens, `DELETE FROM meta_user_tokens`},
		{&f.OAuthStates, `DELETE FROM oauth_states WHERE used_at IS NULL AND expires_at > now()`},
		{nil, `DELETE FROM oauth_states`},
	} {
		res, err := tx.ExecContext(ctx, step.q)
		if err != nil {
			return f, fmt.Errorf("forget tokens: %w", err)
		}
		if step.n != nil {
			n, _ := res.RowsAffected()
			*step.n = int(n)
		}
	}
	// An uninstall also signs everyone out of the console: sessions granted before it
	// end with it (README, "Who may change what").
	if _, err := endConsoleSessions(ctx, tx); err != nil {
		return f, err
	}
	return f, tx.Commit()
}
