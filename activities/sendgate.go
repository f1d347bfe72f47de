package activities

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/igdirect/bridge/instagram"
	"github.com/igdirect/bridge/store"
	"github.com/igdirect/bridge/workflows"
)

// Meta's Send API limits per Instagram account (spec instagram §5): 300 calls/s for text,
// links, reactions; 10 calls/s for audio and video.
const (
	textSendsPerSecond  = 300
	mediaSendsPerSecond = 10
)

// sendLimiters holds a token bucket per (account, class), so this worker never exceeds
// Meta's limits however many conversations one account has.
type sendLimiters struct {
	mu sync.Mutex
	m  map[string]*rate.Limiter
}

func (l *sendLimiters) get(account string, media bool) *rate.Limiter {
	if media {
		return l.bucket(account+"/media", mediaSendsPerSecond)
	}
	return l.bucket(account+"/text", textSendsPerSecond)
}

// bucket is the token bucket of key, made with limit per second (and as many at once).
func (l *sendLimiters) bucket(key string, limit int) *rate.Limiter {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.m == nil {
		l.m = map[string]*rate.Limiter{}
	}
	lim, ok := l.m[key]
	if !ok {
		lim = rate.NewLimiter(rate.Limit(limit), limit)
		l.m[key] = lim
	}
	return lim
}

// errNotConnected: the account has no token (never connected, or removed by uninstall).
// Replies to its customers are refused with a note, not retried.
var errNotConnected = errors.New("this Instagram account is no longer connected")

// sendGate opens the way for a send: the page's token, not waiting for re-authorization,
// not throttled by Meta, and a slot within Meta's per-account limits. A send that must wait
// gets a Stop instead (the workflow waits as a state, not inside this activity).
func (a *Activities) sendGate(ctx context.Context, account string, media bool) (pageID, token string, stop *workflows.Stop, err error) {
	page, err := a.Store.PageByAccount(ctx, account)
	if errors.Is(err, store.ErrNotFound) {
		return "", "", nil, errNotConnected
	}
	if err != nil {
		return "", "", nil, err
	}
	// Without a token first: an uninstalled account is gone, not waiting for a
	// re-authorization, so its replies get a note instead of waiting.
	if !page.HasToken {
		return "", "", nil, errNotConnected
	}
	if page.NeedsReauth {
		return "", "", &workflows.Stop{Kind: workflows.StopAuth, Reason: "Meta refused the account's access token"}, nil
	}
	pageID, token, err = a.Store.PageToken(ctx, account)
	if errors.Is(err, store.ErrNotFound) {
		return "", "", nil, errNotConnected
	}
	if err != nil {
		return "", "", nil, err
	}
	for _, id := range []string{account, pageID} {
		if u, ok := a.IG.LastUsage(id); ok && u.RegainAccessIn > 0 {
			return "", "", &workflows.Stop{Kind: workflows.StopRetry, RetryAfter: u.RegainAccessIn,
				Reason: fmt.Sprintf("Meta throttles account %s for %s more", account, u.RegainAccessIn)}, nil
		}
	}
	if err := a.sendSlot(ctx, account, media); err != nil {
		return "", "", nil, err
	}
	return pageID, token, nil, nil
}

// sendSlot waits for a slot within Meta's per-account limits, on the activities' clock.
func (a *Activities) sendSlot(ctx context.Context, account string, media bool) error {
	return a.waitSlot(ctx, a.limiters.get(account, media), account)
}

// conversationsAPIPerSecond is Meta's limit of the Conversations API per account (spec §5).
const conversationsAPIPerSecond = 2

// threadSlot waits for a Conversations API call of the account within Meta's limit.
func (a *Activities) threadSlot(ctx context.Context, account string) error {
	return a.waitSlot(ctx, a.limiters.bucket(account+"/conversations", conversationsAPIPerSecond), account)
}

func (a *Activities) waitSlot(ctx context.Context, lim *rate.Limiter, account string) error {
	r := lim.ReserveN(a.now(), 1)
	if !r.OK() {
		return fmt.Errorf("rate limiter refused a call of account %s", account)
	}
	if d := r.DelayFrom(a.now()); d > 0 {
		if err := a.clock().Sleep(ctx, d); err != nil {
			r.CancelAt(a.now())
			return err
		}
	}
	return nil
}

// sendFailure is what a failed Send API call means for the reply: a Stop (the reply waits:
// re-authorization, a rate limit or an outage, thread control), or a refusal for good.
func (a *Activities) sendFailure(ctx context.Context, account string, err error, otherAppOwns bool) (*workflows.Stop, error) {
	if otherAppOwns && notThreadOwner(err) || ownedByAnotherApp(err) {
		return &workflows.Stop{Kind: workflows.StopHeld, Reason: err.Error()}, nil
	}
	switch instagram.Classify(err) {
	case instagram.AuthExpired:
		a.flagReauth(ctx, account)
		return &workflows.Stop{Kind: workflows.StopAuth, Reason: "Meta refused the account's access token (" + err.Error() + ")"}, nil
	case instagram.RateLimited:
		stop := &workflows.Stop{Kind: workflows.StopRetry, Reason: "Meta rate limit: " + err.Error()}
		var e *instagram.Error
		if errors.As(err, &e) && e.RetryAfter > 0 {
			stop.RetryAfter = e.RetryAfter
		}
		return stop, nil
	case instagram.Transient:
		return &workflows.Stop{Kind: workflows.StopRetry, Reason: err.Error()}, nil
	case instagram.OutsideWindow:
		return nil, errors.New("outside Instagram's messaging window: " + err.Error())
	}
	return nil, err
}

// flagReauth marks the page as needing re-authorization and tells the admins once in the
// setup channel; replies wait, and go out once the account is authorized again.
func (a *Activities) flagReauth(ctx context.Context, account string) {
	page, first, err := a.Store.FlagNeedsReauth(ctx, account)
	if err != nil {
		a.logger(ctx).Warn("Could not mark the page for re-authorization", "error", err)
		return
	}
	if !first || a.SetupChannel == "" {
		return
	}
	who := page.PageID
	if page.IGUsername != "" {
		who = page.IGUsername + " (page " + page.PageID + ")"
	}
	msg := fmt.Sprintf("⚠️ Instagram account %s needs to be authorized again: Meta no longer accepts its access token. "+
		"Messages keep arriving and agents' replies wait; they are sent once an admin runs `instagram authorize`.", who)
	if perr := a.RC.PostMessage(ctx, "#"+a.SetupChannel, msg, nil); perr != nil {
		a.logger(ctx).Warn("Re-authorization prompt not posted", "error", perr)
	}
}

// outcomeUnknown reports a send failure after which Meta may still have delivered the
// message (spec §10: "A timeout or 5xx after the request was accepted can mean the message
// was sent"): timeouts, cut connections and server errors; not refusals Meta answered with
// an error body, and not failures to connect at all.
func outcomeUnknown(err error) bool {
	var e *instagram.Error
	if errors.As(err, &e) {
		return e.HTTPStatus >= 500 || e.Code == 1 && e.Subcode == 1357046
	}
	if instagram.Classify(err) != instagram.Transient {
		return false
	}
	msg := err.Error()
	return !strings.Contains(msg, "connection refused") && !strings.Contains(msg, "no such host")
}

// budgetLeft is how long the activity may still run (a local activity's budget is short).
func (a *Activities) budgetLeft(ctx context.Context) time.Duration {
	if d, ok := ctx.Deadline(); ok {
		return d.Sub(a.now())
	}
	return time.Hour
}
