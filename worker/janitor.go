package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/igdirect/bridge/store"
)

// mediaPurgeInterval: agents' files live an hour; deleting them at most ten minutes late
// keeps the table small without a query per send.
const mediaPurgeInterval = 10 * time.Minute

// purgeMedia deletes expired agent files on a schedule until ctx ends. Every worker
// replica runs it; the DELETE is idempotent.
func purgeMedia(ctx context.Context, st *store.Store, every time.Duration, log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		n, err := st.PurgeExpiredMedia(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			log.Warn("Expired media not purged; trying again later", "error", err)
		case n > 0:
			log.Info("Expired media purged", "files", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
