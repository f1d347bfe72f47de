package activities

import (
	"context"
	"time"

	"github.com/igdirect/bridge/store"
)

// Store is what the conversation activities read and write in PostgreSQL: *store.Store,
// or the simulator's in-memory model of the same tables (package sim).
type Store interface {
	PageByAccount(ctx context.Context, account string) (store.Page, error)
	PageToken(ctx context.Context, account string) (pageID, token string, err error)
	FlagNeedsReauth(ctx context.Context, account string) (page store.Page, first bool, err error)
	Settings(ctx context.Context) (map[string]string, error)

	BeginIntent(ctx context.Context, key, account, igsid string) (store.Intent, error)
	FinishIntent(ctx context.Context, key string, delivered bool, messageID string) error
	DeliveredAs(ctx context.Context, key string) (string, error)
	SettleIntent(ctx context.Context, key string, attempt int, delivered bool, messageID string) (bool, error)

	ConversationMemory(ctx context.Context, workflowID string) (seen, notes []byte, err error)
	SaveConversationMemory(ctx context.Context, workflowID string, seen, notes []byte) error

	SpoolEvents(ctx context.Context, workflowID string, events []store.SpooledEvent, ackTS int64, ackKey string) error
	UnspoolEvents(ctx context.Context, workflowID string, afterTS int64, afterKey string, limit int) ([]store.SpooledEvent, int, store.SpooledEvent, error)
	DropSpool(ctx context.Context, workflowID string) error

	ClaimNotice(ctx context.Context, key string) (bool, error)
	ClearNotices(ctx context.Context, prefix string) error

	PutMedia(ctx context.Context, m store.Media, expires time.Time) error
}

var _ Store = (*store.Store)(nil)
