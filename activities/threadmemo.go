package activities

import (
	"sync"

	"github.com/igdirect/bridge/instagram"
)

// threadMemo remembers what the Conversations API answered to the thread check
// (findInThread): the id of a customer's thread, and the details of the thread's messages
// read so far. Neither changes once Meta gave it, and the check may need a detail call per
// message sent since the unknown send began: without the memo every attempt starts over,
// and when Meta fails one call in ten (or answers 613 at 2 calls/s) a check of a dozen
// calls can fail attempt after attempt for as long as the outage lasts — the reply stalls.
// With it, each attempt carries on where the last one failed. It lives as long as the
// worker (a restart reads again: correct, only slower) and is bounded.
type threadMemo struct {
	mu       sync.Mutex
	threads  map[string]string                  // account/igsid → conversation id
	messages map[string]instagram.ThreadMessage // message id → details
}

// threadMemoMax bounds each map; when one is full it is emptied (a later check reads again).
const threadMemoMax = 4096

func (m *threadMemo) thread(account, igsid string) (string, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	id, ok := m.threads[account+"/"+igsid]
	return id, ok
}

func (m *threadMemo) keepThread(account, igsid, id string) {
	if id == "" {
		return // no thread yet: one may begin any moment
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.threads == nil || len(m.threads) >= threadMemoMax {
		m.threads = map[string]string{}
	}
	m.threads[account+"/"+igsid] = id
}

func (m *threadMemo) message(id string) (instagram.ThreadMessage, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, ok := m.messages[id]
	return d, ok
}

func (m *threadMemo) keepMessage(id string, d instagram.ThreadMessage) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.messages == nil || len(m.messages) >= threadMemoMax {
		m.messages = map[string]instagram.ThreadMessage{}
	}
	m.messages[id] = d
}
