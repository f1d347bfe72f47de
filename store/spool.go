package store

import (
	"context"
	"fmt"

	"github.com/jmoiron/sqlx"
)

// The inbound queue's overflow (schema 00009): events a conversation keeps in PostgreSQL
// while its queue in the workflow is full. Their JSON is sealed like the tokens (it holds
// what customers wrote), bound to its row.

// SpooledEvent is one event of the overflow: its order (Meta's timestamp, then its key) and
// its JSON.
type SpooledEvent struct {
	TS   int64
	Key  string
	Data []byte
}

func spoolBinding(workflowID string, ts int64, key string) string {
	return fmt.Sprintf("inbound_spool:%s:%d:%s", workflowID, ts, key)
}

// SpoolEvents writes events of the conversation's overflow (a repeated write changes
// nothing) and deletes the rows up to ackTS/ackKey (read back before: the conversation
// holds them); ackKey "" deletes nothing.
func (s *Store) SpoolEvents(ctx context.Context, workflowID string, events []SpooledEvent, ackTS int64, ackKey string) error {
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if err := deleteTaken(ctx, tx, workflowID, ackTS, ackKey); err != nil {
		return err
	}
	for _, ev := range events {
		sealed, err := s.sealer.Seal(string(ev.Data), spoolBinding(workflowID, ev.TS, ev.Key))
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO inbound_spool (workflow_id, ts, key, event) VALUES ($1, $2, $3, $4)
			ON CONFLICT DO NOTHING`, workflowID, ev.TS, ev.Key, sealed); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// UnspoolEvents deletes the conversation's rows up to (afterTS, afterKey) — read back
// before — and returns the limit first events after it, in order, how many are left after
// those, and the first of those (its order).
func (s *Store) UnspoolEvents(ctx context.Context, workflowID string, afterTS int64, afterKey string, limit int) (
	events []SpooledEvent, remaining int, next SpooledEvent, err error) {
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return nil, 0, SpooledEvent{}, err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if err := deleteTaken(ctx, tx, workflowID, afterTS, afterKey); err != nil {
		return nil, 0, SpooledEvent{}, err
	}
	var rows []struct {
		TS    int64  `db:"ts"`
		Key   string `db:"key"`
		Event []byte `db:"event"`
	}
	if err := tx.SelectContext(ctx, &rows, `SELECT ts, key, event FROM inbound_spool WHERE workflow_id = $1
		ORDER BY ts, key LIMIT $2`, workflowID, limit+1); err != nil {
		return nil, 0, SpooledEvent{}, err
	}
	for i, r := range rows {
		if i == limit {
			next = SpooledEvent{TS: r.TS, Key: r.Key}
			break
		}
		plain, err := s.sealer.Open(r.Event, spoolBinding(workflowID, r.TS, r.Key))
		if err != nil {
			return nil, 0, SpooledEvent{}, fmt.Errorf("inbound spool row %d/%s: %w", r.TS, r.Key, err)
		}
		events = append(events, SpooledEvent{TS: r.TS, Key: r.Key, Data: []byte(plain)})
	}
	var total int
	if err := tx.GetContext(ctx, &total, `SELECT count(*) FROM inbound_spool WHERE workflow_id = $1`, workflowID); err != nil {
		return nil, 0, SpooledEvent{}, err
	}
	return events, total - len(events), next, tx.Commit()
}

func deleteTaken(ctx context.Context, tx *sqlx.Tx, workflowID string, ts int64, key string) error {
	if key == "" {
		return nil
	}
	_, err := tx.ExecContext(ctx, `DELETE FROM inbound_spool WHERE workflow_id = $1 AND (ts < $2 OR ts = $2 AND key <= $3)`,
		workflowID, ts, key)
	return err
}

// DropSpool deletes the conversation's overflow (its run completed with nothing waiting).
func (s *Store) DropSpool(ctx context.Context, workflowID string) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM inbound_spool WHERE workflow_id = $1`, workflowID)
	return err
}
