package meta

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"net/http"
	"sync"
	"time"
)

// Attempt is one webhook POST made by the delivery queue (real time).
type Attempt struct {
	At     time.Time
	Status int
	Err    string
}

// delivery is one queued POST (before batching).
type delivery struct {
	entries   []Entry
	attempted chan struct{} // closed once a first attempt completed (or it was dropped)
	once      sync.Once
}

func (d *delivery) markAttempted() { d.once.Do(func() { close(d.attempted) }) }

// acctQueue is the FIFO of one IG account. Meta waits for a 200 before
// sending the next notification (head-of-line blocking, §2.3), so at most
// one POST per account is in flight.
type acctQueue struct {
	items        []*delivery
	cur          []*delivery // batch in flight / being retried
	running      bool
	failingSince time.Time
}

// Enqueue queues a POST {"object":"instagram","entry":[…]} for delivery with
// retries until 200. Deliveries are FIFO per IG account (the first entry's
// ID) with one in flight at a time.
//
// Spec gap: Meta's queueing of multi-account POSTs is undocumented; a POST is
// queued (and head-of-line blocked) on the account of its first entry.
func (s *Server) Enqueue(entries ...Entry) {
	s.enqueue(entries)
}

func (s *Server) enqueue(entries []Entry) *delivery {
	if len(entries) == 0 {
		return nil
	}
	d := &delivery{entries: append([]Entry(nil), entries...), attempted: make(chan struct{})}
	key := entries[0].ID
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		d.markAttempted()
		return d
	}
	// Meta has the messages whether or not the webhook ever arrives: record
	// them for the Conversations API before a disabled subscription drops
	// the notification (conversations.go).
	s.recordEntriesLocked(d.entries)
	if s.disabled[key] {
		// Spec gap: events for an unsubscribed account are simply lost (Meta
		// keeps no history, §2.3).
		s.dropped++
		d.markAttempted()
		s.log.Warn("meta: webhook subscription disabled, dropping event", "account", key)
		return d
	}
	q := s.queues[key]
	if q == nil {
		q = &acctQueue{}
		s.queues[key] = q
	}
	q.items = append(q.items, d)
	s.kickLocked(key)
	s.notifyLocked()
	return d
}

// kickLocked starts the account's worker if there is work and a URL.
func (s *Server) kickLocked(key string) {
	q := s.queues[key]
	if q == nil || q.running || s.closed || s.webhookURL == "" || s.disabled[key] {
		return
	}
	if len(q.items) == 0 && len(q.cur) == 0 {
		return
	}
	q.running = true
	s.wg.Add(1)
	go s.worker(key)
}

func (s *Server) worker(key string) {
	defer s.wg.Done()
	backoff := s.opts.RetryInitial
	for {
		s.mu.Lock()
		q := s.queues[key]
		if s.closed || s.disabled[key] || s.webhookURL == "" {
			q.running = false
			s.mu.Unlock()
			return
		}
		if len(q.cur) == 0 {
			if len(q.items) == 0 {
				q.running = false
				s.mu.Unlock()
				return
			}
			n := min(s.opts.MaxBatch, len(q.items))
			q.cur = append([]*delivery(nil), q.items[:n]...)
			q.items = q.items[n:]
		}
		url := s.webhookURL
		batch := q.cur
		s.mu.Unlock()

		var entries []Entry
		if len(batch) == 1 {
			entries = batch[0].entries
		} else {
			entries = mergeEntries(batch)
		}
		start := time.Now()
		status, errText := 0, ""
		body, err := s.envelopeBody(entries)
		if err == nil {
			status, _, err = s.post(s.ctx, url, body)
		}
		if err != nil {
			errText = err.Error()
		}

		s.mu.Lock()
		if s.closed {
			q.running = false
			s.mu.Unlock()
			return
		}
		s.attempts = append(s.attempts, Attempt{At: start, Status: status, Err: errText})
		for _, d := range batch {
			d.markAttempted()
		}
		if err == nil && status == http.StatusOK {
			q.cur = nil
			q.failingSince = time.Time{}
			backoff = s.opts.RetryInitial
			s.notifyLocked()
			s.mu.Unlock()
			continue
		}
		if q.failingSince.IsZero() {
			q.failingSince = start
		}
		if time.Since(q.failingSince) >= s.opts.DisableAfter {
			n := len(q.cur) + len(q.items)
			for _, d := range q.items {
				d.markAttempted()
			}
			s.dropped += n
			q.cur, q.items = nil, nil
			q.running = false
			q.failingSince = time.Time{}
			s.disabled[key] = true
			s.notifyLocked()
			s.mu.Unlock()
			s.log.Error("meta: webhook deliveries failing continuously, subscription disabled (Webhooks Disabled alert)",
				"account", key, "dropped", n, "after", s.opts.DisableAfter)
			return
		}
		s.notifyLocked()
		s.mu.Unlock()
		s.log.Warn("meta: webhook delivery failed, will retry", "account", key, "status", status, "err", errText, "retry_in", backoff)
		// Spec gap: the real retry schedule is undocumented (§2.3, §11): plain
		// exponential backoff RetryInitial·2^n capped at RetryMax, no jitter.
		if !s.sleep(s.ctx, backoff) {
			s.mu.Lock()
			q.running = false
			s.mu.Unlock()
			return
		}
		backoff = min(backoff*2, s.opts.RetryMax)
	}
}

