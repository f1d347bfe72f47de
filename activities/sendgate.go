package activities

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"golang.org/x/time/rate"

	"github.com/igdirect/bridge/instagram"
	"github.com/igdirect/bridge/workflows"
)

// Meta's Send API limits per Instagram account (spec instagram §5): 300 calls/s for text,
// links, reactions; 10 calls/s for audio and video.
const (
	textSendsPerSecond  = 300
	mediaSendsPerSecond = 10
	// defaultReauthRetry: while a page waits for re-authorization its sends are retried this
	// often (Activities.ReauthRetry), so they go out soon after `instagram authorize`.
	defaultReauthRetry = time.Minute
)

// sendLimiters holds a token bucket per (account, class), so this worker never exceeds
// Meta's limits however many conversations one account has.
type sendLimiters struct {
	mu sync.Mutex
	m  map[string]*rate.Limiter
}

func (l *sendLimiters) get(account string, media bool) *rate.Limiter {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.m == nil {
		l.m = map[string]*rate.Limiter{}
	}
	key, limit := account+"/text", textSendsPerSecond
	if media {
		key, limit = account+"/media", mediaSendsPerSecond
	}
	lim, ok := l.m[key]
	if !ok {
		lim = rate.NewLimiter(rate.Limit(limit), limit)
		l.m[key] = lim
	}
	return lim
}

// sendPage is pageToken for sends: it also refuses — retryably — while the page waits for
// re-authorization, and waits for a send slot within Meta's limits, honouring the wait Meta
// announced in its usage headers.
func (a *Activities) sendPage(ctx context.Context, account string, media bool) (pageID, token string, err error) {
	page, err := a.Store.PageByAccount(ctx, account)
	if err != nil {
		_, _, err = a.pageToken(ctx, account)
		return "", "", err
	}
	if page.NeedsReauth {
		return "", "", a.waitingForReauth(account)
	}
	pageID, token, err = a.pageToken(ctx, account)
	if err != nil {
		return "", "", err
	}
	for _, id := range []string{account, pageID} {
		if u, ok := a.IG.LastUsage(id); ok && u.RegainAccessIn > 0 {
			return "", "", temporal.NewApplicationErrorWithOptions(
				fmt.Sprintf("Meta throttles account %s for %s more", account, u.RegainAccessIn), "GraphRateLimited",
				temporal.ApplicationErrorOptions{NextRetryDelay: u.RegainAccessIn})
		}
	}
	if err := a.limiters.get(account, media).Wait(ctx); err != nil {
		return "", "", err
	}
	return pageID, token, nil
}

func (a *Activities) waitingForReauth(account string) error {
	retry := a.ReauthRetry
	if retry <= 0 {
		retry = defaultReauthRetry
	}
	return temporal.NewApplicationErrorWithOptions(
		"Instagram account "+account+" needs re-authorization (its token was refused); waiting for `instagram authorize`",
		workflows.ErrAuthExpired, temporal.ApplicationErrorOptions{NextRetryDelay: retry})
}

// sendError maps a Send API failure; an expired or revoked token (Graph 190) marks the page
// for re-authorization, tells the admins once in the setup channel, and keeps the message
// waiting instead of dropping it: it is sent once the page is authorized again.
func (a *Activities) sendError(ctx context.Context, account string, err error) error {
	if instagram.Classify(err) != instagram.AuthExpired {
		return graphError(err)
	}
	page, first, ferr := a.Store.FlagNeedsReauth(ctx, account)
	if ferr != nil {
		return errors.Join(a.waitingForReauth(account), ferr)
	}
	if first && a.SetupChannel != "" {
		who := page.PageID
		if page.IGUsername != "" {
			who = "@" + page.IGUsername + " (page " + page.PageID + ")"
		}
		msg := fmt.Sprintf("⚠️ Instagram account %s needs to be authorized again: Meta no longer accepts its access token. "+
			"Messages keep arriving and agents' replies wait; they are sent once an admin runs `instagram authorize`.", who)
		if perr := a.RC.PostMessage(ctx, "#"+a.SetupChannel, msg, nil); perr != nil {
			activity.GetLogger(ctx).Warn("Re-authorization prompt not posted", "error", perr)
		}
	}
	return a.waitingForReauth(account)
}
