package sim

import (
	"context"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/lib/pq"

	"github.com/igdirect/bridge/activities"
	"github.com/igdirect/bridge/store"
)

// memStore is PostgreSQL as the conversation's activities use it (activities.Store): the
// same rows and the same answers as package store's queries, in memory, with the
// database's failures and the worker dying around an operation. Admin operations (connect,
// remove, re-authorize, edit) are the simulator's own.
type memStore struct {
	sim      *Sim
	pages    map[string]*pageRow // by account
	settings map[string]string
	intents  map[string]*intentRow
	memory   map[string][]byte
	notes    map[string][]byte
	spool    map[string]map[string]store.SpooledEvent // by workflow, by (ts, key)
	notices  map[string]bool
	media    map[string]storedMedia
	// intentOrder: creation order, for the size invariant.
	intentsCreated int
	// forced: failures a test asks for, by operation, in order.
	forced map[string][]forcedFailure
}

// forcedFailure makes one operation fail before it takes effect (before) or after (after).
type forcedFailure struct{ before, after error }

type pageRow struct {
	page  store.Page
	token string // "" = removed (uninstalled)
}

type intentRow struct {
	key, account, igsid string
	state               string
	messageID           string
	attempts            int
	created, updated    time.Time
	// began and finished are the times (on the calling attempt's clock) of the last
	// BeginIntent and FinishIntent: ingress's lookups see the intent as it was then.
	began, finished time.Time
}

type storedMedia struct {
	m       store.Media
	expires time.Time
}

var _ activities.Store = (*memStore)(nil)

func newMemStore(s *Sim) *memStore {
	return &memStore{sim: s, pages: map[string]*pageRow{}, settings: map[string]string{}, intents: map[string]*intentRow{},
		memory: map[string][]byte{}, notes: map[string][]byte{}, spool: map[string]map[string]store.SpooledEvent{}, notices: map[string]bool{}, media: map[string]storedMedia{}, forced: map[string][]forcedFailure{}}
}

func pgError(code, msg string) error {
	return &pq.Error{Severity: "FATAL", Code: pq.ErrorCode(code), Message: msg}
}

// op runs one database operation for ctx's attempt: its latency on the attempt's clock,
// the database's answer when it fails, and the worker dying before or after it took
// effect. effect does the operation (and reports its own error, e.g. no rows).
func (st *memStore) op(ctx context.Context, name string, effect func() error) error {
	a := attemptOf(ctx)
	if a != nil && a.dead {
		return errWorkerDied
	}
	if f := st.forced[name]; len(f) > 0 {
		st.forced[name] = f[1:]
		if f[0].before != nil {
			return f[0].before
		}
		if f[0].after != nil {
			if err := effect(); err != nil {
				return err
			}
			return f[0].after
		}
	}
	d, err, crash := st.sim.faults.store(a)
	if a != nil && !a.spend(d) {
		return context.DeadlineExceeded
	}
	if err != nil {
		return err
	}
	if crash == faultCrashBefore && a != nil {
		a.dead = true
		return errWorkerDied
	}
	err = effect()
	if crash == faultCrashAfter && a != nil {
		a.dead = true
		return errWorkerDied
	}
	return err
}

func (st *memStore) PageByAccount(ctx context.Context, account string) (store.Page, error) {
	var p store.Page
	err := st.op(ctx, "PageByAccount", func() error {
		row := st.pages[account]
		if row == nil {
			return store.ErrNotFound
		}
		p = row.page
		p.HasToken = row.token != ""
		return nil
	})
	return p, err
}

func (st *memStore) PageToken(ctx context.Context, account string) (string, string, error) {
	var pageID, token string
	err := st.op(ctx, "PageToken", func() error {
		row := st.pages[account]
		if row == nil {
			return store.ErrNotFound
		}
		pageID = row.page.PageID
		if row.token == "" {
			return store.ErrNotFound
		}
		token = row.token
		return nil
	})
	return pageID, token, err
}

func (st *memStore) FlagNeedsReauth(ctx context.Context, account string) (store.Page, bool, error) {
	var p store.Page
	first := false
	err := st.op(ctx, "FlagNeedsReauth", func() error {
		row := st.pages[account]
		if row == nil {
			return store.ErrNotFound
		}
		first = !row.page.NeedsReauth
		row.page.NeedsReauth = true
		p = row.page
		p.HasToken = row.token != ""
		return nil
	})
	return p, first, err
}

