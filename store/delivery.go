package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/lib/pq"
)

// Delivery intent states (schema 00004).
const (
	IntentCalling = "calling"  // a call was (or is being) made; its outcome is not recorded
	IntentDone    = "done"     // the other side took it; MessageID says as what
	IntentNotDone = "not_done" // the last call certainly did not deliver: calling again is safe
)

// Intent is the recorded state of one delivery.
type Intent struct {
	State     string
	MessageID string
	Attempts  int
	// Since is when the recorded attempt began (State calling): the unknown outcome's call
	// was made after it.
	Since time.Time
}

// BeginIntent records that a call for key is about to be made and returns what was recorded
// before: a zero Intent for a new key; State done for a delivery already made (don't call
// again); State calling for an earlier attempt whose outcome was never recorded (the call
// may have been delivered: resolve it first). For a new or not_done key the intent is now
// calling; for the others it is left as it was.
func (s *Store) BeginIntent(ctx context.Context, key, account, igsid string) (Intent, error) {
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return Intent{}, err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	var prev struct {
		State     string         `db:"state"`
		MessageID sql.NullString `db:"message_id"`
		Attempts  int            `db:"attempts"`
		UpdatedAt time.Time      `db:"updated_at"`
	}
	err = tx.GetContext(ctx, &prev, `SELECT state, message_id, attempts, updated_at FROM delivery_intents WHERE key = $1 FOR UPDATE`, key)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		_, err = tx.ExecContext(ctx, `INSERT INTO delivery_intents (key, account, igsid, state) VALUES ($1, $2, $3, 'calling')
			ON CONFLICT (key) DO NOTHING`, key, account, igsid)
		prev.State = ""
	case err != nil:
	case prev.State == IntentNotDone:
		_, err = tx.ExecContext(ctx, `UPDATE delivery_intents SET state = 'calling', attempts = attempts + 1, updated_at = now()
			WHERE key = $1`, key)
		prev.State = "" // a fresh attempt
	}
	if err != nil {
		return Intent{}, err
	}
	if err := tx.Commit(); err != nil {
		return Intent{}, err
	}
	in := Intent{State: prev.State, MessageID: prev.MessageID.String, Attempts: prev.Attempts}
	if in.State == IntentCalling {
		in.Since = prev.UpdatedAt
	}
	return in, nil
}

// RetryIntent turns an unresolved (calling) intent into a fresh attempt: the caller has
// established that the earlier call did not deliver (no echo came).
func (s *Store) RetryIntent(ctx context.Context, key string) error {
	_, err := s.db.ExecContext(ctx, `UPDATE delivery_intents SET attempts = attempts + 1, updated_at = now()
		WHERE key = $1 AND state = 'calling'`, key)
	return err
}

// FinishIntent records the outcome of a call: delivered (done, with the other side's id) or
// certainly not delivered (not_done: the next attempt may call again).
func (s *Store) FinishIntent(ctx context.Context, key string, delivered bool, messageID string) error {
	state := IntentNotDone
	if delivered {
		state = IntentDone
	}
	_, err := s.db.ExecContext(ctx, `UPDATE delivery_intents SET state = $2, message_id = NULLIF($3, ''), updated_at = now()
		WHERE key = $1`, key, state, messageID)
	return err
}