// mergeEntries merges the entries of a batch; entries with the same id are
// combined into one entry whose messaging/standby arrays are concatenated
// (§2.2: "the messaging array may contain multiple objects").
func mergeEntries(batch []*delivery) []Entry {
	var out []Entry
	idx := map[string]int{}
	for _, d := range batch {
		for _, e := range d.entries {
			i, ok := idx[e.ID]
			if !ok {
				idx[e.ID] = len(out)
				out = append(out, Entry{ID: e.ID, Time: e.Time,
					Messaging: append([]Event(nil), e.Messaging...), Standby: append([]Event(nil), e.Standby...)})
				continue
			}
			m := &out[i]
			m.Time = max(m.Time, e.Time)
			m.Messaging = append(m.Messaging, e.Messaging...)
			m.Standby = append(m.Standby, e.Standby...)
		}
	}
	return out
}

// post sends one signed webhook POST (§1.2 headers).
func (s *Server) post(ctx context.Context, url string, body []byte) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	sig256, sig1 := s.Sign(body)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "facebookexternalua")
	req.Header.Set("Accept", "*/*")
	req.Header.Set("Accept-Encoding", "deflate, gzip")
	req.Header.Set("X-Hub-Signature", sig1)
	req.Header.Set("X-Hub-Signature-256", sig256)
	req.Header.Set("Facebook-API-Version", s.opts.APIVersion)
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	var rd io.Reader = resp.Body
	if resp.Header.Get("Content-Encoding") == "gzip" {
		if zr, zerr := gzip.NewReader(resp.Body); zerr == nil {
			rd = zr
		}
	}
	b, _ := io.ReadAll(io.LimitReader(rd, 1<<20))
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, string(b), nil
}

// DeliverOnce synchronously POSTs the entries once (signed, no retry, not
// queued, not recorded in Attempts) and returns the HTTP status and body.
func (s *Server) DeliverOnce(ctx context.Context, entries ...Entry) (status int, body string, err error) {
	s.mu.Lock()
	url := s.webhookURL
	if url != "" {
		s.recordEntriesLocked(entries) // conversations.go
	}
	s.mu.Unlock()
	if url == "" {
		return 0, "", errors.New("meta: no webhook URL set")
	}
	b, err := s.envelopeBody(entries)
	if err != nil {
		return 0, "", err
	}
	return s.post(ctx, url, b)
}

// WaitDelivered waits until every queued delivery got a 200 (Pending()==0),
// ctx ends, or the server closes. It returns ErrDisabled if some account's
// subscription is disabled (its deliveries were dropped).
func (s *Server) WaitDelivered(ctx context.Context) error {
	err := s.waitFor(ctx, func() bool { return s.pendingLocked() == 0 })
	if err != nil {
		return err
	}
	if s.Disabled() {
		return ErrDisabled
	}
	return nil
}

// Pending returns the number of queued deliveries not yet acknowledged.
func (s *Server) Pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pendingLocked()
}

func (s *Server) pendingLocked() int {
	n := 0
	for _, q := range s.queues {
		n += len(q.items) + len(q.cur)
	}
	return n
}

// Attempts returns all webhook POST attempts made by the queue, in order.
func (s *Server) Attempts() []Attempt {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Attempt(nil), s.attempts...)
}

// Disabled reports whether any account's webhook subscription was disabled
// after failing continuously for DisableAfter (§2.3).
func (s *Server) Disabled() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.disabled) > 0
}

// DisabledAccounts lists the IG accounts whose subscription is disabled.
func (s *Server) DisabledAccounts() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return sortedKeys(s.disabled)
}

// Dropped counts events lost because their subscription was disabled.
func (s *Server) Dropped() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dropped
}

// Resubscribe re-enables a disabled subscription ("" = all), like
// POST /{page-id}/subscribed_apps. Events dropped meanwhile stay lost.
func (s *Server) Resubscribe(igAccountID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if igAccountID == "" {
		clear(s.disabled)
	} else {
		delete(s.disabled, igAccountID)
	}
	for key := range s.queues {
		s.kickLocked(key)
	}
	s.notifyLocked()
}

// Unsubscribe disables an account's subscription, like
// DELETE /{page-id}/subscribed_apps: queued and future events are dropped.
func (s *Server) Unsubscribe(igAccountID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.disabled[igAccountID] = true
	if q := s.queues[igAccountID]; q != nil {
		// an in-flight batch finishes its attempt; the worker then stops.
		for _, d := range q.items {
			d.markAttempted()
		}
		s.dropped += len(q.items) + len(q.cur)
		q.items, q.cur = nil, nil
	}
	s.notifyLocked()
}

// TakeQueued removes and returns the deliveries waiting in the queues (those not handed
// to a delivery worker, which only runs with a WebhookURL), oldest first per account, accounts
// in the order of their ids: a caller with no WebhookURL delivers them
// itself, when and how it likes (the conversation simulator batches, delays, reorders
// and repeats them). Each element is one delivery's entries. (Addition.)
func (s *Server) TakeQueued() [][]Entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := sortedKeys(s.queues)
	var out [][]Entry
	for _, k := range keys {
		q := s.queues[k]
		for _, d := range q.items {
			out = append(out, d.entries)
			d.markAttempted()
		}
		q.items = nil
	}
	return out
}

// Body is the webhook body of a delivery of entries (as the queue would POST it); sign it
// with Sign. (Addition.)
func (s *Server) Body(entries ...Entry) ([]byte, error) { return s.envelopeBody(entries) }