func (st *memStore) Settings(ctx context.Context) (map[string]string, error) {
	out := map[string]string{}
	err := st.op(ctx, "Settings", func() error {
		for k, v := range st.settings {
			out[k] = v
		}
		return nil
	})
	return out, err
}

// BeginIntent: store/delivery.go's BeginIntent.
func (st *memStore) BeginIntent(ctx context.Context, key, account, igsid string) (store.Intent, error) {
	var prev store.Intent
	err := st.op(ctx, "BeginIntent", func() error {
		now := st.sim.worldNow()
		row := st.intents[key]
		switch {
		case row == nil:
			st.intents[key] = &intentRow{key: key, account: account, igsid: igsid, state: store.IntentCalling, attempts: 1, created: now, updated: now, began: now}
			st.intentsCreated++
			prev = store.Intent{}
		case row.state == store.IntentNotDone:
			prev = store.Intent{State: "", MessageID: row.messageID, Attempts: row.attempts}
			row.state, row.attempts, row.updated, row.began, row.finished = store.IntentCalling, row.attempts+1, now, now, time.Time{}
		default:
			prev = store.Intent{State: row.state, MessageID: row.messageID, Attempts: row.attempts}
			if row.state == store.IntentCalling {
				prev.Since = row.updated
			}
		}
		return nil
	})
	return prev, err
}

// DeliveredAs: store/delivery.go's DeliveredAs.
func (st *memStore) DeliveredAs(ctx context.Context, key string) (string, error) {
	var id string
	err := st.op(ctx, "DeliveredAs", func() error {
		if row := st.intents[key]; row != nil && row.state == store.IntentDone {
			id = row.messageID
		}
		return nil
	})
	return id, err
}

// FinishIntent: store/delivery.go's FinishIntent (no row: nothing happens).
func (st *memStore) FinishIntent(ctx context.Context, key string, delivered bool, messageID string) error {
	return st.op(ctx, "FinishIntent", func() error {
		row := st.intents[key]
		if row == nil {
			return nil
		}
		row.state = store.IntentNotDone
		if delivered {
			row.state = store.IntentDone
		}
		row.messageID, row.updated, row.finished = messageID, st.sim.worldNow(), st.sim.worldNow()
		return nil
	})
}

// SettleIntent: store/delivery.go's SettleIntent.
func (st *memStore) SettleIntent(ctx context.Context, key string, attempt int, delivered bool, messageID string) (bool, error) {
	settled := false
	err := st.op(ctx, "SettleIntent", func() error {
		row := st.intents[key]
		if row == nil || row.state != store.IntentCalling || row.attempts != attempt {
			return nil
		}
		row.state = store.IntentNotDone
		if delivered {
			row.state = store.IntentDone
		}
		row.messageID, row.updated, row.finished = messageID, st.sim.worldNow(), st.sim.worldNow()
		settled = true
		return nil
	})
	return settled, err
}

// ourMessages is ingress's lookup of echoes of our sends (store.OurMessages), as the
// intents were at time at.
func (st *memStore) ourMessages(mids []string, at time.Time) map[string]bool {
	known := map[string]bool{}
	for _, k := range st.sortedIntentKeys() {
		row := st.intents[k]
		if row.messageID != "" && slices.Contains(mids, row.messageID) && !row.finished.IsZero() && !row.finished.After(at) {
			known[row.messageID] = true
		}
	}
	return known
}

// sendInFlight is ingress's store.SendInFlight: a call of the conversation began within
// the minute before at and had no recorded outcome at at.
func (st *memStore) sendInFlight(account, igsid string, at time.Time) bool {
	for _, row := range st.intents {
		if row.account == account && row.igsid == igsid && !row.began.After(at) && row.began.After(at.Add(-time.Minute)) &&
			(row.finished.IsZero() || row.finished.After(at)) {
			return true
		}
	}
	return false
}

