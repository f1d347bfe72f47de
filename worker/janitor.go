package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/igdirect/bridge/store"
)

// janitorInterval: agents' files live an hour; deleting them at most ten minutes late
// keeps the table small without a query per send.
const janitorInterval = 10 * time.Minute

// intentRetention is how long a delivery intent is kept. It is read when a send is retried
// (by Temporal, or by a conversation whose outbound queue waited through an outage) and when
// Meta's echo of the send arrives (Meta redelivers for about an hour). Nothing can be sent
// to a customer later than Meta's 7-day human-agent window after their last message, so no
// job refers to an intent older than that; 30 days leaves room for a conversation suspended
// by an operator and resumed. Without the purge the table grows by a row per message for
// ever (issue 19).
const intentRetention = 30 * 24 * time.Hour

// purger is the part of the store the janitor uses.
type purger interface {
	PurgeExpiredMedia(ctx context.Context) (int64, error)
	PurgeIntents(ctx context.Context, olderThan time.Duration) (int64, error)
}

var _ purger = (*store.Store)(nil)

// janitor deletes expired agent files and old delivery intents on a schedule until ctx
// ends. Every worker replica runs it; the DELETEs are idempotent.
func janitor(ctx context.Context, st purger, every time.Duration, log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		purge(ctx, log, "Expired media purged", "files", st.PurgeExpiredMedia)
		purge(ctx, log, "Old delivery intents purged", "intents", func(ctx context.Context) (int64, error) {
			return st.PurgeIntents(ctx, intentRetention)
		})
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func purge(ctx context.Context, log *slog.Logger, done, what string, run func(context.Context) (int64, error)) {
	n, err := run(ctx)
	switch {
	case err != nil && ctx.Err() == nil:
		log.Warn(done+": failed; trying again later", "error", err)
	case n > 0:
		log.Info(done, what, n)
	}
}
