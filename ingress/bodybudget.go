package ingress

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"time"

	"golang.org/x/sync/semaphore"
)

// An Instagram webhook's signature covers the raw body, so the body has to be read whole
// before anything proves it came from Meta: until then it is memory anyone can make us
// spend. bodyBudget bounds it: every read takes a share of a budget of 8 × MAX_WEBHOOK_BODY
// (its Content-Length, or MAX_WEBHOOK_BODY when the length is not announced, and at least
// 1/64 of the budget, so at most 64 reads run at once) and gives it back when the request
// ends. A read that cannot get its share within bodyWait is answered 503 with Retry-After:
// Meta retries, so a valid event is delayed, never lost. The server's ReadTimeout (30 s)
// bounds how long a slow body holds its share.

const (
	bodyBudgetFactor = 8
	bodyReadsAtOnce  = 64
	defaultBodyWait  = time.Second
)

var errBodyBudget = errors.New("webhook body budget exhausted")

type bodyBudget struct {
	sem      *semaphore.Weighted
	total    int64
	minShare int64
	maxBody  int64
}

func newBodyBudget(maxBody int64) *bodyBudget {
	if maxBody <= 0 {
		maxBody = 4 << 20
	}
	total := bodyBudgetFactor * maxBody
	return &bodyBudget{sem: semaphore.NewWeighted(total), total: total, minShare: total / bodyReadsAtOnce, maxBody: maxBody}
}

// share is what a body of the announced length (-1: unknown) takes of the budget.
func (b *bodyBudget) share(contentLength int64) int64 {
	n := contentLength
	if n < 0 || n > b.maxBody {
		n = b.maxBody
	}
	return max(n, b.minShare)
}

// readUnauthenticated reads a webhook body within MAX_WEBHOOK_BODY and the budget. release
// gives the share back (call it once the body is no longer needed); on errBodyBudget
// nothing was read and release is nil.
func (s *Server) readUnauthenticated(w http.ResponseWriter, r *http.Request) (body []byte, release func(), err error) {
	n := s.bodies.share(r.ContentLength)
	wait := s.bodyWait
	if wait <= 0 {
		wait = defaultBodyWait
	}
	ctx, cancel := context.WithTimeout(r.Context(), wait)
	err = s.bodies.sem.Acquire(ctx, n)
	cancel()
	if err != nil {
		return nil, nil, errBodyBudget
	}
	release = func() { s.bodies.sem.Release(n) }
	var buf bytes.Buffer
	if r.ContentLength > 0 && r.ContentLength <= s.cfg.MaxWebhookBody {
		buf.Grow(int(r.ContentLength) + 1) // one allocation of the announced size, not doubling
	}
	_, err = buf.ReadFrom(http.MaxBytesReader(w, r.Body, s.cfg.MaxWebhookBody))
	return buf.Bytes(), release, err
}