func (st *memStore) sortedIntentKeys() []string {
	keys := make([]string, 0, len(st.intents))
	for k := range st.intents {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func (st *memStore) ConversationMemory(ctx context.Context, workflowID string) ([]byte, []byte, error) {
	var seen, notes []byte
	err := st.op(ctx, "ConversationMemory", func() error {
		seen, notes = slices.Clone(st.memory[workflowID]), slices.Clone(st.notes[workflowID])
		return nil
	})
	return seen, notes, err
}

func (st *memStore) SaveConversationMemory(ctx context.Context, workflowID string, seen, notes []byte) error {
	return st.op(ctx, "SaveConversationMemory", func() error {
		st.memory[workflowID], st.notes[workflowID] = slices.Clone(seen), slices.Clone(notes)
		return nil
	})
}

// The inbound overflow (store/spool.go): rows ordered by (ts, key), byte order.
func spoolLess(a, b store.SpooledEvent) bool {
	if a.TS != b.TS {
		return a.TS < b.TS
	}
	return a.Key < b.Key
}

func (st *memStore) dropTaken(workflowID string, ts int64, key string) {
	if key == "" {
		return
	}
	for id, r := range st.spool[workflowID] {
		if !spoolLess(store.SpooledEvent{TS: ts, Key: key}, r) {
			delete(st.spool[workflowID], id)
		}
	}
}

func spoolID(ev store.SpooledEvent) string { return strconv.FormatInt(ev.TS, 10) + "\x00" + ev.Key }

func (st *memStore) SpoolEvents(ctx context.Context, workflowID string, events []store.SpooledEvent, ackTS int64, ackKey string) error {
	return st.op(ctx, "SpoolEvents", func() error {
		st.dropTaken(workflowID, ackTS, ackKey)
		if st.spool[workflowID] == nil {
			st.spool[workflowID] = map[string]store.SpooledEvent{}
		}
		for _, ev := range events {
			if _, ok := st.spool[workflowID][spoolID(ev)]; !ok {
				st.spool[workflowID][spoolID(ev)] = store.SpooledEvent{TS: ev.TS, Key: ev.Key, Data: slices.Clone(ev.Data)}
			}
		}
		return nil
	})
}

func (st *memStore) UnspoolEvents(ctx context.Context, workflowID string, afterTS int64, afterKey string, limit int) (
	[]store.SpooledEvent, int, store.SpooledEvent, error) {
	var out []store.SpooledEvent
	var next store.SpooledEvent
	remaining := 0
	err := st.op(ctx, "UnspoolEvents", func() error {
		st.dropTaken(workflowID, afterTS, afterKey)
		var rows []store.SpooledEvent
		for _, r := range st.spool[workflowID] {
			rows = append(rows, r)
		}
		sort.Slice(rows, func(i, j int) bool { return spoolLess(rows[i], rows[j]) })
		for i, r := range rows {
			if i < limit {
				r.Data = slices.Clone(r.Data)
				out = append(out, r)
				continue
			}
			if remaining == 0 {
				next = store.SpooledEvent{TS: r.TS, Key: r.Key}
			}
			remaining++
		}
		return nil
	})
	return out, remaining, next, err
}

func (st *memStore) DropSpool(ctx context.Context, workflowID string) error {
	return st.op(ctx, "DropSpool", func() error {
		delete(st.spool, workflowID)
		return nil
	})
}

// spooled is how many events wait in a conversation's overflow (for the checks).
func (st *memStore) spooled(workflowID string) int { return len(st.spool[workflowID]) }

func (st *memStore) ClaimNotice(ctx context.Context, key string) (bool, error) {
	first := false
	err := st.op(ctx, "ClaimNotice", func() error {
		first = !st.notices[key]
		st.notices[key] = true
		return nil
	})
	return first, err
}

func (st *memStore) ClearNotices(ctx context.Context, prefix string) error {
	return st.op(ctx, "ClearNotices", func() error {
		for k := range st.notices {
			if strings.HasPrefix(k, prefix) {
				delete(st.notices, k)
			}
		}
		return nil
	})
}

func (st *memStore) PutMedia(ctx context.Context, m store.Media, expires time.Time) error {
	return st.op(ctx, "PutMedia", func() error {
		st.media[m.ID] = storedMedia{m: m, expires: expires}
		return nil
	})
}

// getMedia is ingress's read of a stored file (for Meta's fetch).
func (st *memStore) getMedia(id string) (store.Media, error) {
	sm, ok := st.media[id]
	if !ok || !st.sim.worldNow().Before(sm.expires) {
		return store.Media{}, store.ErrNotFound
	}
	return sm.m, nil
}
