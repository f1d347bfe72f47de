package instagram

import (
	"net/http"
	"strings"
	"time"
)

// DefaultTimeout bounds every Graph call when NewClient is given a nil
// *http.Client. Meta answers in well under a second normally; 15 s leaves
// room for slow media sends without letting a stuck call hold a worker.
const DefaultTimeout = 15 * time.Second

// MaxTextBytes is the Send API limit for message.text. It is counted in
// UTF-8 bytes, not characters (spec §4.2, trap 20); callers split long
// texts before calling Send.
const MaxTextBytes = 1000

// Client calls the Graph API for one Meta app. It is safe for concurrent use.
type Client struct {
	graphURL  string // scheme://host[/prefix], no trailing slash
	version   string // "v23.0"
	appID     string
	appSecret string
	hc        *http.Client
	usage     *usageTracker
	now       func() time.Time // replaced in tests
}

// NewClient returns a Client. graphURL is like "https://graph.facebook.com",
// version like "v23.0". appSecret may be empty, in which case no
// appsecret_proof is sent and DebugToken/OAuth calls will be rejected by Meta.
// A nil hc gets a default client with DefaultTimeout.
func NewClient(graphURL, version, appID, appSecret string, hc *http.Client) *Client {
	if hc == nil {
		hc = &http.Client{Timeout: DefaultTimeout}
	}
	return &Client{
		graphURL:  strings.TrimRight(graphURL, "/"),
		version:   strings.Trim(version, "/"),
		appID:     appID,
		appSecret: appSecret,
		hc:        hc,
		usage:     newUsageTracker(),
		now:       time.Now,
	}
}
