// Package gather reads the facts of a setupguide from the database, for the worker (the
// message it posts) and ingress (the console's overview), so both say the same.
package gather

import (
	"context"
	"strings"
	"time"

	"github.com/igdirect/bridge/setupguide"
	"github.com/igdirect/bridge/store"
)

// Config is what the process knows from its environment.
type Config struct {
	PublicURL, SetupChannel                   string
	MetaAppID, CommandsEnabled, AdminAPIToken bool
	// CommandUsers is how many user ids ROCKETCHAT_COMMAND_USERS lists.
	CommandUsers int
}

// SetupGuideNotice is the admin_notices key that records the first-start guide was posted.
const SetupGuideNotice = "setup-guide"

// Facts reads pages, webhook activity and the first-start notice.
func Facts(ctx context.Context, st *store.Store, cfg Config) (setupguide.Facts, error) {
	f := setupguide.Facts{PublicURL: cfg.PublicURL, SetupChannel: strings.TrimPrefix(cfg.SetupChannel, "#"),
		MetaAppID: cfg.MetaAppID, CommandsEnabled: cfg.CommandsEnabled, AdminAPIToken: cfg.AdminAPIToken, CommandUsers: cfg.CommandUsers}
	pages, err := st.Pages(ctx)
	if err != nil {
		return f, err
	}
	for _, p := range pages {
		name := p.IGUsername
		if name == "" {
			name = p.PageID
		}
		switch {
		case !p.HasToken:
			f.Removed++
			continue
		case p.NeedsReauth:
			f.NeedsReauth = append(f.NeedsReauth, name)
		}
		if !p.Subscribed {
			f.Unsubscribed = append(f.Unsubscribed, name)
		}
		f.Connected = append(f.Connected, name)
	}
	acts, err := st.WebhookActivity(ctx)
	if err != nil {
		return f, err
	}
	for _, a := range acts {
		refused := strings.HasPrefix(a.Kind, store.RefusedPrefix)
		var last *time.Time
		switch {
		case a.Source == store.SourceInstagram && refused:
			last = &f.MetaRefusedLast
		case a.Source == store.SourceInstagram:
			last = &f.MetaLast
		case a.Source == store.SourceRocketChat && refused:
			last = &f.RocketChatRefusedLast
		case a.Source == store.SourceRocketChat:
			last = &f.RocketChatLast
		case a.Source == store.SourceCommand && refused:
			last = &f.CommandRefusedLast
		case a.Source == store.SourceCommand:
			last = &f.CommandLast
		default:
			continue
		}
		if a.LastAt.After(*last) {
			*last = a.LastAt
		}
	}
	f.GuidePosted, err = st.NoticePosted(ctx, SetupGuideNotice)
	return f, err
}