// SettleIntent records how an unknown outcome turned out — only while the intent is still
// calling in that attempt (its attempts count): an attempt that began since (the message
// was sent again, its own outcome unknown) is not overwritten by the settling of an older
// one. It reports whether it recorded the outcome.
func (s *Store) SettleIntent(ctx context.Context, key string, attempt int, delivered bool, messageID string) (bool, error) {
	state := IntentNotDone
	if delivered {
		state = IntentDone
	}
	res, err := s.db.ExecContext(ctx, `UPDATE delivery_intents SET state = $3, message_id = NULLIF($4, ''), updated_at = now()
		WHERE key = $1 AND attempts = $2 AND state = 'calling'`, key, attempt, state, messageID)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// DeliveredAs returns the other side's id of a delivery already made ("" when the key has
// no delivery recorded): an upload's room message, whose _id Rocket.Chat chose.
func (s *Store) DeliveredAs(ctx context.Context, key string) (string, error) {
	var id sql.NullString
	err := s.db.GetContext(ctx, &id, `SELECT message_id FROM delivery_intents WHERE key = $1 AND state = 'done'`, key)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return id.String, err
}

// OurMessages returns which of the Instagram message ids were sent by this service (the
// echoes of those need no attention).
func (s *Store) OurMessages(ctx context.Context, mids []string) ([]string, error) {
	if len(mids) == 0 {
		return nil, nil
	}
	var out []string
	err := s.db.SelectContext(ctx, &out, `SELECT message_id FROM delivery_intents WHERE message_id = ANY($1)`, pq.Array(mids))
	return out, err
}

// SendInFlight tells whether a call for the conversation (account, igsid) began within the
// last minute and has no recorded outcome yet: Meta's echo of a send can arrive before the
// send's answer, and ingress then waits a moment for the answer instead of signalling the
// echo. Older "calling" intents are unknown outcomes the conversation settles itself.
func (s *Store) SendInFlight(ctx context.Context, account, igsid string) (bool, error) {
	var inFlight bool
	err := s.db.GetContext(ctx, &inFlight, `SELECT EXISTS (SELECT 1 FROM delivery_intents
		WHERE account = $1 AND igsid = $2 AND state = 'calling' AND updated_at > now() - interval '1 minute')`,
		account, igsid)
	return inFlight, err
}

// PurgeIntents removes intents older than the age after which no retry or redelivery can
// refer to them any more.
func (s *Store) PurgeIntents(ctx context.Context, olderThan time.Duration) (int64, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM delivery_intents WHERE created_at < now() - $1::interval`,
		olderThan.String())
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// ConversationMemory returns what the conversation's last completed run left (nil: nothing):
// its dedup keys, and the notes for the agents it could not show (JSON, opened).
func (s *Store) ConversationMemory(ctx context.Context, workflowID string) (seen, notes []byte, err error) {
	var row struct {
		Seen  []byte `db:"seen"`
		Notes []byte `db:"notes"`
	}
	err = s.db.GetContext(ctx, &row, `SELECT seen, notes FROM conversation_memory WHERE workflow_id = $1`, workflowID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, nil
	}
	if err != nil || row.Notes == nil {
		return row.Seen, nil, err
	}
	plain, err := s.sealer.Open(row.Notes, "conversation_memory:"+workflowID)
	if err != nil {
		return row.Seen, nil, fmt.Errorf("conversation memory notes: %w", err)
	}
	return row.Seen, []byte(plain), nil
}

// SaveConversationMemory keeps a completed run's memory for the next run: its dedup keys, and
// its undelivered notes (JSON, sealed: they quote customers and the business; nil: none).
func (s *Store) SaveConversationMemory(ctx context.Context, workflowID string, seen, notes []byte) error {
	var sealed []byte
	if notes != nil {
		var err error
		if sealed, err = s.sealer.Seal(string(notes), "conversation_memory:"+workflowID); err != nil {
			return err
		}
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO conversation_memory (workflow_id, seen, notes) VALUES ($1, $2, $3)
		ON CONFLICT (workflow_id) DO UPDATE SET seen = EXCLUDED.seen, notes = EXCLUDED.notes, updated_at = now()`, workflowID, seen, sealed)
	return err
}

// ClaimNotice records that the notice key is being posted; false when it was posted already
// (and its cause not cleared since).
func (s *Store) ClaimNotice(ctx context.Context, key string) (bool, error) {
	res, err := s.db.ExecContext(ctx, `INSERT INTO admin_notices (key) VALUES ($1) ON CONFLICT DO NOTHING`, key)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// ClearNotices forgets notices whose key starts with prefix (their cause is gone).
func (s *Store) ClearNotices(ctx context.Context, prefix string) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM admin_notices WHERE starts_with(key, $1)`, prefix)
	return err
}

// NoticePosted reports whether a notice key is recorded.
func (s *Store) NoticePosted(ctx context.Context, key string) (bool, error) {
	var n int
	err := s.db.GetContext(ctx, &n, `SELECT count(*) FROM admin_notices WHERE key = $1`, key)
	return n > 0, err
}
