// Package activities holds the Temporal activities of the bridge: thin methods on one
// struct that owns the Rocket.Chat and Graph API clients and the store. They translate
// client errors into the retryable / non-retryable outcomes the workflows expect:
// transient failures are returned as is (Temporal retries them), rate limits carry the
// delay the remote side asked for, and permanent failures become non-retryable
// application errors of the types declared in package workflows.
package activities

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"

	"github.com/igdirect/bridge/appsettings"
	"github.com/igdirect/bridge/identity"
	"github.com/igdirect/bridge/instagram"
	"github.com/igdirect/bridge/internal/cdnfetch"
	"github.com/igdirect/bridge/internal/metrics"
	"github.com/igdirect/bridge/rocketchat"
	"github.com/igdirect/bridge/store"
	"github.com/igdirect/bridge/workflows"
)

// Activities is registered once per worker; its fields are shared by all executions.
type Activities struct {
	Store      Store
	RC         *rocketchat.Client
	IG         *instagram.Client
	VisitorKey []byte
	// Tunables from the worker's configuration, handed to workflows by LoadSettings.
	Settings workflows.Settings
	Log      *slog.Logger
	// CDN fetches customer media from Meta's CDN, and only from there (package cdnfetch).
	CDN *cdnfetch.Fetcher
	// PublicURL and MediaKey make the signed URLs Meta fetches agents' files from.
	PublicURL string
	MediaKey  []byte
	// Metrics counts deliveries and sends (nil: not measured).
	Metrics *metrics.Registry
	// SetupChannel is where the bot asks admins to re-authorize an account (no '#').
	SetupChannel string
	// ProfileTimeout bounds the Instagram profile lookup of a visitor registration: the
	// profile is a nicety, the customer's message must not wait for a slow Graph API.
	ProfileTimeout time.Duration
	// Clock is the time source (nil: the real clock; the simulator sets its own).
	Clock Clock

	limiters sendLimiters
	threads  threadMemo // what the thread check read (findInThread)
}

// delivered counts one item delivered in a direction.
func (a *Activities) delivered(direction, kind string) {
	if a.Metrics != nil {
		a.Metrics.Delivered.WithLabelValues(direction, kind).Inc()
	}
}

// sendResult counts a Send API call of an account.
func (a *Activities) sendResult(account string, err error) {
	if a.Metrics == nil {
		return
	}
	result := "ok"
	switch {
	case err == nil:
	case instagram.Classify(err) == instagram.RateLimited:
		result = "rate_limited"
	default:
		result = "failed"
	}
	a.Metrics.InstagramSends.WithLabelValues(account, result).Inc()
}

// Register registers every activity under the name the workflows use.
func (a *Activities) Register(r worker.ActivityRegistry) {
	for name, fn := range map[string]any{
		workflows.ActivityLoadConversation: a.LoadConversation,
		workflows.ActivitySaveConversation: a.SaveConversation,
		workflows.ActivityRegisterVisitor:  a.RegisterVisitor,
		workflows.ActivityOpenRoom:         a.OpenRoom,
		workflows.ActivityPostToRoom:       a.PostToRoom,
		workflows.ActivityUploadToRoom:     a.UploadToRoom,
		workflows.ActivitySyncReplies:      a.SyncReplies,
		workflows.ActivitySendAutomated:    a.SendAutomated,
		workflows.ActivityPostNote:         a.PostNote,
		workflows.ActivityPassBack:         a.PassThreadControlBack,
		workflows.ActivityNotifyAdmins:     a.NotifyAdmins,
		workflows.ActivitySpoolEvents:      a.SpoolEvents,
		workflows.ActivityUnspoolEvents:    a.UnspoolEvents,
	} {
		r.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: name})
	}
}

func (a *Activities) visitorToken(page, igsid string) string {
	return identity.VisitorToken(a.VisitorKey, page, igsid)
}

// pageToken reads the page's token. A page that is not connected is a final answer
// (ErrPageNotConnected): the conversation blocks, tells the admins and waits for them, rather
// than retrying.
func (a *Activities) pageToken(ctx context.Context, account string) (pageID, token string, err error) {
	pageID, token, err = a.Store.PageToken(ctx, account)
	if errors.Is(err, store.ErrNotFound) {
		return "", "", notConnected(account)
	}
	return pageID, token, err
}

func notConnected(account string) error {
	return temporal.NewNonRetryableApplicationError(
		fmt.Sprintf("Instagram account %s is not connected (no page token stored)", account), workflows.ErrPageNotConnected, nil)
}

// rcError maps a Rocket.Chat client error to an activity error: rate limits retry after
// the wait the server announced; everything else keeps Temporal's backoff.
func rcError(err error) error {
	var e *rocketchat.Error
	if errors.As(err, &e) && rocketchat.IsRateLimited(err) && e.RetryAfter > 0 {
		return temporal.NewApplicationErrorWithOptions(err.Error(), "RocketChatRateLimited",
			temporal.ApplicationErrorOptions{NextRetryDelay: e.RetryAfter})
	}
	return err
}

// appSettings reads the application settings at each use, so an admin's change applies to
// the next message without a restart.
func (a *Activities) appSettings(ctx context.Context) (appsettings.Settings, error) {
	stored, err := a.Store.Settings(ctx)
	if err != nil {
		return appsettings.Settings{}, err
	}
	return appsettings.FromMap(stored)
}
