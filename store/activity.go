package store

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Webhook activity: when each kind of call last reached ingress. Ingress counts calls in
// memory and writes them here every few seconds (ingress/activity.go), so the hot path of a
// webhook costs no database write.

// Activity is one (source, account, kind) counter.
type Activity struct {
	Source  string    `db:"source" json:"source"`   // "instagram" or "rocketchat"
	Account string    `db:"account" json:"account"` // Instagram account id; "" when none applies
	Kind    string    `db:"kind" json:"kind"`       // event kind, or "refused:<why>"
	FirstAt time.Time `db:"first_at" json:"first_at"`
	LastAt  time.Time `db:"last_at" json:"last_at"`
	Count   int64     `db:"count" json:"count"`
}

// RecordActivity adds counts: first_at keeps the earliest time, last_at the latest, so
// replicas writing in any order agree.
func (s *Store) RecordActivity(ctx context.Context, rows []Activity) error {
	if len(rows) == 0 {
		return nil
	}
	var (
		values []string
		args   []any
	)
	for i, r := range rows {
		n := i * 6
		values = append(values, fmt.Sprintf("($%d, $%d, $%d, $%d, $%d, $%d)", n+1, n+2, n+3, n+4, n+5, n+6))
		args = append(args, r.Source, r.Account, r.Kind, r.FirstAt, r.LastAt, r.Count)
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO webhook_activity (source, account, kind, first_at, last_at, count)
		VALUES `+strings.Join(values, ", ")+`
		ON CONFLICT (source, account, kind) DO UPDATE SET
			first_at = LEAST(webhook_activity.first_at, EXCLUDED.first_at),
			last_at = GREATEST(webhook_activity.last_at, EXCLUDED.last_at),
			count = webhook_activity.count + EXCLUDED.count`, args...)
	return err
}

// WebhookActivity returns every counter, newest first.
func (s *Store) WebhookActivity(ctx context.Context) ([]Activity, error) {
	var out []Activity
	err := s.db.SelectContext(ctx, &out, `SELECT source, account, kind, first_at, last_at, count
		FROM webhook_activity ORDER BY last_at DESC`)
	return out, err
}

// Sources of webhook activity, and the prefix of kinds that count refused calls.
const (
	SourceInstagram  = "instagram"  // Meta's webhooks
	SourceRocketChat = "rocketchat" // Rocket.Chat's Omnichannel webhook
	SourceCommand    = "command"    // Rocket.Chat's outgoing integration (commands)
	RefusedPrefix    = "refused:"
)
