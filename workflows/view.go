package workflows

import "time"

// StateView is what the "state" query returns.
type StateView struct {
	PageID         string    `json:"page_id"`
	IGSID          string    `json:"igsid"`
	Status         string    `json:"status"`
	BlockedReason  string    `json:"blocked_reason,omitempty"`
	Username       string    `json:"username,omitempty"`
	Name           string    `json:"name,omitempty"`
	Department     string    `json:"department,omitempty"`
	RoomID         string    `json:"room_id,omitempty"`
	Agent          string    `json:"agent,omitempty"`
	Pending        int       `json:"pending"`
	Outbox         int       `json:"outbox"`
	Delivered      int       `json:"delivered"`
	SentToIG       int       `json:"sent_to_instagram"`
	Duplicates     int       `json:"duplicates"`
	LastCustomerAt time.Time `json:"last_customer_at,omitzero"`
	NextAgentCheck time.Time `json:"next_agent_check,omitzero"`
	LastSeenMID    string    `json:"last_seen_mid,omitempty"`
	LastSeenAt     time.Time `json:"last_seen_at,omitzero"`
	// ThreadOwner is "us" or the app ID that owns the Instagram thread.
	ThreadOwner string `json:"thread_owner"`
	// RepliesHeld: agent replies wait for thread control.
	RepliesHeld bool `json:"replies_held,omitempty"`
}
